"""Plain-text renderings of events for people: an email's subject and body, a Slack line.

Kept pure so every channel says the same thing; the web issue replaces the email body with
templates, and these stay the fallback for events no template knows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from signoff.domain import events


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    link: str | None


def version_link(public_url: str, data: dict[str, Any]) -> str | None:
    model, version = data.get("model"), data.get("version")
    if not model or version is None:
        return None
    return f"{public_url.rstrip('/')}/models/{model}/versions/{version}"


def _headline(etype: str, data: dict[str, Any], subject: str) -> tuple[str, list[str]]:
    model, version, env = data.get("model"), data.get("version"), data.get("env")
    what = f"{model} v{version}"
    if etype == events.APPROVAL_DECIDED:
        verb = "approved" if data.get("decision") == "approve" else "rejected"
        lines = [f"{data.get('actor')} {verb} version {version} of {model} in {env}."]
        if data.get("comment"):
            lines.append(f"Comment: {data['comment']}")
        state = data.get("state")
        if state == "open" and data.get("missing"):
            lines.append(f"The request stays open; it still needs {data['missing']}.")
        elif state:
            lines.append(f"Request {data.get('request_id')} is now {state}.")
        return f"{data.get('actor')} {verb} {what} in {env}", lines
    if etype == events.APPROVAL_REQUESTED:
        gates = data.get("gate_results") or []
        lines = [f"{data.get('requested_by')} asks for approval of version {version} of {model} in {env}."]
        lines += [f"  gate {g.get('gate')}: {'pass' if g.get('passed') else 'FAIL'}" for g in gates]
        return f"approval requested: {what} in {env}", lines
    if etype == events.VERSION_APPROVED:
        approvers = ", ".join(data.get("approved_by") or [])
        return f"{what} is live in {env}", [f"Version {version} of {model} is live in {env}, approved by {approvers}."]
    if etype == events.VERSION_REJECTED:
        line = f"{data.get('rejected_by')} rejected version {version} of {model} in {env}: {data.get('comment', '')}"
        return f"{what} rejected in {env}", [line]
    if etype == events.REGISTERED:
        return f"{what} registered", [f"{data.get('registered_by')} registered version {version} of {model}."]
    return f"{etype}: {subject}", ["Event data:", json.dumps(data, indent=2, sort_keys=True, default=str)]


def render(event: dict[str, Any], public_url: str, subject: str | None = None) -> Rendered:
    """Subject, body and link for one CloudEvent."""
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    headline, lines = _headline(str(event.get("type")), data or {}, str(event.get("subject", "")))
    link = version_link(public_url, data or {})
    body = "\n".join(lines)
    if link:
        body += f"\n\nOpen it in signoff: {link}"
    body += f"\n\n-- \nsignoff event {event.get('type')} {event.get('id')}\n"
    return Rendered(subject or f"[signoff] {headline}", body, link)
