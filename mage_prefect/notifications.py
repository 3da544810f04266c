"""Mage's pipeline-run notifications (`notification_config`): a trigger run's success, failure or
missed SLA, sent to Slack, Teams, Discord and Google Chat webhooks and by email. Sending never fails
the run: a channel that cannot be reached is logged."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from .project.contract import WEBHOOK_CHANNELS, EmailEntry, NotificationEntry
from .redaction import redact

ALERT_OF = {"success": "trigger_success", "failure": "trigger_failure", "passed_sla": "trigger_passed_sla"}
# What each webhook takes: Discord's API names the text `content`, the others `text`.
BODY_FIELD = {"discord_config": "content"}


@dataclass(frozen=True)
class RunFacts:
    """What a message says about the run: the names Mage's message templates use (TEMPLATE_NAMES)."""

    pipeline_uuid: str
    pipeline_schedule_name: str | None
    execution_time: datetime
    pipeline_run_url: str
    error: str = ""


def notifying(config: NotificationEntry, facts: RunFacts, sla: float | None, logger, run: Callable[[], Any]) -> Any:
    """Call `run()` (a trigger run; it returns the final state) with Mage's messages: passed SLA once
    `sla` seconds after the execution time pass with the run unfinished, then success or failure
    (also when `run` raises)."""
    timer = None
    if sla and ALERT_OF["passed_sla"] in config.alert_on:
        delay = (facts.execution_time + timedelta(seconds=sla) - datetime.now(UTC)).total_seconds()
        timer = threading.Timer(max(delay, 0), notify, (config, "passed_sla", facts, logger))
        timer.daemon = True
        timer.start()
    try:
        state = run()
    except BaseException as exc:
        if timer is not None:
            timer.cancel()
        notify(config, "failure", replace(facts, error=f"{type(exc).__name__}: {exc}"), logger)
        raise
    if timer is not None:
        timer.cancel()
    if state.is_completed():
        notify(config, "success", facts, logger)
    elif state.is_failed():
        notify(config, "failure", replace(facts, error=state.message or ""), logger)
    return state


def notify(config: NotificationEntry, event: str, facts: RunFacts, logger) -> None:
    """Send the `event` ('success', 'failure' or 'passed_sla') message when `alert_on` asks for it."""
    if ALERT_OF[event] not in config.alert_on:
        return
    try:
        subject, details = message(config, event, facts)
    except (ValueError, LookupError, TypeError, AttributeError) as exc:  # a template validate did not see
        logger.warning(
            f"notification_config.message_templates.{event} cannot be filled in ({exc}): sending Mage's default message"
        )
        subject, details = message(config.model_copy(update={"message_templates": None}), event, facts)
    subject, details = redact(subject), redact(details)
    for channel in WEBHOOK_CHANNELS:
        for url in webhook_urls(getattr(config, channel)):
            _send(logger, channel, _post, url, {BODY_FIELD.get(channel, "text"): details})
    if config.email_config is not None and config.email_config.to_emails:
        _send(logger, "email_config", _email, config.email_config, subject, details)


def message(config: NotificationEntry, event: str, facts: RunFacts) -> tuple[str, str]:
    """The subject and text: Mage's defaults, or the project's `message_templates` for the event."""
    names = {**facts.__dict__, "execution_time": str(facts.execution_time)}
    summary, subject = {
        "success": (
            f"Successfully ran Pipeline `{facts.pipeline_uuid}` with Trigger `{facts.pipeline_schedule_name}` "
            f"at execution time `{facts.execution_time}`.",
            f"Successfully ran Pipeline {facts.pipeline_uuid}",
        ),
        "failure": (
            f"Failed to run Pipeline `{facts.pipeline_uuid}` with Trigger `{facts.pipeline_schedule_name}` "
            f"at execution time `{facts.execution_time}`.",
            f"Failed to run Mage pipeline {facts.pipeline_uuid}",
        ),
        "passed_sla": (
            f"SLA missed for pipeline `{facts.pipeline_uuid}` with Trigger `{facts.pipeline_schedule_name}` "
            f"at execution time `{facts.execution_time}`.",
            f"SLA missed on pipeline {facts.pipeline_uuid}",
        ),
    }[event]
    details = f"{summary}\nOpen {facts.pipeline_run_url} to check pipeline run results and logs."
    if facts.error:
        details += f"\nError: {facts.error}"
    template = getattr(config.message_templates, event) if config.message_templates else None
    if template is not None:
        title = template.title or template.subject  # `subject`: mage-prefect's earlier name for Mage's `title`
        subject = title.format_map(_Names(names)) if title else subject
        details = (template.details or template.summary or details).format_map(_Names(names))
    return subject, details


class _Names(dict):
    """Template names; an unknown `{name}` stays as written."""

    def __missing__(self, key) -> str:
        return "{" + str(key) + "}"


def _send(logger, channel: str, send, *args) -> None:
    try:
        send(*args)
    except Exception as exc:  # a notification never fails the run
        logger.warning(f"notification via {channel} failed: {type(exc).__name__}: {exc}")


def _post(url: str, body: dict) -> None:
    import httpx

    httpx.post(url, json=body, timeout=15).raise_for_status()


def webhook_urls(channel) -> list[str]:
    """A channel's webhook URLs; Mage sends nothing to an unset one or to 'None' (an unset env_var)."""
    urls = getattr(channel, "webhook_url", None)
    return [url for url in ([urls] if isinstance(urls, str) else urls or []) if url and url.strip() and url != "None"]


def _email(config: EmailEntry, subject: str, text: str) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = (
        subject,
        config.smtp_mail_from or config.smtp_user,
        ", ".join(config.to_emails),
    )
    mail.set_content(text)
    connect = smtplib.SMTP_SSL if config.smtp_ssl else smtplib.SMTP
    with connect(config.smtp_host, config.smtp_port, timeout=30) as server:
        if config.smtp_starttls and not config.smtp_ssl:
            server.starttls()
        if config.smtp_user:
            server.login(config.smtp_user, config.smtp_password or "")
        server.send_message(mail)
