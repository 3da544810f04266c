"""Static checks of a project: graph and block code, by parsing only (never executing)."""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.util
import keyword
import sys
from pathlib import Path

from .block_checks import arity_problem, block_code_text, imported_modules
from .capabilities import shim_serves
from .dbt import dbt_problems
from .errors import Diagnostic, ProjectError, did_you_mean, has_errors
from .graph import dynamic_children, find_cycle
from .loader import ProjectReader
from .models import RUNNABLE_TYPES, Block, Chart, Pipeline, Project
from .parameters import RESERVED_NAMES
from .sql_checks import check_sql_block

# The decorator that marks the function Mage runs, per block type (callbacks accept several).
MAIN_DECORATORS = {"conditional": ("condition",), "callback": ("callback", "on_success", "on_failure", "on_cancelled")}


def check_project(
    root: str | Path, pipeline: str | None = None, near: Path | None = None
) -> tuple[Project | None, list[Diagnostic]]:
    """Read and statically check a project, or one pipeline of it: its key, or its Mage uuid (one
    that several sub-projects hold is the one in the sub-project `near`, as Mage looks in its active
    project first). Returns every diagnostic that concerns it."""
    reading = ProjectReader(Path(root), pipeline, near).read()
    project = reading.project
    if project is None:
        return None, reading.diagnostics()
    if pipeline is None:
        wanted = list(project.pipelines.values())
        diagnostics = reading.diagnostics()
    else:
        try:
            key = reading.key_of(pipeline, near)
        except LookupError as exc:
            return project, reading.everywhere + [
                Diagnostic(
                    file=project.root / "pipelines" / pipeline / "metadata.yaml",
                    message=str(exc).split("; ")[0],
                    hint=str(exc).split("; ")[1] if "; " in str(exc) else "list the folders under pipelines/",
                )
            ]
        wanted = [project.pipelines[key]] if key in project.pipelines else []  # else: it does not read
        diagnostics = reading.diagnostics(key)
    for item in wanted:
        diagnostics.extend(check_pipeline(item, project.root))
    return project, diagnostics + _flow_name_clashes(project, wanted)


def _flow_name_clashes(project: Project, wanted: list[Pipeline]) -> list[Diagnostic]:
    """Pipelines that would be one Prefect flow (`a&b` and `a-b` are both flow `a-b`)."""
    problems = []
    for pipeline in wanted:
        others = [p.key for p in project.pipelines.values() if p.flow_name == pipeline.flow_name and p is not pipeline]
        if others:
            problems.append(
                Diagnostic(
                    file=pipeline.source.file,
                    message=f"pipeline '{pipeline.key}' and "
                    f"{', '.join(repr(o) for o in others)} would both be the Prefect flow "
                    f"'{pipeline.flow_name}'",
                    hint="rename one of the pipeline folders (Prefect names cannot hold / % & < >, which become -)",
                )
            )
    return problems


def load_project(root: str | Path, pipeline: str | None = None, near: Path | None = None) -> Project:
    """Read a project (see check_project), raising ProjectError (with every diagnostic) when it has
    errors."""
    project, diagnostics = check_project(root, pipeline, near)
    if project is None or has_errors(diagnostics):
        raise ProjectError([d for d in diagnostics if d.severity == "error"])
    return project


