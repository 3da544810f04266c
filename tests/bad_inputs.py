"""The bad-input corpus: broken Mage projects, generated from one valid project by mutations, each
with the diagnostic it must get. The unit tier checks mage-prefect's verdict on each
(tests/unit/test_bad_inputs.py); the compat tier asks real Mage about the same projects
(tests/compat/test_against_mage.py) and checks that every case mage-prefect refuses while Mage
loads it says why (`stricter`).
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = "metadata.yaml"
PIPELINE = "pipelines/p/metadata.yaml"
TRIGGERS = "pipelines/p/triggers.yaml"
PRODUCTS = "global_data_products.yaml"
IO_CONFIG = "io_config.yaml"
SETTINGS = "settings.yaml"
LOADER = "data_loaders/load.py"
MARKER = "PWNED"  # what a template escaping the sandbox would create

BASE = {
    PROJECT: "project_type: standalone\nretry_config:\n  retries: 0\nmage_prefect: {}\n",
    IO_CONFIG: "version: 0.1.1\ndefault:\n  DUCKDB_DATABASE: warehouse.duckdb\n",
    PIPELINE: (
        "blocks:\n"
        "- uuid: load\n  type: data_loader\n  upstream_blocks: []\n"
        "- uuid: clean\n  type: transformer\n  upstream_blocks: [load]\n"
        "- uuid: summarize\n  type: transformer\n  language: sql\n  upstream_blocks: [clean]\n"
        "  configuration:\n    data_provider: duckdb\n    data_provider_profile: default\n"
        "- uuid: export\n  type: data_exporter\n  upstream_blocks: [clean]\n"
        "variables:\n  factor: 2\n"
    ),
    TRIGGERS: "triggers:\n- name: on_demand\n  schedule_type: api\n  schedule_interval: null\n  start_time: null\n"
    "  status: active\n",
    "pipelines/q/metadata.yaml": (
        "blocks:\n"
        "- uuid: product\n  type: global_data_product\n"
        "  configuration:\n    global_data_product:\n      uuid: p_outputs\n"
        "- uuid: use\n  type: custom\n  upstream_blocks: [product]\n"
    ),
    PRODUCTS: "p_outputs:\n  object_type: pipeline\n  object_uuid: p\n  outdated_after:\n    seconds: 3600\n",
    LOADER: "@data_loader\ndef load(*args, **kwargs):\n    return [1, 2, 3]\n",
    "transformers/clean.py": (
        "@transformer\ndef clean(rows, *args, **kwargs):\n    return [r * kwargs['factor'] for r in rows]\n"
    ),
    "transformers/summarize.sql": "SELECT * FROM {{ df_1 }}\n",
    "data_exporters/export.py": "@data_exporter\ndef export(rows, *args, **kwargs):\n    print(rows)\n",
    "custom/use.py": "@custom\ndef use(product, *args, **kwargs):\n    return product\n",
}
SUB_PROJECT = {**BASE, PROJECT: BASE[PROJECT].replace("mage_prefect: {}\n", "")}  # only the root's section is read
PLATFORM = {  # a multi-project platform: two sub-projects, each a copy of BASE
    SETTINGS: "projects:\n  one: {}\n  two: {}\n",
    PROJECT: "project_type: main\n",
    **{f"one/{name}": text for name, text in SUB_PROJECT.items()},
    **{f"two/{name}": text for name, text in SUB_PROJECT.items()},
}


@dataclass(frozen=True)
class Expect:
    """A diagnostic the case must get: its severity, file, a piece of its message, and its line."""

    severity: str
    file: str
    text: str
    line: int | None = None


@dataclass(frozen=True)
class Case:
    name: str
    changes: dict[str, str | bytes | None]  # file → new content (None: deleted), over `base`
    expect: tuple[Expect, ...] = ()  # empty: the project must have no error at all (an acceptance)
    base: dict[str, str] = field(default_factory=lambda: BASE)
    stricter: str = ""  # why mage-prefect refuses what Mage loads (checked by the compat tier)
    lenient: str = ""  # why mage-prefect accepts what Mage refuses (checked by the compat tier)
    pipeline: str = "p"  # the pipeline the compat tier asks Mage to load
    links: dict[str, str] = field(default_factory=dict)  # file → a file outside the project it links to

    def build(self, folder: Path) -> Path:
        root = folder / "project"
        for name, content in {**self.base, **self.changes}.items():
            if content is None:
                continue
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        for name, target in self.links.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / target).write_text("@data_exporter\ndef export(*args, **kwargs):\n    pass\n")
            (root / name).symlink_to(folder / target)
        return root


def error(file: str, text: str, line: int | None = None) -> Expect:
    return Expect("error", file, text, line)


def warning(file: str, text: str, line: int | None = None) -> Expect:
    return Expect("warning", file, text, line)


def edit(file: str, old: str, new: str, base: dict[str, str] = BASE) -> dict[str, str]:
    assert old in base[file], (file, old)
    return {file: base[file].replace(old, new, 1)}


def block_key(key: str, value: str, uuid: str = "clean") -> dict[str, str]:
    """Set (or add) `key: value` in the block `uuid` of the base pipeline."""
    head = f"- uuid: {uuid}\n"
    start = BASE[PIPELINE].index(head) + len(head)
    end = BASE[PIPELINE].find("\n- ", start)
    lines = [line for line in BASE[PIPELINE][start:end].split("\n") if not line.startswith(f"  {key}:")]
    return {PIPELINE: BASE[PIPELINE][:start] + "\n".join([f"  {key}: {value}", *lines]) + BASE[PIPELINE][end:]}


def pipeline_key(key: str, value: str) -> dict[str, str]:
    return {PIPELINE: BASE[PIPELINE] + f"{key}: {value}\n"}


def trigger_key(key: str, value: str) -> dict[str, str]:
    return {TRIGGERS: BASE[TRIGGERS] + f"  {key}: {value}\n"}


def project_key(key: str, value: str) -> dict[str, str]:
    text = BASE[PROJECT].replace("retry_config:\n  retries: 0\n", "")
    kept = [line for line in text.splitlines(True) if not line.startswith((f"{key}:", "mage_prefect:"))]
    return {PROJECT: "".join(kept) + f"{key}: {value}\n"}


def prefect_key(value: str) -> dict[str, str]:
    return {PROJECT: BASE[PROJECT].replace("mage_prefect: {}", f"mage_prefect: {value}")}


def product_key(key: str, value: str) -> dict[str, str]:
    return {PRODUCTS: BASE[PRODUCTS] + f"  {key}: {value}\n"}


# -- 1. encodings and binary content, in every kind of file ----------------------------------------------
YAML_FILES = {"project": PROJECT, "pipeline": PIPELINE, "triggers": TRIGGERS, "products": PRODUCTS, "io": IO_CONFIG}
CODE_FILES = {"block": LOADER}
ENCODINGS = {
    "invalid_utf8": (lambda text: text.encode()[:9] + b"\xff\xfe\xfa" + text.encode()[9:], "not valid UTF-8"),
    "nul_byte": (lambda text: text.encode()[:5] + b"\x00" + text.encode()[5:], "NUL byte"),
    "utf16": (lambda text: text.encode("utf-16"), "UTF-16"),
    "utf16_no_bom": (lambda text: text.encode("utf-16-le"), "NUL byte"),
    "utf32": (lambda text: text.encode("utf-32"), "UTF-32"),
}
CASES: list[Case] = []
for kind, file in {**YAML_FILES, **CODE_FILES}.items():
    for name, (encode, text) in ENCODINGS.items():
        CASES.append(
            Case(
                f"{kind}_{name}",
                {file: encode(BASE[file])},
                (error(file, text),),
                stricter="Mage drops or ignores the file until a block runs"
                if kind in ("block", "io", "triggers", "products")
                else "",
                pipeline="q" if kind == "products" else "p",
            )
        )
CASES += [
    Case("yaml_utf8_bom_is_read_as_mage_reads_it", {PIPELINE: codecs.BOM_UTF8 + BASE[PIPELINE].encode()}),
    Case(
        "block_with_a_latin1_coding_cookie",
        {LOADER: "# -*- coding: latin-1 -*-\n@data_loader\ndef load(**kw):\n    return 'caf\xe9'\n".encode("latin-1")},
        stricter="",
    ),
    Case(
        "block_with_an_unknown_coding_cookie",
        {LOADER: b"# -*- coding: klingon -*-\n@data_loader\ndef load():\n    return 1\n"},
        (error(LOADER, "klingon"),),
        stricter="Python refuses to run such a file; Mage executes its text",
    ),
]

# -- 2. YAML that would hang, exhaust memory or crash a parser, in every YAML file ---------------------------
LAUGHS = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)
BOMBS = {
    "deep_nesting": ("x: " + "[" * 10_000 + "]" * 10_000 + "\n", "nesting depth"),
    "recursive_alias": ("r: &r [*r]\n", "recursive alias"),
    "billion_laughs": (LAUGHS, "billion laughs"),
    "fifty_megabytes": ("x: " + "a" * (50 * 2**20) + "\n", "above mage-prefect's limit"),
    "syntax_error": ("blocks: [\n  - a: b\n", "invalid YAML"),
    "tab_indentation": ("blocks:\n\t- uuid: x\n", "invalid YAML"),
}
for kind, file in YAML_FILES.items():
    for name, (text, message) in BOMBS.items():
        CASES.append(
            Case(
                f"{kind}_{name}",
                {file: text},
                (error(file, message),),
                pipeline="q" if kind == "products" else "p",
                stricter="mage-prefect bounds what it parses, and reads every file of the pipeline",
            )
        )

# -- 3. templates: a sandbox, with bounds -------------------------------------------------------------------------
TEMPLATES = {
    "escape_to_python": ("{{ cycler.__init__.__globals__.os.system('touch " + MARKER + "') }}", "unsafe"),
    "escape_through_str": ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "unsafe"),
    "nested_loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "loop iterations",
    ),
    "exponential_macro": (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        "loop iterations",
    ),
    "huge_repetition": ("{{ 'a' * 1000000000 }}", "too large"),
    "huge_power": ("{{ 10 ** (10 ** 10) }}", "too large"),
    "syntax_error": ("{{ unclosed", "cannot render"),
    "undefined_function": ("{{ not_a_function('x') }}", "cannot render"),
}
for kind, file in {"project": PROJECT, "io": IO_CONFIG}.items():
    for name, (template, message) in TEMPLATES.items():
        changes = (
            {PROJECT: f'project_uuid: "{template}"\n'}
            if kind == "project"
            else {IO_CONFIG: BASE[IO_CONFIG] + f'  DUCKDB_SCHEMA: "{template}"\n'}
        )
        CASES.append(
            Case(
                f"{kind}_template_{name}",
                changes,
                (error(file, message),),
                stricter="Mage's unsandboxed Jinja runs it"
                if name.startswith(("escape", "huge", "nested", "exponential"))
                else "Mage reads io_config.yaml only when a block runs"
                if kind == "io"
                else "Mage drops the whole metadata.yaml silently",
            )
        )
CASES.append(
    Case("sql_block_template_is_only_parsed", {"transformers/summarize.sql": TEMPLATES["escape_to_python"][0]})
)
CASES.append(
    Case(
        "sql_block_template_syntax_error",
        {"transformers/summarize.sql": "SELECT {{ df_1"},
        (error("transformers/summarize.sql", "template syntax error"),),
        stricter="Mage fails at run time",
    )
)

# -- 4. wrong types and values, where Mage would fail later (error) or keeps them unused (warning) -------------
WRONG_BLOCK_VALUES = {
    "language_int": ("language", "5", "error", "'language' is 5", "Mage fails at run time"),
    "language_list": ("language", "[python]", "error", "'language' is ['python']", "Mage fails at run time"),
    "language_capitalised": ("language", "Python", "error", "'language' is 'Python'", "Mage fails at run time"),
    "upstream_null": ("upstream_blocks", "null", "error", "'upstream_blocks' may not be null", ""),
    "upstream_string": ("upstream_blocks", "load", "error", "'upstream_blocks' must be a list", "Mage misreads it"),
    "upstream_unknown": ("upstream_blocks", "[lod]", "error", "names unknown upstream block 'lod'", "Mage drops it"),
    "timeout_negative": (
        "timeout",
        "-5",
        "error",
        "'timeout' should be greater than or equal to 0",
        "Mage times the block out at once",
    ),
    "timeout_text": ("timeout", "abc", "error", "'timeout' must be a number", "Mage silently has no timeout"),
    "retry_config_list": (
        "retry_config",
        "[1, 2]",
        "error",
        "'retry_config' must be a mapping",
        "Mage fails at run time",
    ),
    "retry_config_unknown_key": (
        "retry_config",
        "{retries: 1, tries: 2}",
        "error",
        "unknown key 'retry_config.tries'",
        "Mage fails at run time",
    ),
    "retry_config_text_retries": (
        "retry_config",
        "{retries: '3'}",
        "error",
        "'retry_config.retries' must be a whole number",
        "Mage fails at run time",
    ),
    "retry_config_non_string_key": (
        "retry_config",
        "{1: 2}",
        "error",
        "keys should be strings",
        "Mage fails at run time",
    ),
    "replicated_block_list": (
        "replicated_block",
        "[load]",
        "error",
        "'replicated_block' must be a string",
        "Mage fails at run time",
    ),
    "replicated_block_unknown": (
        "replicated_block",
        "nowhere",
        "error",
        "replicates unknown block 'nowhere'",
        "Mage fails at run time",
    ),
    "configuration_list": ("configuration", "[1]", "error", "'configuration' must be a mapping", ""),
    "configuration_string": ("configuration", "text", "error", "'configuration' must be a mapping", ""),
    "dynamic_yes": (
        "configuration",
        "{dynamic: 'yes'}",
        "error",
        "'configuration.dynamic' must be true or false",
        "Mage misreads it as not dynamic",
    ),
    "dynamic_number": (
        "configuration",
        "{dynamic: 1}",
        "error",
        "'configuration.dynamic' must be true or false",
        "Mage misreads it as not dynamic",
    ),
    "reduce_output_no": (
        "configuration",
        "{reduce_output: 'no'}",
        "error",
        "'configuration.reduce_output' must be true",
        "Mage misreads it",
    ),
    "file_path_dot": ("configuration", "{file_path: '.'}", "warning", "file_path '.' names no file", ""),
    "file_path_int": ("configuration", "{file_path: 3}", "error", "'configuration.file_path' must be a string", ""),
    "file_path_absolute_outside": ("configuration", "{file_path: /etc/passwd}", "error", "outside the project", ""),
    "file_path_dotdot": (
        "configuration",
        "{file_path: ../../outside.py}",
        "error",
        "outside the project",
        "Mage reads a file outside the project",
    ),
    "file_source_string": (
        "configuration",
        "{file_source: x}",
        "error",
        "'configuration.file_source' must be a mapping",
        "",
    ),
    "has_callback_text": ("has_callback", "'no'", "error", "'has_callback' must be true or false", "Mage misreads it"),
    "type_null": ("type", "null", "error", "'type' may not be null", ""),
    "type_unknown": ("type", "loader", "error", "'type' is 'loader'", ""),
    "type_hook": ("type", "hook", "error", "'type' is 'hook'", ""),
    "type_dynamic_child": ("type", "dynamic_child", "error", "'type' is 'dynamic_child'", ""),
    "type_list": ("type", "[transformer]", "error", "'type' is ['transformer']", ""),
    "content_list": ("content", "[1]", "error", "'content' must be a string", "Mage fails at run time"),
    "name_mapping": ("name", "{a: 1}", None, "", ""),
    "color_number": ("color", "5", "warning", "'color' must be a string", ""),
    "unknown_key": ("upstream_block", "[load]", "warning", "unknown key 'upstream_block'", ""),
}
for name, (key, value, severity, message, stricter) in WRONG_BLOCK_VALUES.items():
    CASES.append(
        Case(
            f"block_{name}",
            block_key(key, value),
            (Expect(severity, PIPELINE, message),) if severity else (),
            stricter=stricter,
        )
    )
CASES += [
    Case(
        "block_uuid_missing",
        edit(PIPELINE, "- uuid: export\n", "- uid: export\n"),
        (error(PIPELINE, "'uuid' is missing"),),
    ),
    Case(
        "block_uuid_int_is_its_text",
        {
            PIPELINE: BASE[PIPELINE].replace("uuid: load", "uuid: 123").replace("[load]", "['123']"),
            "data_loaders/123.py": BASE[LOADER],
        },
    ),
    Case(
        "block_not_a_mapping",
        edit(PIPELINE, "- uuid: export\n  type: data_exporter\n  upstream_blocks: [clean]\n", "- export\n"),
        (error(PIPELINE, "must be a mapping"),),
    ),
    Case(
        "block_file_symlink_out_of_the_project",
        {"data_exporters/export.py": None},
        (error(PIPELINE, "outside the project"),),
        stricter="Mage runs a file outside the project",
        links={"data_exporters/export.py": "outside.py"},
    ),
    Case(
        "block_uuid_dotdot",
        {
            PIPELINE: BASE[PIPELINE]
            .replace("uuid: export", "uuid: ../../../escape")
            .replace("[clean]\n", "[clean]\n", 1)
        },
        (error(PIPELINE, "outside the project"),),
        stricter="Mage runs a file outside the project",
    ),
    Case(
        "block_uuids_cleaning_to_one_name",
        {
            PIPELINE: BASE[PIPELINE].replace(
                "variables:",
                "- uuid: export-report\n  type: data_exporter\n"
                "- uuid: export_report\n  type: data_exporter\nvariables:",
            ),
            "data_exporters/export-report.py": BASE["data_exporters/export.py"],
            "data_exporters/export_report.py": BASE["data_exporters/export.py"],
        },
        (error(PIPELINE, "both store their outputs as 'export_report'"),),
        stricter="Mage overwrites one's outputs",
    ),
    Case(
        "block_uuids_differing_in_case",
        {
            PIPELINE: BASE[PIPELINE].replace("variables:", "- uuid: Load\n  type: data_loader\nvariables:"),
            "data_loaders/Load.py": BASE[LOADER],
        },
        (error(PIPELINE, "both store their outputs as 'load'"),),
        stricter="Mage overwrites one's outputs",
    ),
    Case(
        "block_uuid_duplicate",
        {PIPELINE: BASE[PIPELINE].replace("variables:", "- uuid: load\n  type: data_loader\nvariables:")},
        (error(PIPELINE, "duplicate block uuid 'load'"),),
    ),
    Case(
        "dependency_cycle",
        edit(
            PIPELINE,
            "- uuid: load\n  type: data_loader\n  upstream_blocks: []",
            "- uuid: load\n  type: data_loader\n  upstream_blocks: [clean]",
        ),
        (error(PIPELINE, "dependency cycle"),),
        stricter="Mage detects cycles only through downstream_blocks",
    ),
]
WRONG_PIPELINE_VALUES = {
    "name_mapping": ("name", "{a: 1}", "warning", "'name' must be a string", ""),
    "description_number": ("description", "42", "warning", "'description' must be a string", ""),
    "tags_string": ("tags", "team", "warning", "'tags' must be a list", ""),
    "type_int": ("type", "5", "error", "'type' is 5", "Mage runs an unknown type as a batch pipeline"),
    "type_unknown": (
        "type",
        "batch",
        "error",
        "'type' is 'batch'",
        "Mage runs an unknown type (a typo?) as a batch pipeline",
    ),
    "type_streaming": ("type", "streaming", "error", "not supported", ""),
    "variables_list": ("variables", "[a, b]", "error", "'variables' must be a mapping", "Mage fails at run time"),
    "variables_string": ("variables", "abc", "error", "'variables' must be a mapping", "Mage fails at run time"),
    "variables_non_string_key": (
        "variables",
        "{1: a}",
        "error",
        "'variables.1' must be a string",
        "Mage fails at run time: kwargs need string names",
    ),
    "variables_reserved_name": (
        "variables",
        "{execution_date: 1}",
        "error",
        "cannot be a flow parameter",
        "a flow parameter of that name exists",
    ),
    "block_run_limit_negative": (
        "concurrency_config",
        "{block_run_limit: -1}",
        "error",
        "greater than or equal to 1",
        "Mage fails at run time",
    ),
    "pipeline_run_limit_zero": (
        "concurrency_config",
        "{pipeline_run_limit: 0}",
        "error",
        "greater than or equal to 1",
        "Mage fails at run time",
    ),
    "pipeline_run_limit_text": (
        "concurrency_config",
        "{pipeline_run_limit: '3'}",
        "error",
        "must be a whole number",
        "Mage fails at run time",
    ),
    "concurrency_list": ("concurrency_config", "[1]", "warning", "'concurrency_config' must be a mapping", ""),
    "extensions_null": ("extensions", "null", "error", "'extensions' may not be null", ""),
    "settings_list": ("settings", "[1]", "error", "'settings' must be a mapping", ""),
    "blocks_mapping": ("callbacks", "{a: 1}", "error", "'callbacks' must be a list", ""),
    "notification_list": (
        "notification_config",
        "[1]",
        "error",
        "'notification_config' must be a mapping",
        "Mage fails when it sends a message",
    ),
    "notification_unknown_key": (
        "notification_config",
        "{slak_config: {}}",
        "error",
        "unknown key 'slak_config'",
        "Mage fails when it sends a message",
    ),
    "notification_bad_alert": (
        "notification_config",
        "{alert_on: [trigger_fail]}",
        "error",
        "'trigger_fail'",
        "Mage fails when it sends a message",
    ),
    "notification_email_without_host": (
        "notification_config",
        "{email_config: {to_emails: [a@b.c]}}",
        "error",
        "'email_config.smtp_host' is missing",
        "Mage drops the email_config silently",
    ),
    "uuid_differs_from_folder": ("uuid", "other", "warning", "differs from its folder name", ""),
    "unknown_key": ("varaibles", "{}", "warning", "unknown key 'varaibles'", ""),
}
for name, (key, value, severity, message, stricter) in WRONG_PIPELINE_VALUES.items():
    CASES.append(
        Case(f"pipeline_{name}", pipeline_key(key, value), (Expect(severity, PIPELINE, message),), stricter=stricter)
    )
CASES += [
    Case("pipeline_file_empty", {PIPELINE: ""}, (error(PIPELINE, "metadata.yaml is empty"),)),
    Case("pipeline_file_a_list", {PIPELINE: "- a\n- b\n"}, (error(PIPELINE, "must be a mapping"),)),
    Case("pipeline_file_null", {PIPELINE: "null\n"}, (error(PIPELINE, "metadata.yaml is empty"),)),
    Case(
        "pipeline_duplicate_keys",
        {PIPELINE: BASE[PIPELINE] + "variables:\n  factor: 3\n"},
        (warning(PIPELINE, "duplicate key 'variables'"),),
    ),
    Case(
        "pipeline_python_tag",
        pipeline_key("description", "!!python/object/apply:os.getcwd []"),
        (error(PIPELINE, "could not determine a constructor"),),
        stricter="Mage's loader executes the tag",
    ),
]
WRONG_TRIGGER_VALUES = {
    "settings_null": ("settings", "null", None, "", ""),
    "variables_null": ("variables", "null", None, "", ""),
    "sla_null": ("sla", "null", None, "", ""),
    "unknown_key": ("stauts", "active", "error", "unknown key 'stauts'", ""),
    "envs_string": ("envs", "prod", "error", "'envs' must be a list", ""),
    "envs_null": ("envs", "null", "error", "'envs' may not be null", ""),
    "envs_unknown": ("envs", "[production]", "error", "'production'", ""),
    "sla_text": ("sla", "1h", "error", "'sla' must be a whole number", "Mage fails at run time"),
    "sla_negative": ("sla", "-5", "error", "'sla' should be greater", "Mage fails at run time"),
    "status_enabled": ("status", "enabled", "error", "'status' is 'enabled'", ""),
    "variables_list": ("variables", "[a]", "error", "'variables' must be a mapping", "Mage fails at run time"),
    "settings_list": ("settings", "[a]", "error", "'settings' must be a mapping", "Mage fails at run time"),
    "settings_unknown_key": (
        "settings",
        "{skip_if_running: true}",
        "error",
        "unknown key 'settings.skip_if_running'",
        "Mage fails at run time",
    ),
    "settings_bool_text": (
        "settings",
        "{allow_blocks_to_fail: 'yes'}",
        "error",
        "must be true or false",
        "Mage misreads it",
    ),
    "settings_timeout_text": (
        "settings",
        "{timeout: abc}",
        "error",
        "'settings.timeout' must be a whole number",
        "Mage silently has no timeout",
    ),
    "settings_timeout_negative": (
        "settings",
        "{timeout: -1}",
        "error",
        "greater than or equal to 1",
        "Mage fails at run time",
    ),
    "settings_run_limit_zero": (
        "settings",
        "{pipeline_run_limit: 0}",
        "error",
        "greater than or equal to 1",
        "Mage fails at run time",
    ),
    "settings_timeout_status": ("settings", "{timeout_status: later}", "error", "'later'", "Mage fails at run time"),
}
for name, (key, value, severity, message, stricter) in WRONG_TRIGGER_VALUES.items():
    CASES.append(
        Case(
            f"trigger_{name}",
            trigger_key(key, value),
            (Expect(severity, TRIGGERS, message),) if severity else (),
            stricter=stricter or ("Mage drops the trigger" if severity == "error" else ""),
        )
    )
TIME_TRIGGER = (
    "triggers:\n- name: nightly\n  schedule_type: time\n  schedule_interval: '{interval}'\n  start_time: {start}\n"
)
CASES += [
    Case(
        "trigger_start_time_quoted",
        {TRIGGERS: TIME_TRIGGER.format(interval="@daily", start="'2024-01-01 00:00:00'")},
        (error(TRIGGERS, "is not a YAML timestamp"),),
        stricter="Mage's schedule sync fails on it",
    ),
    Case(
        "trigger_start_time_number",
        {TRIGGERS: TIME_TRIGGER.format(interval="@daily", start="5")},
        (error(TRIGGERS, "is not a YAML timestamp"),),
        stricter="Mage's schedule sync fails on it",
    ),
    Case("trigger_start_time_date_is_midnight", {TRIGGERS: TIME_TRIGGER.format(interval="@daily", start="2024-01-01")}),
    Case(
        "trigger_bad_cron",
        {TRIGGERS: TIME_TRIGGER.format(interval="61 * * * *", start="2024-01-01 00:00:00")},
        (error(TRIGGERS, "invalid cron expression"),),
        stricter="Mage's schedule sync fails on it",
    ),
    Case(
        "trigger_interval_number",
        {TRIGGERS: TIME_TRIGGER.format(interval="x", start="null").replace("'x'", "5")},
        (error(TRIGGERS, "'schedule_interval' must be a string"),),
        stricter="Mage drops the trigger",
    ),
    Case(
        "trigger_time_without_interval",
        {TRIGGERS: TIME_TRIGGER.format(interval="x", start="null").replace("'x'", "null")},
        (error(TRIGGERS, "has no schedule_interval"),),
        stricter="a time trigger without a schedule never runs",
    ),
    Case(
        "trigger_once_without_start",
        {TRIGGERS: TIME_TRIGGER.format(interval="@once", start="null")},
        (error(TRIGGERS, "needs a start_time"),),
        stricter="it never runs",
    ),
    Case(
        "trigger_schedule_type_cron",
        {
            TRIGGERS: TIME_TRIGGER.format(interval="@daily", start="null").replace(
                "schedule_type: time", "schedule_type: cron"
            )
        },
        (error(TRIGGERS, "'schedule_type' is 'cron'"),),
    ),
    Case(
        "trigger_schedule_type_null",
        {
            TRIGGERS: TIME_TRIGGER.format(interval="@daily", start="null").replace(
                "schedule_type: time", "schedule_type: null"
            )
        },
        (error(TRIGGERS, "'schedule_type' may not be null"),),
        stricter="Mage keeps a trigger that never runs",
    ),
    Case(
        "trigger_missing_start_time_key",
        {TRIGGERS: "triggers:\n- name: t\n  schedule_type: api\n  schedule_interval: null\n"},
        (error(TRIGGERS, "'start_time' is missing"),),
    ),
    Case(
        "trigger_not_a_mapping",
        {TRIGGERS: BASE[TRIGGERS] + "- just a string\n"},
        (error(TRIGGERS, "must be a mapping"),),
        stricter="Mage drops every trigger of the file",
    ),
    Case(
        "triggers_file_a_list",
        {TRIGGERS: "- name: t\n"},
        (error(TRIGGERS, "must be a mapping with a 'triggers:' list"),),
        stricter="Mage drops every trigger of the file",
    ),
    Case(
        "triggers_key_a_mapping",
        {TRIGGERS: "triggers:\n  a: 1\n"},
        (error(TRIGGERS, "'triggers' must be a list"),),
        stricter="Mage drops every trigger of the file",
    ),
    Case("triggers_empty_file", {TRIGGERS: ""}),
    Case(
        "trigger_duplicate_names",
        {TRIGGERS: BASE[TRIGGERS] + BASE[TRIGGERS].replace("triggers:\n", "")},
        (error(TRIGGERS, "duplicate trigger name"),),
        stricter="two deployments cannot share a name",
    ),
    Case(
        "triggers_one_deployment_name",
        {
            TRIGGERS: BASE[TRIGGERS].replace("on_demand", "a/b")
            + BASE[TRIGGERS].replace("triggers:\n", "").replace("on_demand", "a-b")
        },
        (error(TRIGGERS, "both deploy as 'a-b'"),),
        stricter="two deployments cannot share a name",
    ),
    Case(
        "trigger_always_on",
        {TRIGGERS: TIME_TRIGGER.format(interval="@always_on", start="null")},
        (error(TRIGGERS, "not supported"),),
    ),
]
WRONG_PRODUCT_VALUES = {
    "weeks_null": ("outdated_after", "{seconds: 86400, weeks: null}", None, "", ""),
    "starting_at_nulls": ("outdated_starting_at", "{day_of_month: null, hour_of_day: 3}", None, "", ""),
    "days_ignored_like_mage": ("outdated_after", "{days: 2}", "warning", "ignores days", ""),
    "outdated_text": ("outdated_after", "{seconds: soon}", "error", "must be a number", "Mage fails at run time"),
    "outdated_list": ("outdated_after", "[1]", "error", "must be a mapping", "Mage ignores it"),
    "months_fraction": ("outdated_after", "{months: 1.5}", "error", "whole months", "Mage fails at run time"),
    "starting_at_text": (
        "outdated_starting_at",
        "{hour_of_day: noon}",
        "error",
        "must be a whole number",
        "Mage fails at run time",
    ),
    "starting_at_unknown": ("outdated_starting_at", "{hour: 3}", "error", "'hour'", "Mage ignores it"),
    "settings_list": ("settings", "[1]", "error", "'settings' must be a mapping", "Mage fails at run time"),
    "partitions_text": (
        "settings",
        "{load: {partitions: many}}",
        "error",
        "must be a whole number",
        "Mage fails at run time",
    ),
    "object_type_block": (
        "object_type",
        "block",
        "error",
        "'object_type' is 'block'",
        "Mage's block products never resolve",
    ),
}
for name, (key, value, severity, message, stricter) in WRONG_PRODUCT_VALUES.items():
    changes = {PRODUCTS: BASE[PRODUCTS].replace("  outdated_after:\n    seconds: 3600\n", "") + f"  {key}: {value}\n"}
    CASES.append(
        Case(
            f"product_{name}",
            changes,
            (Expect(severity, PRODUCTS, message),) if severity else (),
            stricter=stricter,
            pipeline="q",
        )
    )
CASES += [
    Case(
        "product_missing_object_uuid",
        {PRODUCTS: "p_outputs:\n  object_type: pipeline\n"},
        (error(PRODUCTS, "'object_uuid' is missing"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_null_entry_blocks_only_its_users",
        {PRODUCTS: BASE[PRODUCTS] + "broken:\n"},
        (warning(PRODUCTS, "must be a mapping"),),
        pipeline="q",
        lenient="Mage fails every product of a file with a null entry; mage-prefect only that product",
    ),
    Case(
        "product_unknown_to_the_block",
        {PRODUCTS: BASE[PRODUCTS].replace("p_outputs", "other")},
        (error("pipelines/q/metadata.yaml", "does not define"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_file_a_list",
        {PRODUCTS: "- a\n"},
        (error(PRODUCTS, "must map product uuids"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_file_broken_does_not_block_other_pipelines",
        {PRODUCTS: "p_outputs: [\n"},
        (error(PRODUCTS, "invalid YAML"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
]
WRONG_PROJECT_VALUES = {
    "retry_config_list": ("retry_config", "[1]", "error", "'retry_config' must be a mapping", "Mage fails at run time"),
    "retry_config_unknown": (
        "retry_config",
        "{retry: 1}",
        "error",
        "unknown key 'retry_config.retry'",
        "Mage fails at run time",
    ),
    "notification_list": (
        "notification_config",
        "[1]",
        "error",
        "'notification_config' must be a mapping",
        "Mage fails when it sends a message",
    ),
    "notification_unknown_channel_key": (
        "notification_config",
        "{slack_config: {webhook_url: x, channel: y}}",
        "error",
        "unknown key 'slack_config.channel'",
        "Mage drops the channel silently",
    ),
    "features_list": ("features", "[polars]", "error", "'features' must be a mapping", "Mage fails at run time"),
    "logging_config_null": (
        "logging_config",
        "null",
        "error",
        "'logging_config' may not be null",
        "Mage fails at run time",
    ),
    "variables_dir_number": (
        "variables_dir",
        "5",
        "error",
        "'variables_dir' must be a string",
        "Mage drops the whole file silently",
    ),
    "project_type_unknown": ("project_type", "weird", "warning", "'project_type' is 'weird'", ""),
    "unknown_key": ("varaibles_dir", "x", "warning", "unknown key 'varaibles_dir'", ""),
}
for name, (key, value, severity, message, stricter) in WRONG_PROJECT_VALUES.items():
    CASES.append(
        Case(f"project_{name}", project_key(key, value), (Expect(severity, PROJECT, message),), stricter=stricter)
    )
WRONG_SETTINGS = {  # mage_prefect's own section: Mage ignores it, so refusing it is never stricter than Mage
    "deployments_list": ("{deployments: [1]}", "error", "'mage_prefect.deployments' must be a mapping"),
    "tags_string": ("{deployments: {tags: team}}", "error", "'mage_prefect.deployments.tags' must be a list"),
    "job_variables_list": ("{deployments: {job_variables: [1]}}", "error", "must be a mapping"),
    "pull_mapping": ("{deployments: {pull: {a: 1}}}", "error", "'mage_prefect.deployments.pull' must be a list"),
    "sensor_interval_text": ("{sensor_interval: often}", "error", "'mage_prefect.sensor_interval' must be a number"),
    "sensor_interval_zero": ("{sensor_interval: 0}", "error", "greater than 0"),
    "max_children_zero": ("{max_dynamic_children: 0}", "error", "greater than or equal to 1"),
    "mlflow_text": ("{mlflow: yes please}", "error", "'mage_prefect.mlflow'"),
    "mlflow_blocks_string": ("{mlflow: {blocks: train}}", "error", "'mage_prefect.mlflow.blocks' must be a list"),
    "results_number": ("{results: 5}", "error", "'mage_prefect.results' must be a string"),
    "results_unset_env_var": (
        "{results: \"{{ env_var('NO_SUCH_RESULTS') }}/out\"}",
        "warning",
        "renders as 'None/out'",
    ),
    "typo": ("{mlfow: {}}", "warning", "unknown key 'mlfow'"),
}
for name, (value, severity, message) in WRONG_SETTINGS.items():
    CASES.append(
        Case(
            f"mage_prefect_{name}",
            prefect_key(value),
            (Expect(severity, PROJECT, message),),
            stricter="Mage ignores mage_prefect:" if severity == "error" else "",
        )
    )
CASES += [
    Case("project_metadata_absent", {PROJECT: None}),
    Case("project_metadata_empty", {PROJECT: ""}),
    Case("project_metadata_a_list", {PROJECT: "- a\n"}, (error(PROJECT, "must be a mapping"),)),
    Case(
        "project_metadata_duplicate_keys",
        {PROJECT: BASE[PROJECT] + "project_type: main\n"},
        (error(PROJECT, "Mage cannot start with duplicate keys"),),
    ),
    Case(
        "io_config_profile_missing",
        edit("pipelines/p/metadata.yaml", "data_provider_profile: default", "data_provider_profile: prod"),
        (error(PIPELINE, "no profile 'prod'"),),
        stricter="Mage fails at run time",
    ),
    Case(
        "io_config_profile_null",
        {IO_CONFIG: "version: 0.1.1\ndefault:\n"},
        (error(PIPELINE, "no profile 'default'"),),
        stricter="Mage fails at run time",
    ),
    Case(
        "io_config_duplicate_keys",
        {IO_CONFIG: BASE[IO_CONFIG] + "default:\n  DUCKDB_DATABASE: other.duckdb\n"},
        (warning(IO_CONFIG, "duplicate key 'default'"),),
    ),
    Case(
        "io_config_missing", {IO_CONFIG: None}, (error(PIPELINE, "io_config.yaml"),), stricter="Mage fails at run time"
    ),
    Case(
        "not_a_project",
        {PROJECT: None, PIPELINE: None, TRIGGERS: None, "pipelines/q/metadata.yaml": None},
        (error(PROJECT, "not a Mage project"),),
    ),
]

# -- 5. the multi-project platform ---------------------------------------------------------------------------------
CASES += [
    Case("platform_same_pipeline_uuid_in_two_sub_projects", {}, base=PLATFORM, pipeline="one/p"),
    Case("platform_sub_project_without_metadata", {"one/metadata.yaml": None}, base=PLATFORM, pipeline="one/p"),
    Case(
        "platform_unlisted_folder_with_metadata_is_a_project",
        {SETTINGS: "projects:\n  one: {}\n", **{f"three/{k}": v for k, v in BASE.items()}},
        base=PLATFORM,
        pipeline="one/p",
    ),
    Case(
        "platform_missing_sub_project",
        {SETTINGS: PLATFORM[SETTINGS] + "  gone: {}\n"},
        (warning(SETTINGS, "sub-project 'gone' does not exist"),),
        base=PLATFORM,
        pipeline="one/p",
    ),
    Case(
        "platform_null_sub_project_entry",
        {SETTINGS: PLATFORM[SETTINGS] + "  three:\n"},
        (error(SETTINGS, "'projects.three' may not be null"),),
        base=PLATFORM,
        pipeline="one/p",
    ),
    Case(
        "platform_projects_a_list",
        {SETTINGS: "projects: [one, two]\n"},
        (error(SETTINGS, "'projects' must be a mapping"),),
        base=PLATFORM,
        pipeline="one/p",
    ),
    Case(
        "platform_path_number",
        {SETTINGS: "projects:\n  one: {path: 5}\n  two: {}\n"},
        (error(SETTINGS, "'projects.one.path' must be a string"),),
        base=PLATFORM,
        pipeline="two/p",
    ),
    Case(
        "platform_path_outside",
        {SETTINGS: "projects:\n  one: {path: ../../elsewhere}\n  two: {}\n"},
        (error(SETTINGS, "outside the platform"),),
        base=PLATFORM,
        pipeline="two/p",
        stricter="block files must be inside the project",
    ),
    Case(
        "platform_settings_template_escape",
        {SETTINGS: 'projects:\n  one: {path: "' + TEMPLATES["escape_to_python"][0] + '"}\n  two: {}\n'},
        (error(SETTINGS, "unsafe"),),
        base=PLATFORM,
        pipeline="two/p",
        stricter="Mage's unsandboxed Jinja runs it",
    ),
    Case(
        "platform_sibling_broken_metadata_does_not_block",
        {"two/metadata.yaml": "retry_config: [1]\n"},
        (error("two/metadata.yaml", "'retry_config' must be a mapping"),),
        base=PLATFORM,
        pipeline="two/p",
        stricter="Mage fails at run time",
    ),
    Case(
        "platform_sub_project_without_pipelines_is_still_checked",
        {SETTINGS: PLATFORM[SETTINGS] + "  three: {}\n", "three/metadata.yaml": "retry_config: [1]\n"},
        (error("three/metadata.yaml", "'retry_config' must be a mapping"),),
        base=PLATFORM,
        pipeline="one/p",
    ),
    Case(
        "platform_file_source_path",
        edit(
            "one/pipelines/p/metadata.yaml",
            "- uuid: load\n",
            "- uuid: load\n  configuration:\n    file_source:\n      path: two/data_loaders/load.py\n",
            PLATFORM,
        ),
        base=PLATFORM,
        pipeline="one/p",
    ),
    Case(
        "platform_file_source_outside",
        edit(
            "one/pipelines/p/metadata.yaml",
            "- uuid: load\n",
            "- uuid: load\n  configuration:\n    file_source:\n      path: /etc/hosts\n",
            PLATFORM,
        ),
        (error("one/pipelines/p/metadata.yaml", "outside the project"),),
        base=PLATFORM,
        pipeline="one/p",
    ),
]

# -- found by review: crashes, knock-on errors and guesses the cases above did not cover -------------------------
Q = "pipelines/q/metadata.yaml"
CASES += [
    Case(
        "pipeline_tagged_scalar",
        pipeline_key("description", "!!int abc"),
        (error(PIPELINE, "a value its tag cannot make"),),
    ),
    Case(
        "triggers_tagged_scalar",
        trigger_key("sla", "!!bool maybe"),
        (error(TRIGGERS, "a value its tag cannot make"),),
        stricter="Mage drops every trigger of the file",
    ),
    Case(
        "product_block_without_reference",
        {Q: BASE[Q].replace("  configuration:\n    global_data_product:\n      uuid: p_outputs\n", "")},
        (error(Q, "names no product"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_block_reference_null",
        edit(Q, "    global_data_product:\n      uuid: p_outputs\n", "    global_data_product: null\n"),
        (error(Q, "names no product"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_outdated_after_number",
        {PRODUCTS: BASE[PRODUCTS].replace("  outdated_after:\n    seconds: 3600\n", "  outdated_after: 5\n")},
        (error(PRODUCTS, "'outdated_after' must be a mapping"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_unknown_sub_project",
        edit(Q, "      uuid: p_outputs\n", "      uuid: p_outputs\n      project: nosuch\n"),
        (error(Q, "sub-project 'nosuch'"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_of_a_pipeline_that_does_not_exist",
        {PRODUCTS: BASE[PRODUCTS].replace("object_uuid: p", "object_uuid: gone")},
        (error(Q, "names pipeline 'gone'"),),
        pipeline="q",
        stricter="Mage fails at run time",
    ),
    Case(
        "product_of_a_broken_pipeline",
        block_key("upstream_blocks", "[lod]"),
        (error(PIPELINE, "names unknown upstream block 'lod'"),),
        pipeline="q",
        stricter="Mage runs the product's pipeline as it reads it, dropping the dependency",
    ),
    Case(
        "product_uuids_cleaning_to_one_name",
        {PRODUCTS: BASE[PRODUCTS] + BASE[PRODUCTS].replace("p_outputs", "P-outputs")},
        (error(PRODUCTS, "are both 'p_outputs' to Mage"),),
        pipeline="q",
        stricter="Mage lets one shadow the other",
    ),
    Case(
        "block_file_path_nul",
        block_key("configuration", '{file_path: "a\\0b.py"}'),
        (error(PIPELINE, "NUL character"),),
        stricter="Mage fails at run time",
    ),
    Case(
        "platform_path_nul",
        {SETTINGS: 'projects:\n  one: {path: "o\\0ne"}\n  two: {}\n'},
        (error(SETTINGS, "NUL character"),),
        base=PLATFORM,
        pipeline="two/p",
        stricter="Mage fails at run time",
    ),
    Case(
        "block_timeout_true",
        block_key("timeout", "true"),
        (error(PIPELINE, "must be a number, not True"),),
        stricter="Mage reads it as 1 s",
    ),
    Case(
        "block_retry_delay_true",
        block_key("retry_config", "{delay: true}"),
        (error(PIPELINE, "must be a number"),),
        stricter="Mage reads it as 1 s",
    ),
    Case(
        "pipeline_tags_with_numbers",
        pipeline_key("tags", "[1, team]"),
        (warning(PIPELINE, "'tags.0' must be a string"),),
    ),
    Case(
        "block_replicating_an_inline_block",
        {
            PIPELINE: BASE[PIPELINE]
            .replace(
                "- uuid: load\n  type: data_loader\n",
                "- uuid: load\n  type: data_loader\n  content: |\n    @data_loader\n"
                "    def load(*args, **kwargs):\n        return [1]\n",
            )
            .replace("variables:", "- uuid: again\n  type: data_loader\n  replicated_block: load\nvariables:"),
            LOADER: None,
        },
    ),
    Case(
        "markdown_block_named_like_another",
        {PIPELINE: BASE[PIPELINE].replace("variables:", "- uuid: Load\n  type: markdown\nvariables:")},
    ),
    Case(
        "project_template_huge_filter_argument",
        {PROJECT: "project_uuid: \"{{ 'a'|center(10**9) }}\"\n"},
        (error(PROJECT, "too large"),),
        stricter="Mage's unsandboxed Jinja runs it",
    ),
]

# -- 6. what Mage itself writes: must be accepted -------------------------------------------------------------------
MAGE_WRITTEN_BLOCK = (
    "- all_upstream_blocks_executed: true\n  color: null\n  configuration: {}\n  downstream_blocks: []\n"
    "  executor_config: null\n  executor_type: local_python\n  has_callback: null\n  language: python\n"
    "  name: load\n  retry_config: null\n  status: executed\n  timeout: null\n  type: data_loader\n"
    "  upstream_blocks: []\n  uuid: load\n"
)
CASES += [
    Case(
        "mage_written_nulls_everywhere",
        {
            PIPELINE: BASE[PIPELINE].replace(
                "- uuid: load\n  type: data_loader\n  upstream_blocks: []\n", MAGE_WRITTEN_BLOCK
            )
            + "cache_block_output_in_memory: false\ncallbacks: []\nconcurrency_config: {}\nconditionals: []\n"
            "created_at: null\n"
            "data_integration: null\ndescription: null\nexecutor_config: {}\nexecutor_count: 1\nexecutor_type: null\n"
            "extensions: {}\nname: p\nnotification_config: {}\nremote_variables_dir: null\nretry_config: {}\n"
            "run_pipeline_in_one_process: false\nsettings:\n  triggers: null\nspark_config: {}\ntags: []\n"
            "type: python\n"
            "uuid: p\nvariables_dir: /home/src/mage_data/project\nwidgets: []\n"
        },
    ),
    Case(
        "mage_written_trigger",
        {
            TRIGGERS: "triggers:\n- description: null\n  envs: []\n  last_enabled_at: null\n"
            "  name: on_demand\n  pipeline_uuid: p\n  schedule_interval: null\n"
            "  schedule_type: api\n  settings: null\n  sla: null\n  start_time: null\n"
            "  status: active\n  token: null\n  variables: null\n"
        },
    ),
    Case(
        "mage_template_notification_webhooks_unset",
        project_key(
            "notification_config", "\n  slack_config:\n    webhook_url: \"{{ env_var('MAGE_SLACK_WEBHOOK_URL') }}\"\n"
        ),
    ),
    Case(
        "import_of_a_module_only_the_project_holds",
        {LOADER: "import utils\n" + BASE[LOADER], "utils/__init__.py": "VALUE = 1\n"},
        (warning(LOADER, "exists only inside the project folder"),),
    ),
]
