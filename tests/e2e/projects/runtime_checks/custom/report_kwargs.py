import os


@custom
def report(**kwargs):
    names = ['threshold', 'label', 'extra', 'env', 'ds', 'hr', 'pipeline_uuid', 'block_uuid', 'configuration',
             'context', 'event', 'retry', 'trigger_name']
    report = {name: kwargs.get(name) for name in names}
    report['execution_date'] = kwargs['execution_date'].isoformat()
    report['repo_path'] = kwargs['repo_path']
    report['has_logger'] = hasattr(kwargs['logger'], 'info')
    report['cwd'] = os.getcwd()
    return report