def check_pipeline(pipeline: Pipeline, root: Path | None = None) -> list[Diagnostic]:
    """The pipeline's graph, variables and block code; `root` is the project's root folder."""
    diagnostics = []
    cycle = find_cycle(pipeline)
    if cycle:
        block = pipeline.block(cycle[0])
        diagnostics.append(
            Diagnostic(
                file=block.source.file,
                line=block.source.line,
                column=block.source.column,
                key_path=f"{block.source.key_path}.upstream_blocks",
                message=f"dependency cycle: {' -> '.join(reversed(cycle))}",
                hint="remove one of these upstream_blocks entries",
            )
        )
    for name in pipeline.variables:
        if not str(name).isidentifier() or keyword.iskeyword(str(name)) or name in RESERVED_NAMES:
            diagnostics.append(
                Diagnostic(
                    file=pipeline.source.file,
                    key_path=f"variables.{name}",
                    message=f"variable name '{name}' cannot be a flow parameter",
                    hint="use a Python identifier that is not one of " + ", ".join(RESERVED_NAMES),
                )
            )
    children = set() if cycle else dynamic_children(pipeline)
    for block in pipeline.blocks:
        if block.dynamic and block.uuid in children:
            diagnostics.append(
                _at(
                    block,
                    "configuration.dynamic",
                    f"block '{block.uuid}' is both a dynamic parent and a dynamic child; "
                    "mage-prefect does not support nested dynamic blocks yet",
                    "set reduce_output: true on the dynamic child above it, or remove dynamic: true",
                )
            )
    diagnostics += _unknown_chart_upstreams(pipeline)
    folders = _project_folders(pipeline, root)
    for block in (*pipeline.blocks, *pipeline.callbacks, *pipeline.conditionals):
        if block.type != "global_data_product" and block.language == "python":
            diagnostics.extend(check_block_code(block, folders))
    for block in pipeline.blocks:  # SQL add-ons are refused by the loader
        if block.type == "dbt":
            diagnostics.extend(_dbt_diagnostics(block, root) if root is not None else [])
        elif block.language == "sql":
            diagnostics.extend(check_sql_block(block, block.source.key_path, pipeline, children))
    return diagnostics


def _at(item: Block | Chart, key: str, message: str, hint: str, severity: str = "error") -> Diagnostic:
    """A diagnostic at the key `key` of a block's (or chart's) entry in metadata.yaml."""
    where = item.source
    key_path = f"{where.key_path}.{key}"
    return Diagnostic(
        file=where.file,
        line=where.line,
        column=where.column,
        key_path=key_path,
        message=message,
        hint=hint,
        severity=severity,
    )


def _dbt_diagnostics(block: Block, root: Path) -> list[Diagnostic]:
    return [_at(block, key, message, hint) for key, message, hint in dbt_problems(block, root)]


def _unknown_chart_upstreams(pipeline: Pipeline) -> list[Diagnostic]:
    """A chart is drawn from its first upstream block's output: one the pipeline lacks draws nothing."""
    blocks = {block.uuid for block in pipeline.blocks}
    return [
        _at(
            chart,
            "upstream_blocks",
            f"chart '{chart.uuid}' names unknown upstream block '{name}'; it is not drawn",
            did_you_mean(name, blocks) or "name a block of this pipeline",
            severity="warning",
        )
        for chart in pipeline.charts
        for name in chart.upstream_blocks
        if name not in blocks
    ]


