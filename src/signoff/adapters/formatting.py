"""How numbers and times read to people, the same in web pages and in emails (Jinja2 filters)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def when(value: Any) -> str:
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "" if value is None else str(value)


def num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.1f}"
    return str(value)


def delta(value: Any) -> str:
    if value is None:
        return ""
    if not value:
        return "±0"
    return f"{value:+.4f}".rstrip("0").rstrip(".")


def short(value: Any, n: int = 12) -> Any:
    return (value[:n] + "…") if isinstance(value, str) and len(value) > n else value


FILTERS = {"when": when, "num": num, "delta": delta, "short": short}
