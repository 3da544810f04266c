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
from .contract import IGNORED_UNITS, OUTDATED_UNITS, MagePrefectSettings, PlatformSettings, ProjectMetadata
from .entries import checked
from .errors import Diagnostic, NotFound, did_you_mean
from .models import GlobalDataProduct, Pipeline, Project, clean_name, product_location
from .notification_config import read_notification_config
from .pipelines import PipelineReader, Repo
from .references import with_references
from .settings import with_environment
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
    keys: dict[tuple[Path, str], str] = field(default_factory=dict)  # ((sub-)project, uuid) → pipeline key

    def key_of(self, name: str, near: Path | None = None) -> str:
        """The key of the pipeline `name` (a key, or a Mage uuid), readable or not: a uuid several
        sub-projects hold is the one in the sub-project `near`, else ambiguous (NotFound)."""
        if name in self.of_pipeline or name in self.keys.values():
            return name
        found = {repo: key for (repo, uuid), key in self.keys.items() if uuid == name}
        if near in found or len(found) == 1:
            return found.get(near) or next(iter(found.values()))
        if found:
            raise NotFound(
                f"pipeline '{name}' is in several sub-projects: name one of "
                f"{', '.join(sorted(found.values()))}; name it <sub-project>/<uuid>"
            )
        hint = did_you_mean(name, {*self.of_pipeline, *self.keys.values()}) or "list the folders under pipelines/"
        raise NotFound(f"no pipeline '{name}' in this project; {hint}")

    def diagnostics(self, pipeline: str | None = None) -> list[Diagnostic]:
        """Every diagnostic, or those that concern `pipeline` (a key); each once (a sub-project's or a
        product's problems concern several pipelines)."""
        found = self.everywhere + (
            self.of_pipeline.get(pipeline, [])
            if pipeline is not None
            else [*(d for ds in self.of_pipeline.values() for d in ds), *self.unused]
        )
        return list({id(diagnostic): diagnostic for diagnostic in found}.values())


@dataclass
class _SubProject:
    name: str
    path: Path
    problems: list[Diagnostic] = field(default_factory=list)
    retry_config: dict = field(default_factory=dict)
    notification_config: dict = field(default_factory=dict)


