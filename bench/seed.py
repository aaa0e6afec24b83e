"""Seed many model versions fast: bulk INSERTs of what `registry.register` would have written.

For each version: its `model_versions` row, one `version_stages` row per environment
(PendingManualApproval), its `signoff.version.registered` event in the outbox (already
dispatched, so workers find nothing to do) and its `version.registered` audit entry, sealed
onto the hash chain, so `signoff audit verify` still passes. Models get their
`model.created` entry and `latest_version`, so the next registration continues the numbering.
Rows are built from the domain objects (ModelVersion, Event, AuditEntry) and handed to the
driver (COPY on PostgreSQL); ids are assigned here and PostgreSQL's sequences moved past them. 100,000 versions take seconds instead of the minutes the use case would need.
Run it on a schema that is current and before any server writes to the database.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, text

from signoff.adapters.db.tables import AuditRow, ModelRow, OutboxRow, VersionRow
from signoff.domain import events
from signoff.domain.audit import GENESIS, AuditEntry, seal
from signoff.domain.models import Lineage, ModelVersion, Stage

ACTOR = "seed"
TABLES = ("models", "model_versions", "version_stages", "outbox", "audit_log")  # foreign-key order
CHUNK = 10_000  # versions per round of INSERTs


def _max_id(conn: Any, column: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one())


def _plain(value: Any, dialect: str) -> Any:
    """A value as the column's type stores it: JSON as text, datetimes as naive UTC."""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, datetime):
        naive = value.astimezone(UTC).replace(tzinfo=None)
        # SQLAlchemy's SQLite DATETIME storage format, so the ORM reads these back.
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else naive
    return value


def _insert(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """Straight to the driver: COPY on PostgreSQL, executemany on SQLite (the ORM's per-value
    processing would take longer than the database)."""
    if not rows:
        return
    columns = list(rows[0])
    dialect = conn.dialect.name
    values = [tuple(_plain(r[c], dialect) for c in columns) for r in rows]
    cursor = conn.connection.driver_connection.cursor()
    quoted = ", ".join(f'"{c}"' for c in columns)
    try:
        if dialect == "postgresql":
            with cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({marks})", values)
    finally:
        cursor.close()


def seed_versions(engine: Engine, *, models: Sequence[str], versions: int, envs: Sequence[str],
                  first_env: str | None = None) -> dict[str, Any]:
    """Create `models` (new names) with `versions` versions each; returns what was written."""
    first_env = first_env or envs[0]
    start = datetime.now(UTC) - timedelta(days=365)
    pending: dict[str, list[dict[str, Any]]] = {t: [] for t in TABLES}
    written = dict.fromkeys(TABLES, 0)
    with engine.begin() as conn:
        model_id, version_id = _max_id(conn, ModelRow.id), _max_id(conn, VersionRow.id)
        event_id, audit_id = _max_id(conn, OutboxRow.id), _max_id(conn, AuditRow.id)
        tail = conn.execute(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).scalar()
        prev = tail or GENESIS

        def audit(at: datetime, action: str, subject: str, model: str, after: dict[str, Any]) -> None:
            nonlocal prev, audit_id
            entry = seal(AuditEntry(None, at, ACTOR, action, subject, model, None, after), prev)
            prev, audit_id = entry.hash, audit_id + 1
            pending["audit_log"].append({"id": audit_id, "at": at, "actor": ACTOR, "action": action,
                                         "subject": subject, "model": model, "before": None, "after": after,
                                         "prev_hash": entry.prev_hash, "hash": entry.hash})

        def flush() -> None:
            for table, rows in pending.items():  # in foreign-key order
                _insert(conn, table, rows)
                written[table] += len(rows)
                rows.clear()

        for m, name in enumerate(models):
            model_id += 1
            created = start + timedelta(seconds=m)
            pending["models"].append({"id": model_id, "name": name, "description": "", "owner_group": None,
                                      "tags": {}, "latest_version": versions, "created_at": created,
                                      "created_by": ACTOR})
            audit(created, "model.created", f"models/{name}", name, {"name": name, "owner_group": None})
            for number in range(1, versions + 1):
                version_id += 1
                at = created + timedelta(milliseconds=number)
                v = ModelVersion(model=name, number=number, artifact_uri=f"s3://bench/{name}/{number}.pkl",
                                 metrics={"accuracy": 0.9}, lineage=Lineage(), registered_by=ACTOR,
                                 registered_at=at, stages={e: Stage.PENDING for e in envs})
                pending["model_versions"].append({
                    "id": version_id, "model_id": model_id, "number": number, "artifact_uri": v.artifact_uri,
                    "digest": None, "flavor": None, "metadata": {}, "metrics": v.metrics, "run_id": None,
                    "code_commit": None, "dataset_hash": None, "registered_by": ACTOR, "registered_at": at})
                pending["version_stages"].extend({"version_id": version_id, "env": e, "status": Stage.PENDING.value,
                                                  "updated_at": at, "updated_by": ACTOR} for e in envs)
                event = events.Event(events.REGISTERED, v.subject, {
                    "model": name, "version": number, "artifact_uri": v.artifact_uri, "digest": None,
                    "flavor": None, "metrics": v.metrics, "registered_by": ACTOR, "owner_group": None,
                    "first_env": first_env})
                event_id += 1
                pending["outbox"].append({"id": event_id, "event_id": event.id, "type": event.type,
                                          "subject": event.subject, "time": at, "payload": event.envelope(at),
                                          "dispatched_at": at})
                audit(at, "version.registered", v.subject, name, v.to_dict())
            if len(pending["model_versions"]) >= CHUNK:  # bounded memory for 100,000 versions
                flush()
        flush()
        if conn.dialect.name == "postgresql":
            for table in ("models", "model_versions", "outbox", "audit_log"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    return {"models": written["models"], "versions": written["model_versions"],
            "stage_rows": written["version_stages"], "outbox_rows": written["outbox"],
            "audit_entries": written["audit_log"]}


def settle(engine: Engine) -> None:
    """After a bulk load, bring the database to the state a long-running one is in: planner
    statistics current, nothing left for autovacuum (PostgreSQL), the WAL checkpointed into
    the database file (SQLite), so background work does not land in the measurements."""
    raw = engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            driver.autocommit = True  # VACUUM refuses to run inside a transaction
            driver.execute("VACUUM (ANALYZE)")
            with contextlib.suppress(Exception):  # CHECKPOINT needs a superuser (or pg_checkpoint)
                driver.execute("CHECKPOINT")
        else:
            driver.execute("ANALYZE")
            driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.invalidate()  # autocommit stays off the pool
