"""Deployments on container work pools: `prefect deploy` of the compiled output, with the image
`mage-prefect dockerfile` describes, onto Docker, Kubernetes and ECS work pools on a real server
(each pool's job template validates the job variables; no cluster is needed for that)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .conftest import BIN, HERE, mage_prefect, prefect_deploy

pytestmark = pytest.mark.e2e

IMAGE = "registry.example.com/warehouse:1"


@pytest.mark.parametrize("pool_type", ["docker", "kubernetes", "ecs"])
def test_prefect_deploy_onto_a_container_pool(prefect_server, tmp_path, pool_type):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags

    checkout = tmp_path / "checkout"
    shutil.copytree(HERE / "projects" / "warehouse", checkout / "warehouse")
    pool = f"mage-prefect-{pool_type}"
    env = dict(os.environ)
    created = subprocess.run(
        [str(BIN / "prefect"), "work-pool", "create", pool, "--type", pool_type, "--overwrite"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stdout + created.stderr

    written = mage_prefect("dockerfile", "warehouse", cwd=checkout)
    assert written.returncode == 0, written.stderr
    dockerfile = (checkout / "Dockerfile").read_text()
    assert "COPY . /opt/mage-prefect" in dockerfile and "FROM prefecthq/prefect:3.9.1-python3.11" in dockerfile
    assert ".venv" in (checkout / ".dockerignore").read_text()
    compiled = mage_prefect(
        "compile", "warehouse", "--out", "deployments", "--image", IMAGE, "--work-pool", pool, cwd=checkout
    )
    assert compiled.returncode == 0, compiled.stderr

    prefect_deploy(checkout / "deployments")

    with get_client(sync_client=True) as client:
        deployments = client.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=["mage-prefect-project:warehouse"]))
        )
    ours = [d for d in deployments if d.work_pool_name == pool]
    assert (
        len(ours) == len(deployments) == 6
    )  # one per pipeline: gcs_lake, lake, sales, sales_pg, sales_wide, snowflake_mart
    for deployment in ours:
        assert deployment.job_variables["image"] == IMAGE
        # the pull step finds the deployments folder where the Dockerfile copied the checkout
        assert deployment.pull_steps == [
            {"prefect.deployments.steps.set_working_directory": {"directory": "/opt/mage-prefect/deployments"}}
        ]
        assert "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" in deployment.job_variables["env"]
