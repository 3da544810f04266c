"""`mage_ai.settings.repo`: the project paths of the block being run."""

from __future__ import annotations

import os


def get_repo_path(context_data=None, file_path=None, root_project: bool = False, absolute_path: bool = True,
                  user=None) -> str:
    """The (sub-)project folder of the running block, or the root with `root_project=True`."""
    from . import ACTIVE_REPO

    active = ACTIVE_REPO.get()
    if active is None:
        return os.environ.get("MAGE_REPO_PATH") or os.getcwd()
    repo_path, root_path = active
    return str(root_path if root_project else repo_path)
