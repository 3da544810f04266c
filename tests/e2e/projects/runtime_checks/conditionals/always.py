@condition
def evaluate_condition(*args, **kwargs) -> bool:
    return kwargs['parent_block_uuid'] == 'open_gate'
