@custom
def good(*args, **kwargs):
    return {'status': 'fine'}
