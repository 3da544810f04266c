"""Flow runs whose process died ("zombies") end Crashed: Prefect's own mechanism for deployment
runs (docs.prefect.io, "How to detect and respond to zombie flows") — the runs emit heartbeats, and
an automation marks a run Crashed when they stop. `mage-prefect deploy` sets both up."""

from __future__ import annotations

from datetime import timedelta

HEARTBEAT_SECONDS = 30  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY of deployment runs (Prefect's minimum)
MISSED_HEARTBEATS = 3  # a run is a zombie after this many heartbeats did not arrive
AUTOMATION = "mage-prefect: crash zombie flow runs"


def heartbeat_env() -> dict[str, str]:
    """The environment that makes a deployment's flow runs emit heartbeats."""
    return {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}


def ensure_automation(owner_tag: str) -> bool:
    """Create the automation (for flow runs tagged `owner_tag`) unless the server has it; whether
    it was created."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    try:
        Automation.read(name=AUTOMATION)
        return False
    except ValueError:  # Prefect's "automation not found"
        pass
    trigger = EventTrigger(
        after={"prefect.flow-run.heartbeat"},
        expect={
            "prefect.flow-run.heartbeat",
            *(f"prefect.flow-run.{s}" for s in ("Completed", "Failed", "Cancelled", "Crashed")),
        },
        match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
        match_related=ResourceSpecification(
            {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{owner_tag}"}
        ),
        for_each={"prefect.resource.id"},
        posture=Posture.Proactive,
        threshold=1,
        within=timedelta(seconds=HEARTBEAT_SECONDS * MISSED_HEARTBEATS),
    )
    action = ChangeFlowRunState(state=StateType.CRASHED, message="its heartbeats stopped: its process died")
    Automation(name=AUTOMATION, trigger=trigger, actions=[action]).create()
    return True
