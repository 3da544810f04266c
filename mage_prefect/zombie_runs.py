"""Flow runs whose process died ("zombies") end Crashed: Prefect's own mechanism for deployment
runs (docs.prefect.io, "How to detect and respond to zombie flows") — the runs emit heartbeats, and
an automation marks a run Crashed when they stop. `mage-prefect deploy` sets both up."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


def stop_heartbeats_at_once() -> None:
    """Make the flow engine's heartbeat thread wait on its stop signal rather than sleep in whole
    seconds: Prefect's (3.9) joins it at the end of every flow run, which costs up to a second."""
    import prefect.flow_engine as engine_module

    if engine_module._send_heartbeats is not _heartbeats:
        engine_module._send_heartbeats = _heartbeats


@contextmanager
def _heartbeats(engine, join_on_exit: bool = True) -> Iterator[None]:
    """prefect.flow_engine._send_heartbeats, with an interruptible wait between heartbeats."""
    from prefect.flow_engine import MINIMUM_HEARTBEAT_INTERVAL

    seconds = engine.heartbeat_seconds
    if seconds is None:
        yield
        return
    seconds = max(seconds, MINIMUM_HEARTBEAT_INTERVAL)
    resource, related = engine._build_heartbeat_event_template()
    stop = threading.Event()

    def beat() -> None:
        while not (engine.flow_run and engine.flow_run.state and engine.flow_run.state.is_final()):
            try:
                engine._emit_flow_run_heartbeat(resource, related)
            except Exception:  # as Prefect's: a missed heartbeat is not the run's failure
                engine.logger.debug("Failed to emit heartbeat", exc_info=True)
            if stop.wait(seconds):
                return

    thread = threading.Thread(target=contextvars.copy_context().run, args=(beat,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        if join_on_exit:
            thread.join(timeout=2)
