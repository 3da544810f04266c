import os


@on_success
def legacy_success(**kwargs):
    with open(os.path.join(kwargs['repo_path'], 'callback_log', 'good.legacy_success'), 'w') as file:
        file.write(kwargs['block_uuid'])
