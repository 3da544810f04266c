@custom
def fails(auth, *args, **kwargs):
    raise PermissionError(f"refused: {auth['header']}")
