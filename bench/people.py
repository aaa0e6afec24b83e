"""Sign-in under guessing: 200 wrong passwords on `POST /api/v1/sessions` (in-process app), with
the default throttle. Reports how many were checked (argon2) before the lock, the cost of a
checked failure (password hash + counter upsert + audit entry and event) and of a refused one."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from databases import Database
from fastapi.testclient import TestClient

from signoff.adapters.passwords import hash_password
from signoff.bootstrap import bootstrap
from signoff.config import Settings
from signoff.entrypoints.api import create_app
from signoff.services import accounts


def run_signin_bench(database: Database | None = None, attempts: int = 200) -> dict[str, Any]:
    database = database or Database("sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp))
        settings.database_url = database.fresh_url(Path(tmp), "signin")
        ctx = bootstrap(settings, migrate_schema=True)
        try:
            accounts.add_user(uow=ctx.uow(), name="dana", actor="bench", password_hash=hash_password("right-one"))
            http = TestClient(create_app(ctx), client=("10.1.2.3", 40000))
            timings: dict[int, list[float]] = {}
            began = time.perf_counter()
            for i in range(attempts):
                t0 = time.perf_counter()
                status = http.post("/api/v1/sessions", json={"username": "dana", "password": f"guess-{i}"}).status_code
                timings.setdefault(status, []).append((time.perf_counter() - t0) * 1000)
            total = time.perf_counter() - began
            http.close()
        finally:
            ctx.close()
    checked, refused = timings.get(401, []), timings.get(429, [])
    return {
        "signin_guesses": attempts,
        "signin_guesses_checked": len(checked) + 1,  # the failure that locks is checked too
        "signin_guesses_answered_429": len(refused),  # the locking failure, then every refusal
        "signin_guesses_refused_unchecked": max(0, len(refused) - 1),
        "signin_guesses_seconds": round(total, 2),
        "signin_checked_failure_ms_p50": round(statistics.median(checked), 1) if checked else None,
        "signin_refused_ms_p50": round(statistics.median(refused), 2) if refused else None,
    }
