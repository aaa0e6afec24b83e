"""Schema migrations with Alembic, driven from code (no alembic.ini to ship or find).

Alembic is imported only when there is migrating to do: every process start checks the schema,
and when it is already current (the usual case) that check is two cheap reads, which keeps
`signoff server` start-up fast.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _declared_heads() -> frozenset[str]:
    return _declared()[1]


@cache
def _declared() -> tuple[frozenset[str], frozenset[str]]:
    """(all revisions, heads) read from the revision files' `revision`/`down_revision`
    assignments, without Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if node.targets[0].id in ("revision", "down_revision"):
                    values[node.targets[0].id] = ast.literal_eval(node.value)
        if "revision" in values:
            revisions.add(values["revision"])
            down = values.get("down_revision")
            parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions), frozenset(revisions - parents)


def current_revisions(engine: Engine) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _stored_revisions(engine: Engine) -> set[str] | None:
    try:
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # no table yet (fresh database): the caller migrates
        return None


def current_revision(engine: Engine) -> str | None:
    return ",".join(sorted(current_revisions(engine))) or None


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the schema to `revision`; safe to run from several processes on SQLite."""
    if revision == "heads" and _stored_revisions(engine) == set(_declared_heads()):
        return
    from alembic import command

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def is_current(engine: Engine) -> bool:
    stored = _stored_revisions(engine)
    return stored is not None and stored == set(_declared_heads())


def needs_upgrade(engine: Engine) -> bool:
    """No schema yet, or one this code has migrations for that were not applied. A schema
    migrated by a newer release (revisions this code does not know) is not refused: that is an
    older process still running during a rolling upgrade."""
    stored = _stored_revisions(engine)
    if not stored:
        try:  # no version table, or no database to read it from?
            with engine.connect():
                pass
        except Exception as exc:
            from signoff.errors import ServiceUnavailable

            raise ServiceUnavailable(f"cannot reach the database: {str(exc).splitlines()[0][:200]}") from None
        return True
    known, heads = _declared()
    return stored != set(heads) and stored <= known
