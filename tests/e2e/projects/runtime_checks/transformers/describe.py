@transformer
def describe(squared, *args, **kwargs):
    return f"{squared['name']}={squared['square']}"
