"""`signoff server --demo` (`make run`): the whole product on one laptop, with nothing to set up.

One process runs the web UI and API (uvicorn), an event worker, a request sweeper (expiry and
reminders) and an SMTP server on loopback that catches every email for the /mailbox page.
State lives in `./.signoff/` (SQLite), so a restart keeps it. On first start a real scikit-learn
model is trained and registered, so an approval request is waiting, and its email with it.

The settings are also written to `.signoff/demo.toml`, so `SIGNOFF_CONFIG=.signoff/demo.toml
signoff …` in another terminal works on the same database, workflow and mail catcher.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signoff.config import Settings, load_settings
from signoff.demo.cast import DEMO_ENVIRONMENTS, DEMO_USERS, MODEL

SENDER = "signoff demo <signoff@demo.invalid>"
# Who signs in as whom: the role printed next to each name, and who starts.
FIRST_APPROVER = "rita"
ADMIN = "dana"


@dataclass
class DemoServer:
    ctx: Any
    app: Any
    mailbox: Any
    worker: Any
    url: str
    passwords: dict[str, str]
    seeded: bool

    def stop(self) -> None:
        self.worker.stop()
        self.mailbox.stop()
        self.ctx.close()


def _private_file(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)


def _passwords(home: Path, names: list[str]) -> tuple[dict[str, str], set[str]]:
    """Demo passwords: random per installation, kept in .signoff/demo-users.json, printed at start.

    Returns them and the names whose password is new (their hash must be written)."""
    path = home / "demo-users.json"
    known: dict[str, str] = {}
    if path.exists():
        known = json.loads(path.read_text(encoding="utf-8"))
    out = {name: known.get(name) or f"{name}-{secrets.token_hex(3)}" for name in names}
    if out != known:
        _private_file(path, json.dumps(out, indent=2) + "\n")
    return out, {name for name in names if name not in known}


def _secret_key(home: Path) -> str:
    path = home / "secret_key"
    if not path.exists():
        _private_file(path, secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def write_config(path: Path, sections: dict[str, Any]) -> None:
    """A small TOML writer for the demo's own settings (tables of scalars and lists only)."""
    lines = ["# Written by `signoff server --demo` at each start. Use it from another terminal:",
             f"#   SIGNOFF_CONFIG=.signoff/demo.toml {command_hint()} status cancer-classifier", ""]
    top = {k: v for k, v in sections.items() if not isinstance(v, dict)}
    lines += [f"{k} = {_toml(v)}" for k, v in top.items()]

    def table(name: str, body: dict[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict)}
        if scalars:
            lines.append(f"\n[{name}]")
            lines.extend(f"{k} = {_toml(v)}" for k, v in scalars.items())
        for k, v in body.items():
            if isinstance(v, dict):
                table(f"{name}.{k}", v)

    for name, body in sections.items():
        if isinstance(body, dict):
            table(name, body)
    _private_file(path, "\n".join(lines) + "\n")


def demo_config(home: Path, url: str, smtp_port: int, secret: str) -> dict[str, Any]:
    users = {name: {"groups": spec["groups"], "email": spec["email"], "admin": name == ADMIN}
             for name, spec in DEMO_USERS.items()}
    environments = {k: v for k, v in DEMO_ENVIRONMENTS.items()}
    return {
        "home": str(home), "database_url": f"sqlite:///{(home / 'signoff.db').resolve()}",
        "artifact_root": str((home / "artifacts").resolve()),
        "environments": environments, "users": users,
        "server": {"public_url": url, "secret_key": secret},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": SENDER},
        "events": {"inline": False},
    }


def _set_passwords(ctx: Any, passwords: dict[str, str], new: set[str]) -> None:
    """Give each demo account its printed password: new ones, and accounts without any (a fresh database)."""
    from signoff.adapters.passwords import hash_password

    with ctx.uow() as uow:
        for name, password in passwords.items():
            row = uow.users.find(name)
            if row is not None and (name in new or not row.password_hash):
                row.password_hash = hash_password(password)  # argon2: slow on purpose, so only when needed
        uow.commit()


def _seed(ctx: Any, home: Path, say: Callable[[str], None]) -> bool:
    """Train and register version 1 of the demo model unless the model exists already."""
    from signoff.demo import classifier
    from signoff.errors import NotFound
    from signoff.sdk._embedded import EmbeddedClient
    from signoff.services import registry

    try:
        registry.get_model(uow=ctx.read_uow(), model=MODEL)
        return False
    except NotFound:
        pass
    work = home / "demo"
    work.mkdir(parents=True, exist_ok=True)
    say("Training a classifier on scikit-learn's breast-cancer data (ships with scikit-learn)…")
    trained = classifier.train(work, f"{MODEL}-v1")
    classifier.write_holdout(work)
    client = EmbeddedClient(actor="dana", context=ctx)
    client.register(MODEL, str(trained.path), metrics=trained.metrics, run_id="run-001", code_commit="a1b2c3d",
                    dataset_hash="sklearn:breast_cancer", flavor="sklearn", owner_group="data-science",
                    description="Logistic regression on the Wisconsin breast-cancer data.",
                    metadata={"algorithm": "LogisticRegression", "features": 30},
                    reference=trained.training_data)
    # The registration rule opens the request (and mails rita) through the event bus: do it now,
    # so the request is waiting by the time the banner says so.
    ctx.inline_dispatcher().drain(budget=20)
    deadline = time.monotonic() + 20  # or the in-process worker took it first: wait for it
    while not open_requests(ctx) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def build_demo(home: Path, host: str, port: int, *, say: Callable[[str], None] = print) -> DemoServer:
    """Everything but the HTTP listener: database, users, mail catcher, worker, sweeper, seed."""
    from signoff.bootstrap import bootstrap
    from signoff.demo.mail_catcher import Mailbox
    from signoff.entrypoints.api.app import create_app
    from signoff.entrypoints.web import set_mail_catcher
    from signoff.entrypoints.worker import Worker

    home.mkdir(parents=True, exist_ok=True)
    link_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{link_host}:{port}"
    mailbox = Mailbox(home / "mailbox")
    mailbox.start()
    config = demo_config(home, url, mailbox.port, _secret_key(home))
    config_path = home / "demo.toml"
    write_config(config_path, config)
    settings: Settings = load_settings(config_path)
    ctx = bootstrap(settings, retire_config_users=True)
    passwords, new = _passwords(home, list(DEMO_USERS))
    _set_passwords(ctx, passwords, new)
    worker = Worker(ctx).start()  # with its request sweeper (expiry, reminders)
    app = create_app(ctx)
    set_mail_catcher(app, mailbox)
    seeded = _seed(ctx, home, say)
    return DemoServer(ctx, app, mailbox, worker, url, passwords, seeded)


