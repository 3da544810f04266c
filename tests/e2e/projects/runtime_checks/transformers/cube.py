@transformer
def cube(number, *args, **kwargs):
    return number ** 3
