import numpy as np


@data_loader
def load(**kwargs):
    rng = np.random.default_rng(0)
    x = rng.random((200, 2))
    return [x, x @ np.array([2.0, -1.0]) + 0.5]
