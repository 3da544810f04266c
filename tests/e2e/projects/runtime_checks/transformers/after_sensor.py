@transformer
def after(sensor_output, *args, **kwargs):
    return {'sensor_output': sensor_output}
