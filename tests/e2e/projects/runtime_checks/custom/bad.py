@custom
def bad(*args, **kwargs):
    raise ValueError('bad block')
