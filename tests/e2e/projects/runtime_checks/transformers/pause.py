import time

from runtime_checks.utils.sync import PAUSE


@transformer
def pause(values, *args, **kwargs):
    PAUSE.wait()  # `fail_while_paused` is running too, and fails now
    time.sleep(1.5)  # a block that had started when another failed runs to the end
    return values
