"""notifications.py and notification_config reading: messages, channels (a real local HTTP server
and a real local SMTP server), alert_on, SLA, and the loader's merge and checks."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prefect.states import Completed, Failed

from mage_prefect.notifications import RunFacts, message, notify, notifying, webhook_urls
from mage_prefect.project.contract import NotificationEntry as NotificationConfig
from mage_prefect.project.loader import read_project

LOG = logging.getLogger("test.notifications")
WHEN = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
FACTS = RunFacts("etl", "nightly", WHEN, "http://ui/runs/flow-run/1")


@pytest.fixture()
def webhooks():
    """A local HTTP server: (path, JSON body) of each POST; its base URL is `.url`."""
    received: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(500 if self.path == "/broken" else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()


@pytest.fixture()
def smtp():
    """A local SMTP server (aiosmtpd): the messages it received, and its port."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Keep(Message):
        def handle_message(self, message):
            received.append(message)

    with socket.socket() as probe:  # a free port: the controller checks it started by connecting
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keep(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def test_default_messages_are_mages_and_templates_fill_in_names():
    config = NotificationConfig()
    subject, text = message(config, "failure", RunFacts("etl", "nightly", WHEN, "http://ui/run", error="boom"))
    assert subject == "Failed to run Mage pipeline etl"
    assert text == (
        "Failed to run Pipeline `etl` with Trigger `nightly` at execution time `2026-11-27 06:00:00+00:00`.\n"
        "Open http://ui/run to check pipeline run results and logs.\nError: boom"
    )
    templated = NotificationConfig(
        message_templates={
            "success": {"title": "{pipeline_uuid} ok", "details": "{pipeline_uuid} {unknown} {execution_time}"}
        }
    )
    assert message(templated, "success", FACTS) == ("etl ok", "etl {unknown} 2026-11-27 06:00:00+00:00")


def test_notify_posts_to_each_webhook_only_for_alerts_asked_for(webhooks):
    url, received = webhooks
    config = NotificationConfig(
        alert_on=["trigger_success"],
        slack_config={"webhook_url": f"{url}/slack"},
        discord_config={"webhook_url": f"{url}/discord"},
    )

    notify(config, "failure", FACTS, LOG)  # not in alert_on
    notify(config, "success", FACTS, LOG)

    text = message(config, "success", FACTS)[1]
    assert sorted(received) == [("/discord", {"content": text}), ("/slack", {"text": text})]


def test_email_goes_through_smtp_and_a_broken_channel_is_only_logged(smtp, webhooks, caplog):
    port, mails = smtp
    url, _ = webhooks
    config = NotificationConfig(
        slack_config={"webhook_url": f"{url}/broken"},
        email_config={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "smtp_mail_from": "mage@example.com",
            "to_emails": ["team@example.com"],
        },
    )

    with caplog.at_level(logging.WARNING):
        notify(config, "failure", FACTS, LOG)

    [mail] = mails
    assert (mail["Subject"], mail["To"], mail["From"]) == (
        "Failed to run Mage pipeline etl",
        "team@example.com",
        "mage@example.com",
    )
    assert "Failed to run Pipeline `etl`" in mail.get_payload()
    assert "notification via slack_config failed: HTTPStatusError" in caplog.text


def test_a_run_past_its_sla_sends_passed_sla_then_its_outcome(webhooks):
    url, received = webhooks
    config = NotificationConfig(
        alert_on=["trigger_passed_sla", "trigger_failure"], slack_config={"webhook_url": f"{url}/slack"}
    )
    started = RunFacts("etl", "hourly", datetime.now(UTC) - timedelta(seconds=59.7), "u")

    def slow_run():  # still going when the SLA passes, 0.3 s from now
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        return Failed(message="block(s) failed: load")

    assert notifying(config, started, 60, LOG, slow_run).is_failed()

    texts = [body["text"] for _, body in received]
    assert texts[0].startswith("SLA missed for pipeline `etl` with Trigger `hourly`")
    assert texts[1].startswith("Failed to run Pipeline `etl`") and texts[1].endswith("Error: block(s) failed: load")


def test_a_run_within_its_sla_sends_no_passed_sla(webhooks):
    url, received = webhooks
    config = NotificationConfig(alert_on=["trigger_passed_sla"], slack_config={"webhook_url": f"{url}/slack"})
    notifying(config, RunFacts("etl", "t", datetime.now(UTC), "u"), 1, LOG, Completed)
    time.sleep(1.3)
    assert received == []


def test_a_run_that_raises_sends_the_failure_message_and_still_raises(webhooks):
    url, received = webhooks
    config = NotificationConfig(slack_config={"webhook_url": f"{url}/slack"})

    def crash():
        raise RuntimeError("the API went away")

    with pytest.raises(RuntimeError, match="went away"):
        notifying(config, FACTS, None, LOG, crash)
    [(_, body)] = received
    assert body["text"].endswith("Error: RuntimeError: the API went away")


def test_a_template_that_cannot_be_filled_in_falls_back_to_the_default_message(webhooks, caplog):
    url, received = webhooks
    config = NotificationConfig(
        alert_on=["trigger_success"],
        slack_config={"webhook_url": f"{url}/slack"},
        message_templates={"success": {"details": 'done {"rows": 1}'}},
    )
    with caplog.at_level(logging.WARNING):
        notify(config, "success", FACTS, LOG)
    [(_, body)] = received
    assert body["text"].startswith("Successfully ran Pipeline `etl`")
    assert "message_templates.success cannot be filled in" in caplog.text


def test_the_pipelines_notification_config_is_merged_over_the_projects_and_checked(tmp_path):
    (tmp_path / "metadata.yaml").write_text(
        "notification_config:\n  alert_on: [trigger_success]\n  slack_config: {webhook_url: http://project}\n"
        "  telegram_config: {webhook_url: x}\n"
        "  teams_config: {webhook_url: \"{{ env_var('NO_SUCH_VAR') }}\"}\n"
    )  # the project file is rendered
    (tmp_path / "pipelines" / "p").mkdir(parents=True)
    (tmp_path / "pipelines" / "p" / "metadata.yaml").write_text(
        "uuid: p\nblocks: []\nnotification_config:\n  slack_config: {webhook_url: http://pipeline}\n"
    )
    (tmp_path / "pipelines" / "q").mkdir(parents=True)
    (tmp_path / "pipelines" / "q" / "metadata.yaml").write_text(
        "uuid: q\nblocks: []\nnotification_config:\n  alert_on: [trigger_always]\n  slak_config: {}\n"
    )
    (tmp_path / "pipelines" / "r").mkdir(parents=True)
    (tmp_path / "pipelines" / "r" / "metadata.yaml").write_text(
        "uuid: r\nblocks: []\nnotification_config:\n"
        "  message_templates:\n    failure: {details: 'failed: {error} {pipeline_uuid.upper}', subject: 'x {'}\n"
    )

    project, diagnostics = read_project(tmp_path)

    config = project.pipelines["p"].notification_config  # the pipeline's keys replace the project's (shallow)
    assert config.alert_on == ["trigger_success"] and config.slack_config.webhook_url == "http://pipeline"
    assert webhook_urls(config.teams_config) == []  # 'None', what the unset variable renders: Mage sends nothing
    found = {(d.file.parent.name, d.severity, d.message) for d in diagnostics}
    assert (
        tmp_path.name,
        "warning",
        "telegram_config notifications are not sent; mage-prefect does not support this yet",
    ) in found
    assert ("q", "error", "notification_config: unknown key 'slak_config' (Mage refuses it)") in found
    assert any(folder == "q" and severity == "error" and "alert_on.0" in text for folder, severity, text in found)
    warned = sorted(text for folder, severity, text in found if folder == "r" and severity == "warning")
    assert len(warned) == 3
    assert "'{pipeline_uuid.upper}' is not filled in" in warned[2] and "'x {' cannot be filled in" in warned[1]
    assert "Mage 0.9.80 names the subject 'title'" in warned[0]
