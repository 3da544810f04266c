"""`notification_config` of a project or pipeline: checked against its contract, plus what Mage
would accept but mage-prefect cannot send or fill in (warnings)."""

from __future__ import annotations

import string
from typing import Any

from .contract import UNSENT_CHANNELS, WEBHOOK_CHANNELS, NotificationEntry
from .entries import checked
from .errors import Diagnostic
from .models import TEMPLATE_NAMES
from .yamlfile import YamlDocument

KEY = ("notification_config",)


def read_notification_config(doc: YamlDocument, raw: Any, into: list[Diagnostic]) -> dict[str, Any]:
    """The `notification_config` mapping of `doc`, checked ({} when absent or unusable): merged
    shallowly with the project's, as Mage merges them, before it becomes a NotificationEntry."""
    if raw is None:
        return {}
    config = checked(NotificationEntry, raw, doc, KEY, into, what="notification_config")
    if config is None:
        return {}
    for channel in UNSENT_CHANNELS:
        if getattr(config, channel) is not None:
            into.append(
                doc.diagnostic(
                    KEY + (channel,),
                    f"{channel} notifications are not sent; mage-prefect does not support this yet",
                    f"use one of {', '.join(WEBHOOK_CHANNELS)} or email_config",
                    severity="warning",
                )
            )
    templates = config.message_templates
    for event in ("success", "failure", "passed_sla"):
        template = getattr(templates, event) if templates else None
        if template is None:
            continue
        if template.subject is not None:
            into.append(
                doc.diagnostic(
                    KEY + ("message_templates", event, "subject"),
                    "Mage 0.9.80 names the subject "
                    "'title': a template with 'subject' is ignored by Mage (mage-prefect reads it "
                    "as the title)",
                    "rename 'subject' to 'title'",
                    severity="warning",
                )
            )
        for part in ("title", "subject", "summary", "details"):
            problem = template_problem(getattr(template, part) or "")
            if problem:
                into.append(
                    doc.diagnostic(
                        KEY + ("message_templates", event, part),
                        problem,
                        "write {{ and }} for literal braces",
                        severity="warning",
                    )
                )
    return raw


def template_problem(text: str) -> str | None:
    """Why a message template would not be filled in as written: only plain `{name}` fields of
    TEMPLATE_NAMES are. At run time other names are sent as written, and a template that cannot be
    filled in at all is replaced by Mage's default message."""
    try:
        fields = [
            (name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text) if name is not None
        ]
    except ValueError as exc:
        return f"message template {text!r} cannot be filled in: {exc}"
    for name, spec, conversion in fields:
        if name not in TEMPLATE_NAMES or spec or conversion:
            return (
                f"message template field '{{{name}}}' is not filled in: use plain {{name}} fields of "
                f"{', '.join(TEMPLATE_NAMES)}"
            )
    return None
