import time


@custom
def sleepy(*args, **kwargs):
    time.sleep(5)
    return 'woke up'
