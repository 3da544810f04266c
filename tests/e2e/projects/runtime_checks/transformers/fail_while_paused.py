from runtime_checks.utils.sync import PAUSE


@transformer
def fail_while_paused(values, *args, **kwargs):
    PAUSE.wait()  # `pause` has started
    raise ValueError('failed while pause was running')
