"""Email bodies from Jinja2 templates (`signoff/templates/email/NAME.txt` and `NAME.html`).

Every email is multipart: a plain-text part that reads well on its own, and an HTML part with
inline styles (mail clients drop style sheets). Autoescaping is on for HTML only.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from signoff.adapters.formatting import FILTERS


class MailTemplates:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("signoff", "templates/email"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=StrictUndefined,
        )
        self.env.filters.update(FILTERS)

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str]:
        """(text, html) for template `name`."""
        text = self.env.get_template(f"{name}.txt").render(context)
        html = self.env.get_template(f"{name}.html").render(context)
        return text, html
