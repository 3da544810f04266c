@transformer
def explode(values, *args, **kwargs):
    total = sum(values)
    return total / 0
