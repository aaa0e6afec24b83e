"""The MLflow bridge: govern an MLflow model registry in place.

- Intake: a new MLflow model version becomes a signoff version (its artifact, run id, the run's
  metrics and params, tags; the artifact's digest when it can be read here), and so goes
  through sign-off like any other. Webhook deliveries reach it through the outbox (the `mlflow`
  target); `signoff mlflow sync` polls and calls the same code.
- Output: whenever the live pointer of a bridged model moves (approval, rollback, break-glass,
  revoke), the environment's alias is pointed at the MLflow version now live there, or removed,
  and the version is tagged `signoff.<env>`. It runs as an event-bus target, so an unreachable
  MLflow is retried and, in the end, dead-lettered and replayable.
- Alias guard: an alias of a governed environment that points anywhere else was moved by
  someone other than signoff; it is moved back, audited (`mlflow.alias_reverted`) and announced
  (`signoff.mlflow.alias_reverted`). Forged `signoff.*` tags are put back the same way.

Every decision compares signoff's current state with MLflow's current state, never with what
an event said when it was sent, so deliveries may arrive late, twice or out of order.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from signoff.domain import events
from signoff.domain import mlflow as mf
from signoff.domain.deliveries import Job, Outcome
from signoff.domain.models import METRIC_NAME, Lineage, Stage
from signoff.domain.workflow import Workflow
from signoff.errors import AlreadyExists, NotFound, ServiceUnavailable, SignoffError
from signoff.services import artifacts
from signoff.services.lifecycle import _original_approval
from signoff.services.ports import UnitOfWork
from signoff.services.registry import register_in

if TYPE_CHECKING:  # the settings arrive as arguments; the type is for the annotations only
    from signoff.config import MlflowSettings

log = logging.getLogger("signoff.mlflow")

ACTOR = "signoff:mlflow"
# The signoff events after which an environment's alias and a version's tags are brought in step.
LIVE_EVENTS = [events.VERSION_APPROVED, events.ROLLED_BACK, events.VERSION_REVOKED, events.VERSION_REJECTED]

# Installed next to the workflow's own rules while `[mlflow]` is configured.
MLFLOW_RULES: list[dict[str, Any]] = [
    {
        "name": "mlflow-intake",
        "description": "MLflow registry webhooks: new versions are taken in, moved aliases and forged "
                       "signoff tags are checked against signoff's state.",
        "pattern": {"source": [events.SOURCE], "type": [{"prefix": mf.INTAKE_PREFIX}]},
        "targets": [{"type": "mlflow"}],
    },
    {
        "name": "mlflow-aliases",
        "description": "When the live version of a bridged model changes, its environment's MLflow alias "
                       "and the versions' signoff tags follow.",
        "pattern": {"source": [events.SOURCE], "type": LIVE_EVENTS},
        "targets": [{"type": "mlflow"}],
    },
]


class Bridge:
    """One MLflow tracking server governed by one signoff database."""

    def __init__(self, *, uow_factory: Callable[[], UnitOfWork], workflow: Workflow, settings: MlflowSettings,
                 rest: Any) -> None:
        self.uow_factory, self.workflow, self.settings, self.rest = uow_factory, workflow, settings, rest
        self._envs_by_alias = {settings.alias_for(env): env for env in workflow.order}
        self._alias_locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)

    def governs(self, mlflow_model: str) -> bool:
        return mf.governs(self.settings.models, mlflow_model)

    def env_of_alias(self, alias: str) -> str | None:
        return self._envs_by_alias.get(alias)

    # -- intake -------------------------------------------------------------------------------

    def intake(self, mlflow_model: str, mlflow_version: int | str, *, via: str,
               found: dict[str, Any] | None = None) -> dict[str, Any]:
        """Take one MLflow version in as a signoff version (idempotent); raises ServiceUnavailable
        (MLflow unreachable, or the version still being registered there), NotFound."""
        number = int(mlflow_version)
        if not self.governs(mlflow_model):
            return {"skipped": f"MLflow model {mlflow_model!r} is not governed ([mlflow] models)"}
        with self.uow_factory() as uow:
            link = uow.mlflow.by_mlflow(mlflow_model, number)
            model = uow.mlflow.model_for(mlflow_model) or mf.signoff_name(mlflow_model)
        if link is not None:
            return {"skipped": "already taken in", "model": link.model, "version": link.version}
        mv = found or self.rest.model_version(mlflow_model, number)
        if mv.get("status") == "PENDING_REGISTRATION":
            raise ServiceUnavailable(f"MLflow version {mlflow_model}/{number} is still being registered")
        details = self._details(mlflow_model, number, mv)
        actor = mv.get("user_id") or self.settings.registrant
        uow = self.uow_factory()
        with uow:
            try:
                uow.mlflow.reserve(mlflow_model=mlflow_model, mlflow_version=number, model=model,
                                   run_id=mv.get("run_id") or None, at=uow.clock.now())
            except AlreadyExists:
                return {"skipped": "taken in concurrently"}
            version = register_in(uow=uow, workflow=self.workflow, model=model, actor=actor, **details)
            version_row = uow.versions.row(uow.models.row(model), version.number)
            uow.mlflow.complete(mlflow_model=mlflow_model, mlflow_version=number, version_id=version_row.id,
                                number=version.number)
            uow.record(actor=ACTOR, action="mlflow.version_taken_in", subject=version.subject, model=model,
                       after={"mlflow_model": mlflow_model, "mlflow_version": number, "via": via,
                              "artifact_uri": version.artifact_uri, "digest": version.digest})
            uow.commit()
        log.info("MLflow %s/%s taken in as %s version %s (%s)", mlflow_model, number, model, version.number, via)
        return {"model": model, "version": version.number, "digest": version.digest, "via": via}

    def _details(self, mlflow_model: str, number: int, mv: dict[str, Any]) -> dict[str, Any]:
        """register_in's arguments for an MLflow version: artifact, digest, run metrics and params."""
        files = artifacts.reader()
        run_id = mv.get("run_id") or None
        run = self.rest.run(run_id) if run_id else None
        data = (run or {}).get("data", {})
        raw_metrics = {m["key"]: m["value"] for m in data.get("metrics", [])}
        metrics = {k: v for k, v in raw_metrics.items()
                   if METRIC_NAME.fullmatch(k) and isinstance(v, (int, float)) and math.isfinite(v)}
        params = {p["key"]: p["value"] for p in data.get("params", [])}
        run_tags = {t["key"]: t["value"] for t in data.get("tags", [])}
        source = mv.get("source") or ""
        location = self.rest.download_uri(mlflow_model, number) or mv.get("storage_location") or source
        digest = flavor = None
        if self.settings.digest and location and files.exists(location):
            try:
                digest = files.digest_of(location)
            except (SignoffError, OSError) as exc:
                log.warning("MLflow %s/%s: artifact %s not hashed: %s", mlflow_model, number, location, exc)
            try:
                flavor = files.detect_flavor(location)
            except (SignoffError, OSError):
                flavor = None
        experiment = ((run or {}).get("info") or {}).get("experiment_id")
        mlflow_meta = {
            "tracking_uri": self.rest.tracking_uri, "model": mlflow_model, "version": number,
            "uri": f"models:/{mlflow_model}/{number}", "source": source, "storage_location": location,
            "run_id": run_id, "experiment_id": experiment, "user_id": mv.get("user_id") or None,
            "model_version_url": self.rest.version_url(mlflow_model, number),
            "run_url": self.rest.run_url(experiment, run_id) if run_id else None,
            "skipped_metrics": sorted(set(raw_metrics) - set(metrics)),
        }
        tags = {t["key"]: t["value"] for t in mv.get("tags", []) if not t["key"].startswith(mf.TAG_PREFIX)}
        return {
            # The readable location when its bytes were hashed (so signoff can load and check
            # them); otherwise the version's source URI as MLflow recorded it.
            "artifact_uri": location if digest else (source or mlflow_meta["uri"]),
            "digest": digest, "flavor": flavor, "metrics": metrics,
            "metadata": {"mlflow": mlflow_meta, "params": params, "tags": tags},
            "lineage": Lineage(run_id=run_id, code_commit=run_tags.get("mlflow.source.git.commit")),
            "description": mv.get("description") or None,
        }

    # -- output and guard ---------------------------------------------------------------------

    def reconcile(self, model: str, env: str, *, via: str, delivery_id: str | None = None) -> dict[str, Any]:
        """Point env's alias at the MLflow version live there in signoff (or remove it); a move by
        anyone else is reverted, audited and announced. Raises ServiceUnavailable."""
        # One reconciliation of an alias at a time: the guard and the output read "what signoff
        # set last" and MLflow's alias, and interleaved they would call signoff's own pending
        # move someone else's. Threads queue here, processes on the PostgreSQL lock.
        with self._alias_locks[(model, env)], self.uow_factory() as held:
            held.mlflow.lock_alias(model, env)
            return self._reconcile(model, env, via=via, delivery_id=delivery_id)

    def _reconcile(self, model: str, env: str, *, via: str, delivery_id: str | None) -> dict[str, Any]:
        alias = self.settings.alias_for(env)
        with self.uow_factory() as uow:
            mlflow_model = uow.mlflow.mlflow_name_of(model)
            if mlflow_model is None:
                return {"skipped": f"{model!r} did not come from MLflow"}
            live = uow.live.row(model, env)
            link = uow.mlflow.by_signoff(model, live.number) if live is not None else None
            desired = link.mlflow_version if link is not None else None
            ever_set, last_set = uow.mlflow.alias_set(model, env)
            live_number = live.number if live is not None and link is not None else None
        actual = self.rest.aliases(mlflow_model).get(alias)
        result: dict[str, Any] = {"model": model, "env": env, "alias": alias, "mlflow_version": desired}
        if actual != desired:
            if desired is None:
                self.rest.delete_alias(mlflow_model, alias)
            else:
                self.rest.set_alias(mlflow_model, alias, desired)
            ours = (ever_set and actual == last_set) or (not ever_set and actual is None)
            uow = self.uow_factory()
            with uow:
                uow.mlflow.record_alias(model=model, env=env, mlflow_model=mlflow_model, alias=alias,
                                        mlflow_version=desired, at=uow.clock.now())
                if not ours:
                    self._reverted(uow, model, env, mlflow_model, alias, actual, desired, via, delivery_id)
                    result["reverted_from"] = actual
                uow.commit()
            result["changed"] = True
        else:
            with self.uow_factory() as uow:
                if not ever_set or last_set != desired:
                    uow.mlflow.record_alias(model=model, env=env, mlflow_model=mlflow_model, alias=alias,
                                            mlflow_version=desired, at=uow.clock.now())
                    uow.commit()
            result["changed"] = False
        if desired is not None and live_number is not None and self.settings.tags:
            self._write_tags(mlflow_model, desired, self.expected_tags_of(model, live_number))
        return result

    def _reverted(self, uow: UnitOfWork, model: str, env: str, mlflow_model: str, alias: str, actual: int | None,
                  desired: int | None, via: str, delivery_id: str | None) -> None:
        with_stage = None
        if actual is not None:
            link = uow.mlflow.by_mlflow(mlflow_model, actual)
            if link is not None and link.version is not None:
                row = uow.versions.row(uow.models.row(model), link.version)
                with_stage = uow.versions.stages([row.id])[row.id].get(env, Stage.PENDING).value
        data = {
            "model": model, "env": env, "mlflow_model": mlflow_model, "alias": alias,
            "moved_to": actual, "restored": desired,
            # MLflow's webhooks and REST API do not say who moved an alias: signoff records what
            # it saw, how it saw it, and the stage the version had in signoff.
            "moved_by": "someone other than signoff (MLflow does not report the user)",
            "moved_to_stage": with_stage, "observed_via": via, "delivery_id": delivery_id,
        }
        subject = f"models/{model}/environments/{env}"
        uow.record(actor=ACTOR, action="mlflow.alias_reverted", subject=subject, model=model,
                   before={"alias": alias, "mlflow_version": actual}, after=data)
        uow.emit(events.Event(mf.ALIAS_REVERTED, subject, data))
        log.warning("MLflow alias %s@%s was moved to %s outside signoff; moved back to %s",
                    mlflow_model, alias, actual, desired)

    def _write_tags(self, mlflow_model: str, version: int, tags: dict[str, str]) -> None:
        current = {t["key"]: t["value"] for t in self.rest.model_version(mlflow_model, version).get("tags", [])}
        for key, value in tags.items():
            if current.get(key) != value:
                self.rest.set_tag(mlflow_model, version, key, value)

    def expected_tags_of(self, model: str, number: int) -> dict[str, str]:
        """Every `signoff.*` tag a bridged version should carry, from its stages in signoff."""
        out: dict[str, str] = {}
        with self.uow_factory() as uow:
            row = uow.versions.row(uow.models.row(model), number)
            stages = uow.versions.stages([row.id])[row.id]
            for env in self.workflow.order:
                stage = stages.get(env, Stage.PENDING)
                if stage is Stage.PENDING:
                    continue
                approvers: list[str] = []
                request_id = None
                if stage is Stage.APPROVED:
                    # What the live pointer carried when the approval made it live (rollbacks
                    # restore the same), whether or not it is live now.
                    model_row = uow.models.row(model)
                    approvers, _, request_id = _original_approval(uow, self.workflow, model_row, row, env)
                out.update(mf.expected_tags(env, stage.value.lower(), approvers, request_id))
        return out

    def tag_version(self, model: str, number: int) -> dict[str, Any]:
        """Bring a bridged version's `signoff.*` tags in step with its stages."""
        with self.uow_factory() as uow:
            link = uow.mlflow.by_signoff(model, number)
        if link is None or not self.settings.tags:
            return {"skipped": "not from MLflow" if link is None else "tags are off"}
        tags = self.expected_tags_of(model, number)
        self._write_tags(link.mlflow_model, link.mlflow_version, tags)
        return {"tagged": sorted(tags)}

    def check_tags(self, mlflow_model: str, mv: dict[str, Any], *, via: str) -> list[dict[str, Any]]:
        """Every `signoff.*` tag of a listed version that disagrees with signoff's record, put back."""
        number = int(mv["version"])
        current = {t["key"]: t["value"] for t in mv.get("tags", []) if t["key"].startswith(mf.TAG_PREFIX)}
        if not current:
            return []  # the usual case (nothing decided yet): no database read per version and pass
        with self.uow_factory() as uow:
            link = uow.mlflow.by_mlflow(mlflow_model, number)
        if link is None or link.version is None:
            return []
        expected = self.expected_tags_of(link.model, link.version)
        # Missing expected tags are the output's job (it retries); only foreign values count here.
        wrong = [k for k, v in current.items() if expected.get(k) != v]
        done = [self.guard_tag(mlflow_model, number, key, via=via) for key in wrong]
        return [d for d in done if "reverted" in d]

    def guard_tag(self, mlflow_model: str, mlflow_version: int, key: str, *, via: str,
                  delivery_id: str | None = None) -> dict[str, Any]:
        """A `signoff.*` tag that disagrees with signoff's record is put back (or deleted) and audited."""
        if not key.startswith(mf.TAG_PREFIX):
            return {"skipped": "not a signoff tag"}
        with self.uow_factory() as uow:
            link = uow.mlflow.by_mlflow(mlflow_model, mlflow_version)
        if link is None or link.version is None:
            expected: dict[str, str] = {}
            model = None
        else:
            expected, model = self.expected_tags_of(link.model, link.version), link.model
        current = {t["key"]: t["value"] for t in self.rest.model_version(mlflow_model, mlflow_version).get("tags", [])}
        if key not in current or current.get(key) == expected.get(key):
            return {"unchanged": key}
        if key in expected:
            self.rest.set_tag(mlflow_model, mlflow_version, key, expected[key])
        else:
            self.rest.delete_tag(mlflow_model, mlflow_version, key)
        data = {"model": model, "mlflow_model": mlflow_model, "mlflow_version": mlflow_version, "key": key,
                "value": current[key], "restored": expected.get(key), "observed_via": via,
                "delivery_id": delivery_id}
        subject = f"mlflow/models/{mlflow_model}/versions/{mlflow_version}"
        uow = self.uow_factory()
        with uow:
            uow.record(actor=ACTOR, action="mlflow.tag_reverted", subject=subject, model=model,
                       before={key: current[key]}, after=data)
            uow.emit(events.Event(mf.TAG_REVERTED, subject, data))
            uow.commit()
        return {"reverted": key, "model": model, "mlflow_version": mlflow_version}

    # -- polling ------------------------------------------------------------------------------

    def sync(self) -> dict[str, Any]:
        """One pass over the governed models: take in new versions, check every environment's alias."""
        summary: dict[str, Any] = {"models": 0, "taken_in": [], "reverted": [], "errors": []}
        for registered in self.rest.registered_models():
            name = registered["name"]
            if not self.governs(name):
                continue
            summary["models"] += 1
            with self.uow_factory() as uow:
                known = uow.mlflow.known_versions(name)
            for mv in sorted(self.rest.model_versions(name), key=lambda v: int(v["version"])):
                if int(mv["version"]) in known:
                    summary["reverted"].extend(self.check_tags(name, mv, via="sync"))
                    continue
                try:
                    done = self.intake(name, mv["version"], via="sync", found=mv)
                except SignoffError as exc:
                    summary["errors"].append(f"{name}/{mv['version']}: {exc.message}")
                    continue
                if "version" in done and "skipped" not in done:
                    summary["taken_in"].append(done)
            with self.uow_factory() as uow:
                model = uow.mlflow.model_for(name)
            if model is None:
                continue
            for env in self.workflow.order:
                done = self.reconcile(model, env, via="sync")
                if "reverted_from" in done:
                    summary["reverted"].append(done)
        return summary

    # -- the event-bus target -----------------------------------------------------------------

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Run what one event asks of the bridge; raises SignoffError (ServiceUnavailable: retry)."""
        kind = event.get("type")
        data = event.get("data") or {}
        if isinstance(kind, str) and kind.startswith(mf.INTAKE_PREFIX):
            payload = data.get("data") or {}
            name, delivery_id = str(payload.get("name", "")), data.get("delivery_id")
            if not self.governs(name):
                return {"skipped": f"MLflow model {name!r} is not governed"}
            if kind == mf.WEBHOOK_EVENTS[("model_version", "created")]:
                return self.intake(name, payload["version"], via="webhook")
            if kind == mf.WEBHOOK_EVENTS[("model_version_tag", "set")]:
                return self.guard_tag(name, int(payload["version"]), str(payload.get("key", "")), via="webhook",
                                      delivery_id=delivery_id)
            env = self.env_of_alias(str(payload.get("alias", "")))
            if env is None:
                return {"skipped": f"alias {payload.get('alias')!r} belongs to no environment"}
            with self.uow_factory() as uow:
                model = uow.mlflow.model_for(name)
            if model is None:
                return {"skipped": f"no version of {name!r} was taken in yet"}
            return self.reconcile(model, env, via="webhook", delivery_id=delivery_id)
        if kind in LIVE_EVENTS:
            model, env, number = data.get("model"), data.get("env"), data.get("version")
            if not isinstance(model, str) or not isinstance(env, str):
                return {"skipped": "event without model and env"}
            out = self.reconcile(model, env, via="signoff")
            if isinstance(number, int) and "skipped" not in out:
                out["tags"] = self.tag_version(model, number)
            return out
        return {"skipped": f"nothing to do for {kind}"}


class MlflowRunner:
    """The `mlflow` target: `Bridge.handle` with its errors turned into retry or final outcomes."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge

    def __call__(self, job: Job, timeout: float | None) -> Outcome:
        try:
            return Outcome.ok(**self.bridge.handle(job.event))
        except ServiceUnavailable as exc:
            return Outcome.retry(exc.message, exc.details.get("status_code"))
        except NotFound as exc:
            return Outcome.final(exc.message, exc.details.get("status_code"))
        except SignoffError as exc:
            code = exc.details.get("status_code")
            return Outcome.final(f"{exc.code}: {exc.message}", code)


