@data_loader
def load(*args, **kwargs):
    items = [1, 2, 3]
    metadata = [dict(block_uuid='one'), dict(block_uuid='two'), dict(block_uuid='three')]
    return [items, metadata]
