@transformer
def closed(values, *args, **kwargs):
    raise RuntimeError('must not run: my condition is false')