class ProjectReader:
    """Reads one project root (a standalone project or a multi-project platform)."""

    def __init__(self, root: Path, only: str | None = None, near: Path | None = None):
        """`only`: read just that pipeline (a key or a Mage uuid; see Reading.key_of for `near`)
        and the pipelines of the global data products it uses, not every pipeline."""
        self.root = root.resolve()
        self.reading = Reading(project=None)
        self.only, self.near = only, near
        self._product_files: dict[Path, tuple] = {}

    def read(self) -> Reading:
        everywhere = self.reading.everywhere
        if not any(path.exists() for path in (self.root / METADATA, self.root / SETTINGS, self.root / "pipelines")):
            everywhere.append(
                Diagnostic(
                    file=self.root / METADATA,
                    message="not a Mage project: no metadata.yaml, settings.yaml or pipelines/ folder here",
                    hint="point at the folder that holds the project's metadata.yaml",
                )
            )
            return self.reading
        root_metadata, root_doc = self._metadata(self.root, everywhere, root=True)
        platform = (self.root / SETTINGS).is_file()
        if platform:
            subs = self._sub_projects(everywhere)
        else:
            subs = [_SubProject(self.root.name, self.root)]
            subs[0].retry_config, subs[0].notification_config = self._inherited(root_metadata, root_doc, everywhere)
        pipelines = self._pipelines(subs, PipelineReader(BlockFiles(self.root), platform))
        self.reading.unused += [d for sub in subs if not _pipeline_folders(sub.path) for d in sub.problems]
        self.reading.project = Project(
            root=self.root,
            name=self.root.name,
            platform=platform,
            sub_projects={sub.name: sub.path for sub in subs} if platform else {},
            pipelines=pipelines,
            global_data_products=self._products(subs, pipelines),
            settings=self._settings(root_metadata, root_doc),
            retention_period=root_metadata.variables_retention_period if root_metadata else None,
        )
        return self.reading

    def _sub_projects(self, into: list[Diagnostic]) -> list[_SubProject]:
        """The platform's sub-projects, each with what its metadata.yaml hands its pipelines."""
        subs = self._platform(into)
        for sub in subs:
            metadata, doc = self._metadata(sub.path, sub.problems)
            sub.retry_config, sub.notification_config = self._inherited(metadata, doc, sub.problems)
            if doc is not None and isinstance(doc.data, dict) and "mage_prefect" in doc.data:
                sub.problems.append(
                    doc.diagnostic(
                        ("mage_prefect",),
                        "only the root project's mage_prefect section is read",
                        f"move it to {self.root / METADATA}",
                        severity="warning",
                    )
                )
        return subs

    def _pipelines(self, subs: list[_SubProject], reader: PipelineReader) -> dict[str, Pipeline]:
        """Every pipeline that reads, by key: its uuid, or `<sub-project>/<uuid>` where several
        sub-projects hold that uuid."""
        folders = [(sub, folder) for sub in subs for folder in _pipeline_folders(sub.path)]
        uuids = [folder.name for _, folder in folders]
        keys = self.reading.keys
        for sub, folder in folders:
            keys[sub.path, folder.name] = f"{sub.name}/{folder.name}" if uuids.count(folder.name) > 1 else folder.name
        pipelines: dict[str, Pipeline] = {}
        to_read = list(folders) if self.only is None else self._wanted(folders)
        while to_read:
            sub, folder = to_read.pop(0)
            key = keys[sub.path, folder.name]
            if key in self.reading.of_pipeline:
                continue
            problems = self.reading.of_pipeline.setdefault(key, list(sub.problems))
            repo = Repo(sub.path, sub.retry_config, sub.notification_config)
            pipeline = reader.read(folder.name, key, folder / METADATA, repo, problems)
            if pipeline is not None:
                pipelines[key] = pipeline
                if self.only is not None:
                    to_read += self._product_sources(pipeline, subs, folders)
        return pipelines

    def _wanted(self, folders: list[tuple[_SubProject, Path]]) -> list[tuple[_SubProject, Path]]:
        try:
            key = self.reading.key_of(self.only, self.near)
        except NotFound:
            return []  # check_project reports it
        return [(sub, folder) for sub, folder in folders if self.reading.keys[sub.path, folder.name] == key]

    def _product_sources(self, pipeline: Pipeline, subs: list[_SubProject], folders) -> list:
        """The pipeline folders of the products the pipeline's blocks use."""
        locations = {sub.name: sub.path for sub in subs}
        sources = []
        for block in pipeline.blocks:
            reference = _product_reference(block)
            if reference is None:
                continue
            repo = product_location(reference, pipeline.repo_path, locations)
            product = next((p for p in self._product_file(repo)[0] if p.uuid == reference["uuid"]), None)
            if product is not None:
                sources += [(s, f) for s, f in folders if (s.path, f.name) == (repo, product.object_uuid)]
        return sources

    def _settings(self, metadata: ProjectMetadata | None, doc: YamlDocument | None) -> MagePrefectSettings:
        """The root project's mage_prefect section, with the environment's overrides."""
        settings = metadata.mage_prefect if metadata else MagePrefectSettings()
        if unset_results(settings.results):
            self.reading.everywhere.append(
                doc.diagnostic(
                    ("mage_prefect", "results"),
                    f"mage_prefect.results renders as "
                    f"{settings.results!r} here (an unset env_var()?); a run refuses it",
                    "set the environment variable it reads where pipelines run",
                    severity="warning",
                )
            )
        return with_environment(settings, self.root / METADATA, self.reading.everywhere)

    # -- project level ---------------------------------------------------------------------------
    def _metadata(
        self, repo: Path, into: list[Diagnostic], root: bool = False
    ) -> tuple[ProjectMetadata | None, YamlDocument | None]:
        """A (sub-)project's metadata.yaml, rendered with Jinja as Mage renders it, and its document;
        absent or empty, every default (Mage runs such a project)."""
        path = repo / METADATA
        if not path.is_file():
            return ProjectMetadata(), None
        doc = read_document(path, into, render=templating.render, root_metadata=root)
        if doc is None:
            return None, None
        if doc.data is not None and not isinstance(doc.data, dict):
            into.append(
                doc.diagnostic(
                    (),
                    f"the project's metadata.yaml must be a mapping, not a {type(doc.data).__name__}",
                    "write one 'key: value' per line",
                )
            )
            return None, doc
        if root:
            with_references(path, doc.data or {}, doc, into)
        return checked(ProjectMetadata, doc.data or {}, doc, (), into), doc

    @staticmethod
    def _inherited(
        metadata: ProjectMetadata | None, doc: YamlDocument | None, into: list[Diagnostic]
    ) -> tuple[dict, dict]:
        """The retry_config and notification_config a (sub-)project's pipelines inherit (checked)."""
        if metadata is None or doc is None:
            return {}, {}
        notifications = read_notification_config(doc, (doc.data or {}).get("notification_config"), into)
        return (metadata.retry_config.given() if metadata.retry_config else {}), notifications

    def _platform(self, into: list[Diagnostic]) -> list[_SubProject]:
        """Mage's multi-project platform: active iff `<root>/settings.yaml` exists. Its projects are
        those listed (unless `is_project: false`) and every top-level folder holding a metadata.yaml."""
        doc = read_document(self.root / SETTINGS, into, render=templating.render)
        settings = checked(PlatformSettings, doc.data or {}, doc, (), into) if doc is not None else None
        listed = settings.projects if settings is not None else {}
        subs: dict[str, _SubProject] = {}
        excluded = {
            (self.root / (entry.path or name)).resolve() for name, entry in listed.items() if entry.is_project is False
        }
        for name, entry in listed.items():
            if entry.is_project is False:
                continue
            path = (self.root / (entry.path or name)).resolve()
            if not path.is_relative_to(self.root):
                into.append(
                    doc.diagnostic(
                        ("projects", name, "path"),
                        f"sub-project '{name}' is at {path}, outside the platform {self.root}",
                        "keep sub-projects inside the platform root",
                    )
                )
            elif path.is_dir():
                subs[name] = _SubProject(name, path)
            else:
                into.append(
                    doc.diagnostic(
                        ("projects", name),
                        f"sub-project '{name}' does not exist at {path}",
                        "remove it from settings.yaml or create the folder",
                        severity="warning",
                    )
                )
        known = {sub.path for sub in subs.values()} | excluded
        for folder in sorted(self.root.iterdir()):
            if (
                folder.is_dir()
                and not folder.name.startswith(".")
                and (folder / METADATA).is_file()
                and folder.resolve() not in known
                and folder.name not in listed
            ):
                subs[folder.name] = _SubProject(folder.name, folder.resolve())
        if _pipeline_folders(self.root):
            into.append(
                Diagnostic(
                    file=self.root / "pipelines",
                    message="the root project's own pipelines/ are not "
                    "part of the platform: Mage sees only its sub-projects' pipelines, and so does "
                    "mage-prefect",
                    hint="move them into a sub-project",
                    severity="warning",
                )
            )
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
        locations = {sub.name: sub.path for sub in subs}
        for key, pipeline in pipelines.items():
            uses: set[tuple[Path, str]] = set()
            for block in pipeline.blocks:
                reference = _product_reference(block)
                if reference is None:
                    continue  # pipelines.py reports a GDP block that names no product
                into, where = (
                    self.reading.of_pipeline[key],
                    dict(file=block.source.file, line=block.source.line, column=block.source.column),
                )
                if reference.get("project") and reference["project"] not in locations:
                    into.append(
                        Diagnostic(
                            **where,
                            message=f"block '{block.uuid}' takes its product from sub-project "
                            f"'{reference['project']}', which the platform does not have",
                            hint=f"name one of {', '.join(locations)} in global_data_product.project",
                        )
                    )
                    continue
                wanted = (product_location(reference, pipeline.repo_path, locations), reference["uuid"])
                if wanted in uses:
                    continue
                uses.add(wanted)
                into += file_problems.get(wanted[0], []) + problems.get(wanted, [])
                product = next((p for p in products if (p.defined_in, p.uuid) == wanted), None)
                if product is None and wanted not in problems:
                    into.append(
                        Diagnostic(
                            **where,
                            message=f"block '{block.uuid}' uses global data product "
                            f"'{wanted[1]}', which {wanted[0] / PRODUCTS} does not define",
                            hint="add it to global_data_products.yaml (Mage stores product uuids "
                            "cleaned: lowercase, '_' for other characters)",
                        )
                    )
                elif product is not None:
                    into += self._source_problems(product, block, where)
            used |= uses
        unused = [d for wanted, listed in problems.items() if wanted not in used for d in listed] + [
            d
            for repo, listed in file_problems.items()
            if all(repo != used_repo for used_repo, _ in used)
            for d in listed
        ]
        self.reading.unused += [replace(d, severity="warning") for d in unused]
        return tuple(products)

    def _source_problems(self, product: GlobalDataProduct, block, where: dict) -> list[Diagnostic]:
        """The product's pipeline must be in the product's own (sub-)project, as Mage looks it up, and
        its errors concern every pipeline that uses the product (a stale product runs it)."""
        source = self.reading.keys.get((product.defined_in, product.object_uuid))
        if source is None:
            return [
                Diagnostic(
                    **where,
                    message=f"global data product '{product.uuid}' of block '{block.uuid}' names "
                    f"pipeline '{product.object_uuid}', which {product.defined_in} does not hold",
                    hint="set object_uuid to a pipeline of the product's own (sub-)project",
                )
            ]
        return [d for d in self.reading.of_pipeline.get(source, []) if d.severity == "error"]

    def _product_file(
        self, repo: Path
    ) -> tuple[list[GlobalDataProduct], list[Diagnostic], dict[str, list[Diagnostic]]]:
        """The products of one global_data_products.yaml, its file-level problems, and each product's."""
        if repo not in self._product_files:
            self._product_files[repo] = self._read_product_file(repo)
        return self._product_files[repo]

    def _read_product_file(
        self, repo: Path
    ) -> tuple[list[GlobalDataProduct], list[Diagnostic], dict[str, list[Diagnostic]]]:
        path = repo / PRODUCTS
        file_problems: list[Diagnostic] = []
        if not path.is_file():
            return [], file_problems, {}
        doc = read_document(path, file_problems)
        if doc is None or doc.data is None:
            return [], file_problems, {}
        if not isinstance(doc.data, dict):
            file_problems.append(
                doc.diagnostic(
                    (),
                    "global_data_products.yaml must map product uuids to products",
                    "write 'product_uuid: {object_type: pipeline, object_uuid: ...}'",
                )
            )
            return [], file_problems, {}
        products, problems, names = [], {}, {}
        for name, raw in doc.data.items():
            uuid, listed = clean_name(str(name)), []  # Mage stores product uuids cleaned
            if uuid in names:
                listed.append(
                    doc.diagnostic(
                        (name,),
                        f"global data products '{names[uuid]}' and '{name}' are both "
                        f"'{uuid}' to Mage, which stores product uuids cleaned",
                        "rename one",
                    )
                )
            names.setdefault(uuid, name)
            entry = self._product(doc, repo, name, uuid, raw, listed)
            if entry is not None and not [d for d in listed if d.severity == "error"]:
                products.append(entry)
            if listed:
                problems[uuid] = listed
        return products, file_problems, problems

    @staticmethod
    def _product(
        doc: YamlDocument, repo: Path, name: str, uuid: str, raw, listed: list[Diagnostic]
    ) -> GlobalDataProduct | None:
        """One entry of global_data_products.yaml; its problems go to `listed`."""
        if not isinstance(raw, dict):
            listed.append(
                doc.diagnostic(
                    (name,),
                    f"global data product '{name}' must be a mapping, not {raw!r} "
                    "(Mage then fails every product of this file; mage-prefect this one)",
                    "set object_type: pipeline and object_uuid: <pipeline uuid>",
                )
            )
            return None
        what = f"global data product '{name}'"
        entry = checked(GlobalDataProduct, {**raw, "uuid": uuid, "defined_in": repo}, doc, (name,), listed, what=what)
        if entry is None:
            return None
        ignored = [unit for unit in IGNORED_UNITS if unit in entry.outdated_after]
        if ignored:
            listed.append(
                doc.diagnostic(
                    (name, "outdated_after", ignored[0]),
                    f"Mage 0.9.80 reads only {', '.join(OUTDATED_UNITS)} of outdated_after and ignores "
                    f"{', '.join(ignored)}; mage-prefect does the same",
                    "write the age in seconds or weeks",
                    severity="warning",
                )
            )
        if entry.repo_path is not None:
            listed.append(
                doc.diagnostic(
                    (name, "repo_path"),
                    "a product's repo_path is not read: mage-prefect looks object_uuid up in the product's own "
                    "(sub-)project",
                    "remove repo_path, or move the product there",
                    severity="warning",
                )
            )
        return entry


def _product_reference(block) -> dict | None:
    """A GDP block's `configuration.global_data_product`, when it names a product."""
    reference = block.configuration.get("global_data_product")
    if block.type != "global_data_product" or not isinstance(reference, dict):
        return None
    return reference if isinstance(reference.get("uuid"), str) else None


def unset_results(results: str | None) -> bool:
    """A `results` setting that an unset env_var() rendered ('None', 'None/outputs')."""
    return results is not None and (not results.strip() or "None" in Path(results).parts)


def _pipeline_folders(repo: Path) -> list[Path]:
    folder = repo / "pipelines"
    return sorted(p for p in folder.iterdir() if (p / METADATA).is_file()) if folder.is_dir() else []


def read_project(root: str | Path, pipeline: str | None = None) -> tuple[Project | None, list[Diagnostic]]:
    """Read the project at `root`; returns the model (None if unreadable) and its diagnostics (only
    those that concern `pipeline`, a key, when given)."""
    reading = ProjectReader(Path(root)).read()
    return reading.project, reading.diagnostics(pipeline)
