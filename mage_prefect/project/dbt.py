"""dbt blocks (`type: dbt`): where their dbt project is, as Mage 0.9.80 finds it, without running dbt.

A SQL dbt block is one model file (`configuration.file_path`, relative to the project); its dbt
project is the nearest folder above it holding `dbt_project.yml`. A YAML dbt block is a dbt command
(`configuration.dbt.command`, default `run`) whose file holds its arguments; its project is
`configuration.dbt_project_name` (a folder of the project, or of its `dbt/` folder). Either way the
project's `profiles.yml` is in that folder, as Mage requires.
"""

from __future__ import annotations

from pathlib import Path

from .models import Block

PROJECT_FILES = ("dbt_project.yml", "dbt_project.yaml")


def _holding_project(start: Path, root: Path) -> Path | None:
    """`start` or the nearest folder above it, up to `root`, that holds a dbt_project.yml."""
    for folder in (start, *start.parents):
        if any((folder / name).is_file() for name in PROJECT_FILES):
            return folder
        if folder == root:
            return None
    return None


def dbt_project_dir(block: Block, root: Path) -> Path | None:
    """The dbt project a dbt block runs in (None: none found)."""
    root = root.resolve()
    if block.language != "yaml":
        return _holding_project(block.file.resolve().parent, root) if block.file else None
    name = str(block.configuration.get("dbt_project_name") or "")
    for folder in (root / name, root / "dbt" / name) if name else ():
        if folder.resolve().is_dir() and folder.resolve().is_relative_to(root):
            found = _holding_project(folder.resolve(), root)
            if found is not None:
                return found
    return None


def dbt_command(block: Block) -> str:
    """A YAML block's dbt command; a SQL block runs `build` (`run` with `dbt.disable_tests`)."""
    settings = block.configuration.get("dbt") or {}
    if block.language == "yaml":
        return str(settings.get("command") or "run")
    return "run" if settings.get("disable_tests") else "build"


def dbt_problems(block: Block, root: Path) -> list[tuple[str, str, str]]:
    """What stops the block from running: (key, message, hint) triples (none for a SQL block
    without a model file: the loader reports that)."""
    if block.language != "yaml" and block.file is None:
        return []
    project = dbt_project_dir(block, root)
    if project is None:
        if block.language == "yaml":
            name = block.configuration.get("dbt_project_name")
            return [
                (
                    "configuration.dbt_project_name",
                    f"dbt block '{block.uuid}': no dbt project {name!r} (a folder with dbt_project.yml)"
                    if name
                    else f"dbt block '{block.uuid}' names no dbt project",
                    "set configuration.dbt_project_name to the dbt project's folder, e.g. dbt/demo",
                )
            ]
        return [
            (
                "configuration.file_path",
                f"dbt block '{block.uuid}': no dbt_project.yml above its model file {block.file}",
                "keep the model inside a dbt project (a folder with dbt_project.yml) within the Mage project",
            )
        ]
    if not (project / "profiles.yml").is_file():
        return [
            (
                "configuration",
                f"dbt block '{block.uuid}': its dbt project {project} has no profiles.yml",
                "Mage reads the profiles from profiles.yml beside dbt_project.yml: put it there",
            )
        ]
    return []