def command_hint(argv0: str | None = None, cwd: Path | None = None,
                 which: Callable[[str], str | None] = shutil.which) -> str:
    """How to type `signoff` in another terminal: `make run` does not activate the virtualenv, so
    a bare `signoff` there is "command not found" (or someone else's install)."""
    argv0 = argv0 if argv0 is not None else sys.argv[0]
    program = Path(argv0)
    if program.name != "signoff":  # run as `python -m …` or from tests: the interpreter's sibling
        program = Path(sys.executable).with_name("signoff")
    program = program.absolute()
    on_path = which("signoff")
    if on_path is not None and Path(on_path).resolve() == program.resolve():
        return "signoff"
    try:
        return str(program.relative_to((cwd or Path.cwd()).absolute()))
    except ValueError:
        return str(program)


def listen(host: str, port: int) -> socket.socket:
    """Take the port before anything else: a busy one must stop the demo before it prints
    passwords, trains a model or starts a worker on the database."""
    from signoff.errors import Conflict

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise Conflict(f"cannot listen on {host}:{port} ({exc.strerror or exc}): is another server running there? "
                       f"Stop it, or choose another port: {command_hint()} server --demo --port {port + 1}",
                       details={"host": host, "port": port}) from None
    sock.set_inheritable(True)
    return sock


def open_requests(ctx: Any) -> list[Any]:
    from signoff.services import approvals

    return approvals.list_requests(uow=ctx.read_uow(), workflow=ctx.workflow, state="open", limit=20)


def banner(demo: DemoServer) -> list[str]:
    width = max(len(n) for n in demo.passwords)
    pw_width = max(len(p) for p in demo.passwords.values())
    lines = [
        "",
        f"signoff demo server: {demo.url}",
        f"  mailbox:  {demo.url}/mailbox  (emails caught by the SMTP server on 127.0.0.1:{demo.mailbox.port})",
        f"  data:     {demo.ctx.settings.home}/ (SQLite; delete it to start over)",
        "",
        "Sign in as (user / password):",
    ]
    for name, password in demo.passwords.items():
        role = DEMO_USERS[name].get("role", "")
        extra = " — start here" if name == FIRST_APPROVER else (" (administrator)" if name == ADMIN else "")
        lines.append(f"  {name.ljust(width)}  {password.ljust(pw_width)}  {role}{extra}")
    waiting = open_requests(demo.ctx)
    lines.append("")
    if waiting:
        lines.append("Waiting for a decision: " + ", ".join(
            f"{r.model} v{r.version} in {r.env} (#{r.id}, {' and '.join(r.policy.approvers)})" for r in waiting))
        lines.append(f"Open {demo.url}/mailbox, follow a review link, and sign in as the approver it was sent to"
                     f"{' (' + FIRST_APPROVER + ' for dev)' if any(r.env == 'dev' for r in waiting) else ''}.")
    else:
        lines.append(f"Nothing is waiting for a decision. The board: {demo.url}/models/{MODEL}")
    lines += [
        "Press Ctrl-C to stop.",
        "",
        "Batch inference from another terminal reports metrics and opens the next promotion request:",
        (f"  SIGNOFF_CONFIG={demo.ctx.settings.home}/demo.toml {command_hint()} infer {MODEL} --env dev "
         f"--data {demo.ctx.settings.home}/demo/holdout.parquet --target benign --as dana"),
        "",
    ]
    return lines


def serve_demo(host: str, port: int, *, home: Path = Path(".signoff"), log_level: str = "warning",
               say: Callable[[str], None] = print) -> None:
    import uvicorn

    from signoff.entrypoints import startup

    sock = listen(host, port)
    try:
        demo = build_demo(home, host, port, say=say)
        startup.ready()
        try:
            for line in banner(demo):
                say(line)
            config = uvicorn.Config(demo.app, host=host, port=port, log_level=log_level, access_log=False,
                                    server_header=False)
            try:
                uvicorn.Server(config).run(sockets=[sock])
            except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down, as uvicorn.run swallows it
                pass
        finally:
            demo.stop()
    finally:
        sock.close()
