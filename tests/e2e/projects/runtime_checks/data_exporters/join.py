@data_exporter
def join(left, right):
    return [left, right]
