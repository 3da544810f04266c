@custom
def broken(**kwargs):
    raise ValueError('broken on purpose')
