"""`signoff prune`: delete what `[retention]` lets go (workers also do it every `interval`)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from signoff.entrypoints.cli import _common
from signoff.entrypoints.cli._common import JSON_OPTION, console, print_json

LABELS = {"deliveries": "succeeded deliveries", "dead_letters": "dead letters", "attempts": "delivery attempts",
          "events": "sent events", "sessions": "expired web sessions", "tokens": "expired or revoked tokens"}


# Top-level commands, merged into `signoff` itself (cli/__init__.py).
prune_app = typer.Typer()


@prune_app.command()
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go; delete nothing."),
    older_than: Optional[int] = typer.Option(None, "--older-than", min=1, metavar="DAYS",
                                             help="One age for every kind, overriding [retention]."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete sent events, finished deliveries and their attempts, expired sessions and tokens older
    than [retention] allows. Audit entries, decisions, signatures and parameter history never go."""
    from signoff.bootstrap import bootstrap, retention_policy
    from signoff.config import load_settings
    from signoff.services import retention

    overrides: dict[str, object] = {}
    if _common.state.database_url:
        overrides["database_url"] = _common.state.database_url
    settings = load_settings(_common.state.config, **overrides)
    if older_than is not None:
        for kind in ("events", "deliveries", "dead_letters", "sessions", "tokens"):
            setattr(settings.retention, f"{kind}_days", older_than)
    ctx = bootstrap(settings, sync_users=False, sync_rules=False)
    try:
        report = retention.prune(uow_factory=ctx.read_uow if dry_run else ctx.uow_without_dispatch, clock=ctx.clock,
                                 policy=retention_policy(settings), dry_run=dry_run)
    finally:
        ctx.close()
    if as_json:
        print_json(report.to_dict())
        return
    table = Table("what", "would go" if dry_run else "deleted", "older than")
    for kind, count in report.deleted.items():
        cutoff = report.cutoffs.get("deliveries" if kind == "attempts" else kind)
        table.add_row(LABELS[kind], f"{count:,}", cutoff.isoformat(timespec="seconds") if cutoff else "kept")
    console.print(table)
