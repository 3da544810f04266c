@transformer
def add_one(values, *args, **kwargs):
    return [[v + 1 for v in values]]
