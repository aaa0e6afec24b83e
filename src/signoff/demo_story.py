"""`signoff demo`: the whole dev → prod story on a real scikit-learn model, in a temporary database.

Kept apart from the CLI so tests and `make run` exercise exactly the same script.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

from signoff.config import Settings

DEMO_USERS: dict[str, dict[str, Any]] = {
    "dana": {"groups": ["data-science", "ml-reviewers"], "email": "dana@example.com", "role": "data scientist"},
    "rita": {"groups": ["ml-reviewers"], "email": "rita@example.com", "role": "dev/test approver"},
    "uma": {"groups": ["uat-approvers"], "email": "uma@example.com", "role": "uat approver"},
    "paula": {"groups": ["ml-leads"], "email": "paula@example.com", "role": "prod approver (ML lead)"},
    "pete": {"groups": ["risk-office"], "email": "pete@example.com", "role": "prod approver (risk office)"},
}

DEMO_ENVIRONMENTS: dict[str, Any] = {
    "order": ["dev", "test", "uat", "prod"],
    "dev": {"approvers": ["ml-reviewers"]},
    "test": {"approvers": ["ml-reviewers"], "gates": ["accuracy >= 0.9", "f1 >= live.f1 - 0.02"]},
    "uat": {"approvers": ["uat-approvers"], "gates": ["accuracy >= 0.9"]},
    "prod": {
        "approvers": ["ml-leads", "risk-office"],
        "quorum": "each-group",
        "distinct_from_previous_stage": True,
        "gates": ["accuracy >= 0.9"],
    },
}


def demo_settings(home: Path) -> Settings:
    users = {name: {k: v for k, v in spec.items() if k != "role"} for name, spec in DEMO_USERS.items()}
    settings = Settings(home=home, users=users, environments=DEMO_ENVIRONMENTS)
    # The demo never touches a configured database, whatever $SIGNOFF_DATABASE_URL says.
    settings.database_url = f"sqlite:///{home / 'signoff.db'}"
    settings.artifact_root = str(home / "artifacts")
    return settings


def train_model(workdir: Path, *, seed: int = 0) -> tuple[Path, dict[str, float], Any, Any]:
    """A real classifier on a dataset that ships inside scikit-learn (no download)."""
    import joblib
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_hold, y_train, y_hold = train_test_split(X, y, test_size=0.4, random_state=seed, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(X_train, y_train)
    pred = model.predict(X_train)
    metrics = {"accuracy": float(accuracy_score(y_train, pred)), "f1": float(f1_score(y_train, pred))}
    path = workdir / f"cancer-v{seed}.joblib"
    joblib.dump(model, path)
    return path, metrics, X_hold, y_hold


def batch_metrics(path: Path, X: Any, y: Any) -> dict[str, float]:
    import joblib
    from sklearn.metrics import accuracy_score, f1_score

    model = joblib.load(path)
    pred = model.predict(X)
    return {"accuracy": round(float(accuracy_score(y, pred)), 4), "f1": round(float(f1_score(y, pred)), 4)}


def run_demo(say: Callable[[str], None], show: Callable[[Any], None] | None = None, home: Path | None = None) -> dict[str, Any]:
    """Run the story; returns the final board and parameter history for callers that check it."""
    from signoff.bootstrap import bootstrap
    from signoff.entrypoints.cli.records_cmds import history_table
    from signoff.entrypoints.cli.registry_cmds import board_table
    from signoff.sdk._embedded import EmbeddedClient

    with tempfile.TemporaryDirectory(prefix="signoff-demo-") as tmp:
        base = home or Path(tmp)
        ctx = bootstrap(demo_settings(base))
        as_ = {name: EmbeddedClient(actor=name, context=ctx) for name in DEMO_USERS}
        name = "cancer-classifier"
        try:
            say("[bold]1. dana trains a classifier on scikit-learn's breast-cancer data and registers it[/]")
            path, train_metrics, X_hold, y_hold = train_model(base)
            v1 = as_["dana"].register(name, path.as_uri(), metrics=train_metrics, run_id="run-001",
                                      code_commit="a1b2c3d", dataset_hash="sklearn:breast_cancer",
                                      flavor="sklearn", owner_group="data-science")
            say(f"   registered version {v1.version}; status in dev: {v1.stages['dev']}")
            req = as_["dana"].open_request(name, 1, "dev")
            say(f"   approval request {req.id} opened for dev; approvers: {', '.join(req.policy['approvers'])}")
            say("[bold]2. dana may not approve her own version (separation of duties)[/]")
            try:
                as_["dana"].approve(name, 1, "dev")
            except Exception as exc:  # noqa: BLE001 - shown to the reader, not handled
                say(f"   refused: {exc}")
            say("[bold]3. rita approves in dev: version 1 goes live there[/]")
            as_["rita"].approve(name, 1, "dev", comment="metrics look right")
            say(f"   resolve(dev) → version {as_['dana'].resolve(name, 'dev').version}")
            previous = "dev"
            for env, approvers in (("test", ["rita"]), ("uat", ["uma"]), ("prod", ["paula", "pete"])):
                metrics = batch_metrics(path, X_hold, y_hold)
                say(f"[bold]→ batch inference in {previous} on {len(y_hold)} held-out rows: "
                    f"accuracy={metrics['accuracy']}, f1={metrics['f1']}[/]")
                report = as_["dana"].report_inference(name, 1, previous, metrics=metrics, rows=len(y_hold))
                p = report["promotion_request"]
                gates = ", ".join(f"{g['gate']}: {'pass' if g['passed'] else 'FAIL'}" for g in p["gate_results"])
                say(f"   promotion request {p['id']} opened for {env} ({gates or 'no gates'})")
                for who in approvers:
                    r = as_[who].decide(p["id"], "approve", f"ok for {env}")
                    state = "live" if r.state == "approved" else f"still open, needs {r.missing}"
                    say(f"   {who} approves in {env}: {state}")
                previous = env
            say("[bold]4. dana registers version 2; rita approves it in dev: v2 is live in dev, v1 stays Approved[/]")
            path2, m2, _, _ = train_model(base, seed=1)
            as_["dana"].register(name, path2.as_uri(), metrics=m2, run_id="run-002", flavor="sklearn")
            as_["rita"].approve(name, 2, "dev")
            board = as_["dana"].status(name)
            history = as_["dana"].parameter_history(f"/signoff/models/{name}/dev")
            prod = as_["dana"].resolve(name, "prod")
            say(f"[bold]5. resolve(prod) → version {prod.version}, approved by {', '.join(prod.approved_by)}[/]")
            if show is not None:
                show(board_table(name, board))
                show(history_table(f"/signoff/models/{name}/dev", history))
                show(history_table(f"/signoff/models/{name}/prod",
                                   as_["dana"].parameter_history(f"/signoff/models/{name}/prod")))
            check = as_["dana"].verify_audit()
            say(f"audit chain: {'ok' if check.ok else 'BROKEN'} ({check.checked} entries)")
            return {"board": board, "history": history, "prod": prod, "audit": check}
        finally:
            ctx.close()
