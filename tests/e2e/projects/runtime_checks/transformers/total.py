@transformer
def total(cubes, *args, **kwargs):
    return sum(cubes)
