@transformer
def opened(values, *args, **kwargs):
    return len(values)
