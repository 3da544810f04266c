"""Read a Mage project from disk into the immutable model, collecting diagnostics.

Nothing here runs block code: block files are only located, never opened for execution. What a
problem blocks follows Mage: the root's metadata.yaml and settings.yaml concern every pipeline; a
sub-project's metadata.yaml only its own pipelines; a global data product only the pipelines that
use it (Mage reads a product only then); a pipeline's files only that pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from . import templating
from .block_files import BlockFiles
from .contract import IGNORED_UNITS, OUTDATED_UNITS, PlatformSettings, ProjectMetadata, RetryConfigEntry
from .entries import checked
from .errors import Diagnostic
from .models import GlobalDataProduct, Pipeline, Project, clean_name, product_location
from .notification_config import read_notification_config
from .pipelines import PipelineReader, Repo
from .yamlfile import YamlDocument, read_document

SETTINGS = "settings.yaml"
METADATA = "metadata.yaml"
PRODUCTS = "global_data_products.yaml"


@dataclass
class Reading:
    """What reading a project found: the model, and every diagnostic with what it concerns."""

    project: Project | None
    everywhere: list[Diagnostic] = field(default_factory=list)  # the root's files: every pipeline
    of_pipeline: dict[str, list[Diagnostic]] = field(default_factory=dict)  # pipeline key → its problems
    unused: list[Diagnostic] = field(default_factory=list)  # problems no pipeline meets (unused products,
    # sub-projects without pipelines)

    def diagnostics(self, pipeline: str | None = None) -> list[Diagnostic]:
        """Every diagnostic, or those that concern `pipeline` (a key)."""
        if pipeline is not None:
            return self.everywhere + self.of_pipeline.get(pipeline, [])
        seen: dict[int, Diagnostic] = {}
        for diagnostic in [*self.everywhere, *(d for ds in self.of_pipeline.values() for d in ds), *self.unused]:
            seen.setdefault(id(diagnostic), diagnostic)  # a sub-project's problems concern each of its pipelines
        return list(seen.values())


@dataclass
class _SubProject:
    name: str
    path: Path
    problems: list[Diagnostic] = field(default_factory=list)
    retry_config: dict = field(default_factory=dict)
    notification_config: dict = field(default_factory=dict)


class ProjectReader:
    """Reads one project root (a standalone project or a multi-project platform)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.reading = Reading(project=None)

    def read(self) -> Reading:
        everywhere = self.reading.everywhere
        if not (self.root / METADATA).is_file() and not (self.root / SETTINGS).is_file() \
                and not (self.root / "pipelines").is_dir():
            everywhere.append(Diagnostic(file=self.root / METADATA, message="not a Mage project: no metadata.yaml, "
                                         "settings.yaml or pipelines/ folder here",
                                         hint="point at the folder that holds the project's metadata.yaml"))
            return self.reading
        root_metadata, root_doc = self._metadata(self.root, everywhere, root=True)
        platform = (self.root / SETTINGS).is_file()
        if platform:
            subs = self._platform(everywhere)
            for sub in subs:
                sub.retry_config, sub.notification_config = self._inherited(*self._metadata(sub.path, sub.problems),
                                                                            sub.problems)
        else:
            subs = [_SubProject(self.root.name, self.root)]
            subs[0].retry_config, subs[0].notification_config = self._inherited(root_metadata, root_doc, everywhere)
        folders = [(sub, folder) for sub in subs for folder in _pipeline_folders(sub.path)]
        uuids = [folder.name for _, folder in folders]
        reader = PipelineReader(BlockFiles(self.root), platform)
        pipelines: dict[str, Pipeline] = {}
        for sub, folder in folders:
            key = f"{sub.name}/{folder.name}" if uuids.count(folder.name) > 1 else folder.name
            problems = self.reading.of_pipeline.setdefault(key, list(sub.problems))
            repo = Repo(sub.path, sub.retry_config, sub.notification_config)
            pipeline = reader.read(folder.name, key, folder / METADATA, repo, problems)
            if pipeline is not None:
                pipelines[key] = pipeline
        self.reading.unused += [d for sub in subs if not _pipeline_folders(sub.path) for d in sub.problems]
        products = self._products(subs, pipelines)
        settings = root_metadata.mage_prefect.model_dump(exclude_defaults=True) if root_metadata else {}
        if unset_results(settings.get("results")):
            everywhere.append(root_doc.diagnostic(("mage_prefect", "results"), f"mage_prefect.results renders as "
                              f"{settings['results']!r} here (an unset env_var()?); a run refuses it",
                              "set the environment variable it reads where pipelines run", severity="warning"))
        self.reading.project = Project(root=self.root, name=self.root.name, platform=platform,
                                       sub_projects={sub.name: sub.path for sub in subs} if platform else {},
                                       pipelines=pipelines, global_data_products=products, settings=settings)
        return self.reading

    # -- project level ---------------------------------------------------------------------------
    def _metadata(self, repo: Path, into: list[Diagnostic],
                  root: bool = False) -> tuple[ProjectMetadata | None, YamlDocument | None]:
        """A (sub-)project's metadata.yaml, rendered with Jinja as Mage renders it, and its document;
        absent or empty, every default (Mage runs such a project)."""
        path = repo / METADATA
        if not path.is_file():
            return ProjectMetadata(), None
        doc = read_document(path, into, render=templating.render, root_metadata=root)
        if doc is None:
            return None, None
        if doc.data is not None and not isinstance(doc.data, dict):
            into.append(doc.diagnostic((), f"the project's metadata.yaml must be a mapping, not a "
                                           f"{type(doc.data).__name__}", "write one 'key: value' per line"))
            return None, doc
        return checked(ProjectMetadata, doc.data or {}, doc, (), into), doc

    @staticmethod
    def _inherited(metadata: ProjectMetadata | None, doc: YamlDocument | None,
                   into: list[Diagnostic]) -> tuple[dict, dict]:
        """The retry_config and notification_config a (sub-)project's pipelines inherit (checked)."""
        if metadata is None or doc is None:
            return {}, {}
        notifications = read_notification_config(doc, (doc.data or {}).get("notification_config"), into)
        return _given(metadata.retry_config), notifications

    def _platform(self, into: list[Diagnostic]) -> list[_SubProject]:
        """Mage's multi-project platform: active iff `<root>/settings.yaml` exists. Its projects are
        those listed (unless `is_project: false`) and every top-level folder holding a metadata.yaml."""
        doc = read_document(self.root / SETTINGS, into, render=templating.render)
        settings = checked(PlatformSettings, doc.data or {}, doc, (), into) if doc is not None else None
        listed = settings.projects if settings is not None else {}
        subs: dict[str, _SubProject] = {}
        for name, entry in listed.items():
            if entry.is_project is False:
                continue
            path = (self.root / (entry.path or name)).resolve()
            if not path.is_relative_to(self.root):
                into.append(doc.diagnostic(("projects", name, "path"), f"sub-project '{name}' is at {path}, outside "
                                           f"the platform {self.root}", "keep sub-projects inside the platform root"))
            elif path.is_dir():
                subs[name] = _SubProject(name, path)
            else:
                into.append(doc.diagnostic(("projects", name), f"sub-project '{name}' does not exist at {path}",
                                           "remove it from settings.yaml or create the folder", severity="warning"))
        listed_paths = {sub.path for sub in subs.values()}
        for folder in sorted(self.root.iterdir()):
            if folder.is_dir() and not folder.name.startswith(".") and (folder / METADATA).is_file() \
                    and folder.resolve() not in listed_paths and folder.name not in listed:
                subs[folder.name] = _SubProject(folder.name, folder.resolve())
        return list(subs.values())

    # -- global data products --------------------------------------------------------------------------
    def _products(self, subs: list[_SubProject], pipelines: dict[str, Pipeline]) -> tuple[GlobalDataProduct, ...]:
        """Every product of every (sub-)project. A product's problems (and its file's) concern the
        pipelines with a block that uses it; no pipeline uses it: they are warnings."""
        products: list[GlobalDataProduct] = []
        problems: dict[tuple[Path, str], list[Diagnostic]] = {}
        file_problems: dict[Path, list[Diagnostic]] = {}
        for sub in subs:
            found, file_problems[sub.path], by_product = self._product_file(sub.path)
            products += found
            problems.update({(sub.path, uuid): listed for uuid, listed in by_product.items()})
        used: set[tuple[Path, str]] = set()
        for key, pipeline in pipelines.items():
            for block in pipeline.blocks:
                if block.type != "global_data_product":
                    continue
                reference = block.configuration["global_data_product"]
                repo = product_location(reference, pipeline.repo_path, {sub.name: sub.path for sub in subs})
                wanted = (repo, str(reference["uuid"]))
                used.add(wanted)
                into = self.reading.of_pipeline[key]
                into += file_problems.get(repo, []) + problems.get(wanted, [])
                if wanted not in problems and not any(p.uuid == wanted[1] and p.defined_in == repo for p in products):
                    into.append(Diagnostic(file=block.source.file, line=block.source.line, column=block.source.column,
                                           message=f"block '{block.uuid}' uses global data product '{wanted[1]}', "
                                                   f"which {repo / PRODUCTS} does not define",
                                           hint="add it to global_data_products.yaml (Mage stores product uuids "
                                                "cleaned: lowercase, '_' for other characters)"))
        for (repo, uuid), listed in problems.items():
            if (repo, uuid) not in used:
                self.reading.unused += [replace(d, severity="warning") for d in listed]
        for repo, listed in file_problems.items():
            if not any(used_repo == repo for used_repo, _ in used):
                self.reading.unused += [replace(d, severity="warning") for d in listed]
        return tuple(products)

    def _product_file(self, repo: Path) -> tuple[list[GlobalDataProduct], list[Diagnostic], dict[str, list[Diagnostic]]]:
        """The products of one global_data_products.yaml, its file-level problems, and each product's."""
        path = repo / PRODUCTS
        file_problems: list[Diagnostic] = []
        if not path.is_file():
            return [], file_problems, {}
        doc = read_document(path, file_problems)
        if doc is None or doc.data is None:
            return [], file_problems, {}
        if not isinstance(doc.data, dict):
            file_problems.append(doc.diagnostic((), "global_data_products.yaml must map product uuids to products",
                                                "write 'product_uuid: {object_type: pipeline, object_uuid: ...}'"))
            return [], file_problems, {}
        products, problems = [], {}
        for name, raw in doc.data.items():
            uuid, listed = clean_name(str(name)), []  # Mage stores product uuids cleaned
            if not isinstance(raw, dict):
                listed.append(doc.diagnostic((name,), f"global data product '{name}' must be a mapping, not {raw!r} "
                                             "(Mage then fails every product of this file; mage-prefect this one)",
                                             "set object_type: pipeline and object_uuid: <pipeline uuid>"))
            else:
                entry = checked(GlobalDataProduct, {**raw, "uuid": uuid, "defined_in": repo}, doc, (name,), listed,
                                what=f"global data product '{name}'")
                ignored = [unit for unit in IGNORED_UNITS if unit in (raw.get("outdated_after") or {})]
                if entry is not None and ignored:
                    listed.append(doc.diagnostic((name, "outdated_after", ignored[0]), f"Mage 0.9.80 reads only "
                                                 f"{', '.join(OUTDATED_UNITS)} of outdated_after and ignores "
                                                 f"{', '.join(ignored)}; mage-prefect does the same",
                                                 "write the age in seconds or weeks", severity="warning"))
                if entry is not None:
                    products.append(entry)
            if listed:
                problems[uuid] = listed
        return products, file_problems, problems


def unset_results(results: str | None) -> bool:
    """A `results` setting that an unset env_var() rendered ('None', 'None/outputs')."""
    return results is not None and (not results.strip() or "None" in Path(results).parts)


def _pipeline_folders(repo: Path) -> list[Path]:
    folder = repo / "pipelines"
    return sorted(p for p in folder.iterdir() if (p / METADATA).is_file()) if folder.is_dir() else []


def _given(entry: RetryConfigEntry | None) -> dict:
    return entry.model_dump(exclude_unset=True) if entry is not None else {}


def read_project(root: str | Path, pipeline: str | None = None) -> tuple[Project | None, list[Diagnostic]]:
    """Read the project at `root`; returns the model (None if unreadable) and its diagnostics (only
    those that concern `pipeline`, a key, when given)."""
    reading = ProjectReader(Path(root)).read()
    return reading.project, reading.diagnostics(pipeline)