def check_block_code(block: Block, folders: tuple[Path, ...] = ()) -> list[Diagnostic]:
    """Parse the block's code: syntax, the block-type decorator, Mage's arity rule, and imports of
    modules that only the project `folders` hold."""
    code = block_code_text(block)
    if not isinstance(code, tuple):
        return [code] if code is not None else []
    source, file = code
    try:
        tree = ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        return [
            Diagnostic(
                file=file,
                line=exc.lineno,
                column=exc.offset,
                message=f"syntax error: {exc.msg}",
                hint=f"fix the code of block '{block.uuid}'",
            )
        ]
    nodes = list(ast.walk(tree))  # once: walking is most of the check's time
    imports = [node for node in nodes if isinstance(node, (ast.Import, ast.ImportFrom))]
    problems = _unavailable_mage_imports(imports, file, block) + _project_only_imports(imports, file, block, folders)
    functions = [node for node in nodes if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    wanted = set(MAIN_DECORATORS.get(block.type, (block.type,)))
    decorated = [fn for fn in functions if wanted & _decorator_names(fn)]
    if not decorated:
        misdecorated = [fn for fn in functions if _decorator_names(fn) & set(RUNNABLE_TYPES)]
        where = min(misdecorated, key=lambda fn: fn.lineno) if misdecorated else None
        hint = (
            f"found @{sorted(_decorator_names(where) & set(RUNNABLE_TYPES))[0]}, but a {block.type} block "
            f"runs only its @{block.type} function"
            if where
            else f"decorate the block's function with @{block.type}"
        )
        return problems + [
            Diagnostic(
                file=file,
                line=where.lineno if where else 1,
                column=where.col_offset + 1 if where else 1,
                hint=hint,
                message=f"block '{block.uuid}' has no function decorated with @{block.type}",
            )
        ]
    if block.type not in RUNNABLE_TYPES:
        return problems  # sensors, conditionals and callbacks take their arguments flexibly
    function = sorted(decorated, key=lambda fn: fn.lineno)[0]
    positional = len(function.args.posonlyargs) + len(function.args.args)
    problem = arity_problem(block.uuid, positional, function.args.vararg is not None, len(block.upstream_blocks))
    if problem:
        problems.append(
            Diagnostic(
                file=file,
                line=function.lineno,
                column=function.col_offset + 1,
                message=problem,
                hint="match the function's parameters to upstream_blocks, or add *args",
            )
        )
    return problems


def _unavailable_mage_imports(imports: list[ast.AST], file: Path, block: Block) -> list[Diagnostic]:
    """`mage_ai` imports the compatibility shim cannot serve (only when mage-ai is not installed)."""
    if _mage_ai_installed(tuple(sys.path)):
        return []  # the real mage-ai is installed and serves every import
    problems = []
    for node in imports:
        for module in imported_modules(node):
            if (module == "mage_ai" or module.startswith("mage_ai.")) and not shim_serves(module):
                problems.append(
                    Diagnostic(
                        file=file,
                        line=node.lineno,
                        column=node.col_offset + 1,
                        message=f"block '{block.uuid}' imports '{module}', which mage-prefect's mage_ai shim does not "
                        "provide",
                        hint="install mage-ai next to mage-prefect, or use a supported helper (see the README)",
                    )
                )
    return problems


@functools.cache
def _mage_ai_installed(path: tuple[str, ...]) -> bool:
    return importlib.machinery.PathFinder.find_spec("mage_ai", list(path)) is not None


def _project_folders(pipeline: Pipeline, root: Path | None) -> tuple[Path, ...]:
    """The folders of the project a pipeline belongs to: its (sub-)project and the root project."""
    return tuple(dict.fromkeys(folder for folder in (pipeline.repo_path, root) if folder is not None))


def _project_only_imports(
    imports: list[ast.AST], file: Path, block: Block, folders: tuple[Path, ...]
) -> list[Diagnostic]:
    """Top-level imports (`import utils`) of a module that exists inside a project folder and nowhere
    else on sys.path: Mage puts only the folder *holding* the project on sys.path, so they work only
    where the user's own setup adds the project folder to PYTHONPATH."""
    problems = []
    for node in imports:
        for top in {name.split(".")[0] for name in imported_modules(node)}:
            inside = next((folder for folder in folders if _holds_module(folder, top)), None)
            if inside is None or _importable_outside(top, folders):
                continue
            holding = folders[-1].parent  # the folder holding the root project
            qualified = ".".join((*inside.relative_to(holding).parts, top))
            problems.append(
                Diagnostic(
                    file=file,
                    line=node.lineno,
                    column=node.col_offset + 1,
                    severity="warning",
                    message=f"block '{block.uuid}' imports '{top}', which exists only inside the project folder "
                    f"{inside}; like Mage, mage-prefect puts only the folder holding the project ({holding}) "
                    "on sys.path, so the import fails unless PYTHONPATH includes the project folder",
                    hint=f"import it as '{qualified}' (as Mage's own templates do), or add {inside} to PYTHONPATH "
                    "wherever the pipeline runs",
                )
            )
    return problems


def _holds_module(folder: Path, name: str) -> bool:
    return (folder / name).is_dir() or (folder / f"{name}.py").is_file()


def _importable_outside(name: str, folders: tuple[Path, ...]) -> bool:
    """Whether `name` is importable from a sys.path entry that is not one of the project `folders`."""
    if name in sys.builtin_module_names:
        return True
    resolved = {folder.resolve() for folder in folders}
    paths = [entry for entry in sys.path if entry and Path(entry).resolve() not in resolved]
    return importlib.machinery.PathFinder.find_spec(name, paths) is not None


def _decorator_names(function: ast.AST) -> set[str]:
    names = set()
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names
