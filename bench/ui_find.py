"""Finding things at scale: the audit browser, the requests list, versions and "my submissions",
through the real app (in-process ASGI client, signed in through the form).

Seeded in bulk (seed.py): 10,000 models with 10 versions each (100,000 versions, and their
110,000 audit entries, more than the 50,000 the target names), plus 20,000 approval requests
(one version in five; decided ones with a decision each). The signed-in user approves in every
environment and registered every version, so "waiting for me" and "my submissions" match the
most rows they can. Lists count to 10,000 and then say "more than" (services/search.py).
Reports p50/p99 in ms per page; the target is p99 < 100 ms.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from databases import Database
from fastapi.testclient import TestClient
from seed import ACTOR, _insert, seed_versions, settle
from sqlalchemy import text
from ui import _timings

from signoff.adapters.passwords import hash_password
from signoff.bootstrap import bootstrap
from signoff.config import Settings
from signoff.entrypoints.api import create_app
from signoff.services import accounts

MODELS, VERSIONS, EVERY = 10_000, 10, 5
APPROVERS = [f"approver-{i:02d}" for i in range(20)]
STATES = ("approved", "approved", "rejected", "open", "expired")


def seed_requests(engine: Any, envs: list[str]) -> int:
    """One request for every EVERY-th version, in a rotating environment and state."""
    requests, decisions = [], []
    start = datetime.now(UTC) - timedelta(days=365)
    with engine.begin() as conn:
        version_ids = [tuple(r) for r in conn.execute(text("SELECT id, model_id FROM model_versions ORDER BY id"))]
        for n, (version_id, model_id) in enumerate(version_ids[::EVERY], start=1):
            state, env = STATES[n % len(STATES)], envs[n % len(envs)]
            created = start + timedelta(minutes=25 * n)
            decided = created + timedelta(hours=2) if state in ("approved", "rejected") else None
            requests.append({"id": n, "model_id": model_id, "version_id": version_id, "env": env, "kind": "approval",
                             "state": state, "requested_by": ACTOR, "reason": "", "evidence": {}, "gate_results": [],
                             "policy": {}, "digest": None, "created_at": created,
                             "expires_at": created + timedelta(days=7), "decided_at": decided})
            if decided is not None:
                decisions.append({"id": len(decisions) + 1, "request_id": n, "actor": APPROVERS[n % len(APPROVERS)],
                                  "verdict": "approve" if state == "approved" else "reject", "comment": "",
                                  "groups": ["ml-reviewers"], "digest": None, "at": decided})
        _insert(conn, "approval_requests", requests)
        _insert(conn, "decisions", decisions)
        if conn.dialect.name == "postgresql":
            for table in ("approval_requests", "decisions"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    return len(requests)


def _signed_in(http: TestClient, name: str, password: str) -> None:
    import re

    page = http.get("/signin").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = http.post("/signin", data={"name": name, "password": password, "csrf_token": token, "next": "/audit"},
                         follow_redirects=False)
    assert response.status_code == 303, response.text


def run_ui_find_bench(database: Database | None = None) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        settings.database_url = database.fresh_url(Path(tmp), "uifind")
        ctx = bootstrap(settings, migrate_schema=True)
        try:
            order = list(ctx.workflow.order)
            started = time.perf_counter()
            seeded = seed_versions(ctx.engine, models=[f"model-{i:05d}" for i in range(MODELS)], versions=VERSIONS,
                                   envs=order)
            requests = seed_requests(ctx.engine, order)
            settle(ctx.engine)
            seconds = time.perf_counter() - started
            # The registrant of every seeded version, able to approve everywhere: the widest lists.
            accounts.add_user(uow=ctx.uow(), name=ACTOR, actor="bench", groups=["ml-reviewers"],
                              password_hash=hash_password("bench-pass-1"))
            month = (datetime.now(UTC) - timedelta(days=200)).date()
            window = f"since={month}&until={month + timedelta(days=30)}"
            decided = f"decided_from={month}&decided_to={month + timedelta(days=30)}"
            with TestClient(create_app(ctx)) as http:
                _signed_in(http, ACTOR, "bench-pass-1")
                pages = {
                    "audit_first_page": ("/audit", "of more than 10,000 entries · page 1"),
                    "audit_page_1000": ("/audit?page=1000", "entries · page 1000"),
                    "audit_by_actor": (f"/audit?actor={ACTOR}", "of more than 10,000 entries"),
                    "audit_by_unknown_actor": ("/audit?actor=nobody", "No entry matches"),
                    "audit_by_action": ("/audit?action=model.created", f"of {MODELS} entries"),
                    "audit_by_model": ("/audit?model=model-04242", f"of {VERSIONS + 1} entries"),
                    "audit_last_month": (f"/audit?{window}", "entries"),
                    "audit_action_in_month": (f"/audit?action=model.created&{window}", "entries"),
                    "requests_first_page": ("/requests", "of more than 10,000 requests"),
                    "requests_approved_in_prod": ("/requests?state=approved&env=prod", "requests"),
                    "requests_decided_in_month": (f"/requests?state=approved&env=prod&{decided}", "requests"),
                    "requests_waiting_for_me": ("/requests?show=waiting", "requests"),
                    "requests_mine": ("/requests?show=mine", "of more than 10,000 requests"),
                    "requests_model_search": ("/requests?model=model-0424", "requests"),
                    "submissions_first_page": ("/submissions", "of more than 10,000 versions"),
                    "submissions_waiting_in_test": ("/submissions?env=test&state=waiting_for_approval", "versions"),
                    "versions_approved_in_prod": ("/versions?env=prod&state=approved", "versions"),
                    "versions_by_model": ("/versions?model=model-0424", "of 100 versions"),
                }
                out: dict[str, Any] = {name: _timings(http, path, expect) for name, (path, expect) in pages.items()}
        finally:
            ctx.close()
    out["seeded"] = {"models": seeded["models"], "versions": seeded["versions"],
                     "audit_entries": seeded["audit_entries"], "requests": requests, "seconds": round(seconds, 1)}
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run_ui_find_bench(), indent=2))
