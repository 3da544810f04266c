"""`mage_ai.settings.repo`: the project paths of the block being run."""

from __future__ import annotations

import os


def get_repo_path(
    context_data=None, file_path=None, root_project: bool = False, absolute_path: bool = True, user=None
) -> str:
    """The (sub-)project folder of the running block, or the root with `root_project=True`."""
    from . import ACTIVE

    run = ACTIVE.get()
    if run is None:
        return os.environ.get("MAGE_REPO_PATH") or os.getcwd()
    return str(run.root_path if root_project else run.repo_path)
