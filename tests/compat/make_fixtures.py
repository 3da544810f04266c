"""Write the Mage-written fixture projects with real Mage's own code (mage_harness.py generate).

    .venv-mage/bin/python ... is called for you:  .venv/bin/python tests/compat/make_fixtures.py DEST

`mlops` mirrors the seed's own project, mage-ai/mlops: a multi-project platform whose sub-projects
Mage's `init_repo` created (each with Mage's `example_pipeline`, so the uuid is in several
sub-projects), `unit_0_setup` without a project metadata.yaml, a sub-project listed in settings.yaml
that does not exist, the example pipeline's metadata.yaml as the mlops repository holds it (Mage's
serializer writes null for every unset field), a `data_preparation` pipeline and its triggers
written by Mage's Pipeline.save() and Trigger.to_dict() (settings and variables null), and a
global_data_products.yaml with null units. The compat tier builds it fresh in a temporary folder;
tests/fixtures/projects/mlops is one such build, committed for the tests that run without Mage.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).parent
HARNESS = HERE / "mage_harness.py"
MAGE_PYTHON = HERE.parents[1] / ".venv-mage" / "bin" / "python"

# mage-ai/mlops: mlops/metadata.yaml, the root project of the platform
ROOT_METADATA = """\
project_type: standalone
variables_dir: ~/.mage_data
variables_retention_period: "90d"
features:
  add_new_block_v2: true
  command_center: true
  compute_management: false
  custom_design: true
  data_integration_in_batch_pipeline: true
  dbt_v2: true
  global_hooks: true
  interactions: true
  display_local_timezone: true
  notebook_block_output_split_view: true
  operation_history: true
  polars: true
help_improve_mage: true
project_uuid: fb8f12e6706f40b5bc6310c8b231fa6a
"""
SETTINGS = """\
projects:
  unit_0_setup: {}
  unit_1_data_preparation: {}
  unit_2_training: {}
  unit_3_observability: {}
"""
# mlops/unit_0_setup/pipelines/example_pipeline/metadata.yaml, as Mage's UI saved it there
EXAMPLE_PIPELINE = """\
blocks:
- all_upstream_blocks_executed: true
  color: null
  configuration: {}
  downstream_blocks:
  - fill_in_missing_values
  executor_config: null
  executor_type: local_python
  has_callback: null
  language: python
  name: load_titanic
  retry_config: null
  status: executed
  timeout: null
  type: data_loader
  upstream_blocks: []
  uuid: load_titanic
- all_upstream_blocks_executed: true
  color: null
  configuration: {}
  downstream_blocks:
  - export_titanic_clean
  executor_config: null
  executor_type: local_python
  has_callback: null
  language: python
  name: fill_in_missing_values
  retry_config: null
  status: executed
  timeout: null
  type: transformer
  upstream_blocks:
  - load_titanic
  uuid: fill_in_missing_values
- all_upstream_blocks_executed: true
  color: null
  configuration: {}
  downstream_blocks: []
  executor_config: null
  executor_type: local_python
  has_callback: null
  language: python
  name: export_titanic_clean
  retry_config: null
  status: executed
  timeout: null
  type: data_exporter
  upstream_blocks:
  - fill_in_missing_values
  uuid: export_titanic_clean
cache_block_output_in_memory: false
callbacks: []
concurrency_config: {}
conditionals: []
created_at: null
data_integration: null
description: null
executor_config: {}
executor_count: 1
executor_type: null
extensions: {}
name: example_pipeline
notification_config: {}
remote_variables_dir: null
retry_config: {}
run_pipeline_in_one_process: false
settings:
  triggers: null
spark_config: {}
tags: []
type: python
uuid: example_pipeline
variables_dir: /root/.mage_data/unit_0_setup
widgets: []
"""
# mlops/unit_3_observability/metadata.yaml
OBSERVABILITY_METADATA = """\
# https://docs.mage.ai/integrations/observability/alerting-email
notification_config:
  alert_on:
    - trigger_failure
    - trigger_passed_sla
  email_config:
    smtp_host: smtp.gmail.com
    smtp_user: "{{ env_var('SMTP_EMAIL') }}"
    smtp_password: "{{ env_var('SMTP_PASSWORD') }}"
    smtp_mail_from: "{{ env_var('SMTP_EMAIL') }}"
    to_emails:
      - "{{ env_var('SMTP_EMAIL') }}"
"""
PRODUCTS = """\
training_set:
  object_type: pipeline
  object_uuid: data_preparation
  outdated_after:
    seconds: 86400
    weeks: null
    months: null
    years: null
  outdated_starting_at:
    day_of_month: null
    day_of_week: null
    hour_of_day: null
  settings:
    prepare:
      partitions: 1
"""
INGEST = """\
import pandas as pd

if 'data_loader' not in globals():
    from mage_ai.data_preparation.decorators import data_loader


@data_loader
def ingest(*args, **kwargs):
    return pd.DataFrame({'trip_distance': [1.5, 3.0, 0.5, 12.0], 'fare': [7.5, 12.0, 4.0, 40.0]})
"""
PREPARE = """\
if 'transformer' not in globals():
    from mage_ai.data_preparation.decorators import transformer
if 'test' not in globals():
    from mage_ai.data_preparation.decorators import test