def accept_webhook(*, uow: UnitOfWork, settings: MlflowSettings, secret: str, headers: dict[str, str], body: bytes,
                   now: float) -> dict[str, Any]:
    """Verify a delivery and queue it in the outbox, in one transaction; raises AuthenticationFailed,
    InvalidInput (stale, malformed), AlreadyExists (a delivery id seen before)."""
    from datetime import timedelta

    delivery = mf.verify(secret=secret, headers=headers, body=body, now=now, max_age=settings.webhook_max_age)
    event_type = delivery.event_type
    with uow:
        at = uow.clock.now()
        uow.mlflow.take_delivery(delivery.delivery_id, f"{delivery.entity}.{delivery.action}"[:64], at,
                                 forget_before=at - timedelta(seconds=2 * settings.webhook_max_age))
        name = str(delivery.data.get("name", ""))
        queued = False
        if event_type is not None and mf.governs(settings.models, name):
            queued = True
            subject = f"mlflow/models/{name}"
            if "version" in delivery.data:
                subject += f"/versions/{delivery.data['version']}"
            uow.emit(events.Event(event_type, subject, {
                "entity": delivery.entity, "action": delivery.action, "data": delivery.data,
                "delivery_id": delivery.delivery_id, "timestamp": delivery.timestamp}))
        uow.commit()
    return {"delivery_id": delivery.delivery_id, "queued": queued,
            "event": f"{delivery.entity}.{delivery.action}"}
