import os

from mage_ai.settings.repo import get_repo_path

if 'callback' not in globals():
    from mage_ai.data_preparation.decorators import callback


def _record(name, text):
    folder = os.path.join(get_repo_path(), 'callback_log')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), 'w') as file:
        file.write(text)


@callback('success')
def on_success(parent_output, **kwargs):
    _record(f"{kwargs['parent_block_uuid']}.success", repr(parent_output))


@callback('failure')
def on_failure(*args, **kwargs):
    _record(f"{kwargs['parent_block_uuid']}.failure", type(kwargs['__error']).__name__)
    raise RuntimeError('errors in callbacks are logged and swallowed')


@callback('cancelled')
def on_cancelled(**kwargs):
    _record(f"{kwargs['parent_block_uuid']}.cancelled", kwargs['block_uuid'])


@callback('failure')
def failure_template(parent_block_data, **kwargs):  # Mage's callback template signature
    _record(f"{kwargs['parent_block_uuid']}.failure_template", repr(parent_block_data))
