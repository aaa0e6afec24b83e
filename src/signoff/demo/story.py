"""`signoff demo`: the whole story on real data and real models, in a temporary database.

Version 1 goes dev → test → uat → prod, each step opened by the metrics of a real batch
inference run (the code behind `signoff infer`). Version 2, trained on data with a unit bug,
drifts and fails the test gate, and is rejected. A hotfix is forced into prod with break-glass,
and prod is rolled back to the last version that was signed off there. Finally a tampered
artifact is refused. Kept apart from the CLI so tests and `make run` run exactly this script.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signoff.config import Settings
from signoff.demo.cast import DEMO_ENVIRONMENTS, DEMO_USERS, MODEL

Say = Callable[[str], None]


def demo_settings(home: Path) -> Settings:
    users = {name: {k: v for k, v in spec.items() if k != "role"} for name, spec in DEMO_USERS.items()}
    settings = Settings(home=home, users=users, environments=DEMO_ENVIRONMENTS)
    # The demo never touches a configured database, whatever $SIGNOFF_DATABASE_URL says.
    settings.database_url = f"sqlite:///{home / 'signoff.db'}"
    settings.artifact_root = str(home / "artifacts")
    return settings


def _refused(say: Say, action: Callable[[], Any]) -> None:
    from signoff.errors import SignoffError

    try:
        action()
    except SignoffError as exc:
        say(f"   [red]refused[/] ({exc.code}): {exc.message}")
    else:  # pragma: no cover - the story depends on the refusal
        raise AssertionError("the demo expected a refusal here")


def _gates(request: dict[str, Any]) -> str:
    marks = [f"{g['gate']}: {'[green]pass[/]' if g['passed'] else '[red]FAIL[/]'}" for g in request["gate_results"]]
    return ", ".join(marks) or "no gates"


def _promotion(client: Any, version: int, env: str) -> Any:
    """The request the inference report opened (by the default rule); opened by hand if no rule ran."""
    from signoff.errors import InvalidTransition

    try:
        return client.open_request(MODEL, version, env)
    except InvalidTransition:
        return client.request_promotion(MODEL, version, env, reason="inference report")


def _infer(say: Say, client: Any, env: str, holdout: Path, rows: int) -> Any:
    from signoff.demo.classifier import TARGET
    from signoff.inference import run_batch

    result = run_batch(client, MODEL, env, str(holdout), target=TARGET)
    m = result.metrics
    say(f"   [cyan]signoff infer[/] in {env}: v{result.version} on {rows} held-out rows in {result.seconds:.2f}s: "
        f"accuracy={m['accuracy']:.3f} f1={m['f1']:.3f} roc_auc={m['roc_auc']:.3f}; "
        + (f"[yellow]drift in {len(result.drifted_features)} features[/]" if result.drifted_features
           else "no drift"))
    return result


def _drift_table(result: Any) -> Any:
    from rich.table import Table

    features = result.report["drift"]["features"]
    table = Table("feature", "PSI", "KS p-value", "drifted", title="drift against v2's training data",
                  title_justify="left")
    ranked = sorted(features.items(), key=lambda kv: -(kv[1]["psi"] or 0))
    for name, f in ranked[:6]:
        table.add_row(name, f"{f['psi']:.3f}", f"{f['ks_pvalue']:.2g}", "[red]yes[/]" if f["drifted"] else "no")
    return table


def run_demo(say: Say, show: Callable[[Any], None] | None = None, home: Path | None = None) -> dict[str, Any]:
    """Run the story; returns the final board, parameter histories and checks for callers that test it."""
    from signoff.bootstrap import bootstrap
    from signoff.sdk._embedded import EmbeddedClient

    show = show or (lambda _: None)
    with tempfile.TemporaryDirectory(prefix="signoff-demo-") as tmp:
        base = home or Path(tmp)
        ctx = bootstrap(demo_settings(base))
        as_ = {name: EmbeddedClient(actor=name, context=ctx) for name in DEMO_USERS}
        try:
            return _story(say, show, as_, base)
        finally:
            ctx.close()


def _story(say: Say, show: Callable[[Any], None], as_: dict[str, Any], base: Path) -> dict[str, Any]:
    from signoff.demo import classifier
    from signoff.entrypoints.cli.records_cmds import history_table
    from signoff.entrypoints.cli.registry_cmds import board_table

    dana, rita = as_["dana"], as_["rita"]
    holdout, rows = classifier.write_holdout(base)

    say("[bold]1. dana trains a classifier on scikit-learn's breast-cancer data and registers it[/]")
    v1m = classifier.train(base, "cancer-v1")
    v1 = dana.register(MODEL, str(v1m.path), metrics=v1m.metrics, run_id="run-001", code_commit="a1b2c3d",
                       dataset_hash="sklearn:breast_cancer", owner_group="data-science", reference=v1m.training_data)
    say(f"   version {v1.version}: artifact stored by digest {v1.digest[:19]}…, flavor {v1.flavor}, "
        f"reference profile of {len(v1m.training_data.columns)} features")
    say(f"   approval request opened for dev; approvers: {', '.join(dana.open_request(MODEL, 1, 'dev').policy['approvers'])}")
    say("[bold]2. dana cannot approve her own version: she is in no approver group[/]")
    _refused(say, lambda: dana.approve(MODEL, 1, "dev"))
    say("[bold]3. rita approves in dev: version 1 is live there[/]")
    rita.approve(MODEL, 1, "dev", comment="metrics and lineage look right")

    say("[bold]4. each environment's batch inference opens the promotion to the next one[/]")
    for env, nxt, approvers in (("dev", "test", ["rita"]), ("test", "uat", ["uma"]),
                                ("uat", "prod", ["paula", "pete"])):
        _infer(say, dana, env, holdout, rows)
        request = _promotion(dana, 1, nxt)
        say(f"   → promotion request {request.id} for {nxt} ({_gates(request)})")
        for who in approvers:
            r = as_[who].decide(request.id, "approve", f"ok for {nxt}")
            say(f"     {who} approves: " + ("[green]live in " + nxt + "[/]" if r.state == "approved"
                                          else f"still needs {r.missing}"))

    say("[bold]5. version 2 is trained on a new extract in which the 'worst *' measurements changed unit[/]")
    v2m = classifier.train(base, "cancer-v2", shifted=True)
    dana.register(MODEL, str(v2m.path), metrics=v2m.metrics, run_id="run-002", code_commit="d4e5f6a",
                  dataset_hash="extract-2026-11", reference=v2m.training_data)
    say(f"   training metrics look fine: {v2m.metrics}; rita approves it in dev")
    rita.approve(MODEL, 2, "dev", comment="training metrics fine")
    v2run = _infer(say, dana, "dev", holdout, rows)
    show(_drift_table(v2run))
    request = _promotion(dana, 2, "test")
    say(f"   → promotion request {request.id} for test ({_gates(request)})")
    say("   rita tries to approve it in test:")
    _refused(say, lambda: rita.decide(request.id, "approve", "looks ok"))
    rita.reject(MODEL, 2, "test", comment="fails the accuracy gate; drift in the worst-* features: unit bug?")
    say("   rita rejects version 2 in test, and rolls dev back to version 1")
    rolled = rita.rollback(MODEL, "dev", reason="v2 has a unit bug")
    say(f"   dev: version {rolled.previous_version} → {rolled.version}")

    say("[bold]6. Friday night, an incident: erin (on call) forces hotfix v3 into prod with break-glass[/]")
    v3m = classifier.train(base, "cancer-v3", regularisation=0.3)
    dana.register(MODEL, str(v3m.path), metrics=v3m.metrics, run_id="run-003", reference=v3m.training_data)
    _refused(say, lambda: dana.break_glass(MODEL, 3, "prod", justification="I am sure it is fine"))
    forced = as_["erin"].break_glass(MODEL, 3, "prod",
                                     justification="INC-4711: v1 flags too many benign cases since last night; v3 is the fix")
    say(f"   [bold red]BREAK-GLASS[/]: v3 live in prod, skipping approvals in {', '.join(forced.skipped_envs)}; "
        "audited and announced (signoff.promotion.break_glass)")
    say("[bold]7. Monday: v3 misses more malignant cases than v1; paula rolls prod back to version 1[/]")
    rolled = as_["paula"].rollback(MODEL, "prod", reason="v3 worse on recall; it must go through sign-off")
    say(f"   prod: version {rolled.previous_version} → {rolled.version}, approved by {', '.join(rolled.approved_by)}")

    say("[bold]8. someone swaps the bytes of version 1's stored artifact: loading it is refused[/]")
    live = dana.resolve(MODEL, "prod")
    stored = Path(live.artifact_uri.removeprefix("file://"))
    original = stored.read_bytes()
    stored.write_bytes(original + b"tampered")
    _refused(say, live.load)
    stored.write_bytes(original)
    say(f"   restored: load() works again → {type(live.load().model).__name__}")

    board = dana.status(MODEL)
    prod_history = dana.parameter_history(f"/signoff/models/{MODEL}/prod")
    show(board_table(MODEL, board))
    show(history_table(f"/signoff/models/{MODEL}/prod", prod_history))
    check = dana.verify_audit()
    counts = {t: len(dana.events(type=t)) for t in ("signoff.drift.detected", "signoff.promotion.break_glass",
                                                    "signoff.environment.rolled_back",
                                                    "signoff.artifact.digest_mismatch")}
    say("events: " + ", ".join(f"{k.removeprefix('signoff.')}={v}" for k, v in counts.items()))
    say(f"audit chain: {'ok' if check.ok else 'BROKEN'} ({check.checked} entries)")
    return {"board": board, "history": dana.parameter_history(f"/signoff/models/{MODEL}/dev"),
            "prod_history": prod_history, "prod": live, "audit": check, "events": counts,
            "drifted": v2run.drifted_features}
