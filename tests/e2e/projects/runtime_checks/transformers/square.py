@transformer
def square(number, *args, **kwargs):
    return {'square': number ** 2, 'index': kwargs['dynamic_block_index'], 'name': kwargs['block_uuid']}
