@transformer
def never(value, *args, **kwargs):
    raise RuntimeError('must not run: my upstream failed')
