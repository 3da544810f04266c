"""`mage_ai.data_preparation.decorators`: identity decorators, as in Mage outside its runtime."""

from __future__ import annotations


def _identity(*args, **kwargs):
    """`@name` returns the function; `@name(...)` returns a decorator that does."""
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return args[0]
    return lambda function: function


data_loader = transformer = data_exporter = custom = sensor = test = condition = _identity
callback = on_success = on_failure = on_cancelled = extension = preprocesser = _identity
data_source = render = x = y = xy = columns = configuration = _identity