@transformer
def prepare(df, *args, **kwargs):
    limit = kwargs.get('max_distance', 10)
    kept = df[df['trip_distance'] <= limit]
    return kept, kept['fare'].sum(), len(kept)


@test
def test_output(kept, total, rows, *args) -> None:
    assert rows == len(kept), 'the row count matches'
"""
BLOCKS = [
    {"name": "ingest", "type": "data_loader", "content": INGEST},
    {
        "name": "prepare",
        "type": "transformer",
        "upstream_blocks": ["ingest"],
        "content": PREPARE,
        "retry_config": {"retries": 1, "delay": 1},
    },
]
TRIGGERS = [
    {
        "name": "daily_refresh",
        "schedule_type": "time",
        "schedule_interval": "@daily",
        "start_time": "2024-05-16T07:00:00",
        "status": "inactive",
        "settings": None,
        "variables": None,
    },
    {"name": "on_demand", "schedule_type": "api", "status": "active", "variables": {"max_distance": 5}},
]


# The example pipeline's loader reads this URL; the tests serve a local copy (no internet here).
TITANIC_URL = "https://raw.githubusercontent.com/datasciencedojo/datasets/master/titanic.csv?raw=True"
TITANIC = """PassengerId,Survived,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked
1,0,3,"Braund, Mr. Owen Harris",male,22,1,0,A/5 21171,7.25,,S
2,1,1,"Cumings, Mrs. John Bradley",female,38,1,0,PC 17599,71.2833,C85,C
3,1,3,"Heikkinen, Miss. Laina",female,26,0,0,STON/O2. 3101282,7.925,,S
4,1,1,"Futrelle, Mrs. Jacques Heath",female,35,1,0,113803,53.1,C123,S
5,0,3,"Allen, Mr. William Henry",male,,0,0,373450,8.05,,S
6,0,3,"Moran, Mr. James",male,,0,0,330877,8.4583,,Q
7,0,1,"McCarthy, Mr. Timothy J",male,54,0,0,17463,51.8625,E46,S
8,0,3,"Palsson, Master. Gosta Leonard",male,2,3,1,349909,,,S
9,1,3,"Johnson, Mrs. Oscar W",female,27,0,2,347742,11.1333,,S
10,1,2,"Nasser, Mrs. Nicholas",female,14,1,0,237736,30.0708,,C
"""


@contextmanager
def serve_titanic(folder: Path) -> Iterator[str]:
    """TITANIC over HTTP on 127.0.0.1; yields its URL."""
    (folder / "titanic.csv").write_text(TITANIC)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/titanic.csv"
    finally:
        server.shutdown()


def point_at_local_titanic(root: Path, url: str) -> Path:
    """The platform `root` with its example pipeline's loader reading `url`: nothing else changes."""
    loader = root / "unit_0_setup" / "data_loaders" / "load_titanic.py"
    loader.write_text(loader.read_text().replace(TITANIC_URL, url))
    return root


def harness(*args: str) -> dict:
    done = subprocess.run([str(MAGE_PYTHON), str(HARNESS), *args], capture_output=True, text=True, timeout=300)
    document = json.loads(done.stdout or "{}")
    if done.returncode or document.get("error"):
        raise RuntimeError(f"mage_harness {' '.join(args[:2])} failed: {document.get('error')}\n{done.stderr[-2000:]}")
    return document


def make_mlops(dest: Path) -> Path:
    """The mlops platform, written by Mage, at `dest`/mlops."""
    root = dest / "mlops"
    data_dir = dest / ".mage_data"  # Mage records it in pipelines' variables_dir; keep it out of $HOME
    harness(
        "generate",
        "project",
        str(root),
        "--platform",
        "unit_0_setup,unit_1_data_preparation,unit_3_observability",
        "--data-dir",
        str(data_dir),
    )
    harness(
        "generate",
        "pipeline",
        "--data-dir",
        str(data_dir),
        str(root),
        "data_preparation",
        "--sub-project",
        "unit_3_observability",
        "--blocks",
        json.dumps(BLOCKS),
        "--pipeline-config",
        json.dumps({"variables": {"max_distance": 10}}),
    )
    harness(
        "generate",
        "triggers",
        "--data-dir",
        str(data_dir),
        str(root / "unit_3_observability" / "pipelines" / "data_preparation" / "triggers.yaml"),
        "--spec",
        json.dumps(TRIGGERS),
    )
    for scratch in [*root.rglob("__pycache__"), *root.rglob(".file_versions")]:  # Mage's own caches
        shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    for metadata in root.rglob("metadata.yaml"):  # Mage's data dir in Docker, not this machine's folder
        metadata.write_text(metadata.read_text().replace(str(data_dir), "/home/src/mage_data"))
    (root / "metadata.yaml").write_text(ROOT_METADATA)
    (root / "settings.yaml").write_text(SETTINGS)
    (root / "unit_0_setup" / "metadata.yaml").unlink()
    (root / "unit_0_setup" / "pipelines" / "example_pipeline" / "metadata.yaml").write_text(EXAMPLE_PIPELINE)
    (root / "unit_3_observability" / "metadata.yaml").write_text(OBSERVABILITY_METADATA)
    (root / "unit_3_observability" / "global_data_products.yaml").write_text(PRODUCTS)
    return root


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "fixtures" / "projects"
    made = target / "mlops"
    if made.exists():
        shutil.rmtree(made)
    print(make_mlops(target))
