"""The environment chain and each environment's approval policy.

Built once from configuration; services consult it for "what comes after dev" and "who may
approve in prod". Parsing of gates, durations and freeze windows happens here, at start-up,
so a bad policy is refused before any request is opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from signoff.domain.gates import Gate, parse_gate
from signoff.domain.timespec import FreezeWindow, parse_duration, parse_freeze_window
from signoff.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Policy:
    env: str
    approvers: tuple[str, ...] = ("ml-reviewers",)
    required_approvals: int = 1
    quorum: Literal["any", "each-group"] = "any"
    registrant_may_approve: bool = False
    distinct_from_previous_stage: bool = False
    gates: tuple[Gate, ...] = ()
    min_soak: timedelta | None = None
    freeze: tuple[FreezeWindow, ...] = ()
    request_expiry: timedelta | None = timedelta(days=7)
    remind_every: timedelta | None = None
    auto_approve: bool = False
    require_digest: bool = True
    drift_psi_threshold: float = 0.2
    drift_ks_pvalue: float = 0.01
    signature: str = "none"  # "reauth": decisions are electronic signatures (services/esign.py)
    meanings: tuple[str, ...] = ()

    def may_decide(self, groups: set[str]) -> bool:
        return bool(groups & set(self.approvers))

    def to_dict(self) -> dict[str, object]:
        return {
            "env": self.env,
            "approvers": list(self.approvers),
            "required_approvals": self.required_approvals,
            "quorum": self.quorum,
            "registrant_may_approve": self.registrant_may_approve,
            "distinct_from_previous_stage": self.distinct_from_previous_stage,
            "gates": [g.text for g in self.gates],
            "min_soak_seconds": self.min_soak.total_seconds() if self.min_soak else None,
            "freeze": [w.text for w in self.freeze],
            "request_expiry_seconds": self.request_expiry.total_seconds() if self.request_expiry else None,
            "auto_approve": self.auto_approve,
            "require_digest": self.require_digest,
            "signature": self.signature,
            "meanings": list(self.meanings),
        }


@dataclass(frozen=True)
class Workflow:
    """Ordered environments (dev → test → uat → prod by default) and their policies."""

    order: tuple[str, ...]
    policies: dict[str, Policy] = field(default_factory=dict)

    def check_env(self, env: str) -> str:
        if env not in self.order:
            raise NotFound(
                f"unknown environment {env!r} (known: {', '.join(self.order)})",
                details={"env": env},
            )
        return env

    def index(self, env: str) -> int:
        return self.order.index(self.check_env(env))

    @property
    def first(self) -> str:
        return self.order[0]

    def previous(self, env: str) -> str | None:
        i = self.index(env)
        return self.order[i - 1] if i > 0 else None

    def next(self, env: str) -> str | None:
        i = self.index(env)
        return self.order[i + 1] if i + 1 < len(self.order) else None

    def policy(self, env: str) -> Policy:
        return self.policies.get(self.check_env(env)) or Policy(env=env)


def build_workflow(order: list[str], raw: dict[str, dict[str, object]]) -> Workflow:
    """Turn validated config dicts into a Workflow; a bad gate or duration names its key."""
    policies: dict[str, Policy] = {}
    for i, env in enumerate(order):
        cfg = dict(raw.get(env, {}))
        key = f"environments.{env}"
        try:
            gates = tuple(parse_gate(str(g)) for g in cfg.get("gates", []) or [])  # type: ignore[union-attr]
            freeze = tuple(parse_freeze_window(str(w)) for w in cfg.get("freeze", []) or [])  # type: ignore[union-attr]
            min_soak = _duration(cfg.get("min_soak"))
            expiry = _duration(cfg.get("request_expiry", "7d"))
            remind = _duration(cfg.get("remind_every"))
        except InvalidInput as exc:
            raise InvalidInput(f"config key {key}: {exc.message}", details={"key": key}) from None
        distinct = cfg.get("distinct_from_previous_stage")
        if distinct is None:
            # Default: the last environment (prod) needs a second pair of eyes.
            distinct = i == len(order) - 1 and len(order) > 1
        policies[env] = Policy(
            env=env,
            approvers=tuple(cfg.get("approvers", ["ml-reviewers"])),  # type: ignore[arg-type]
            required_approvals=int(cfg.get("required_approvals", 1)),  # type: ignore[call-overload]
            quorum=cfg.get("quorum", "any"),  # type: ignore[arg-type]
            registrant_may_approve=bool(cfg.get("registrant_may_approve", False)),
            distinct_from_previous_stage=bool(distinct),
            gates=gates,
            min_soak=min_soak,
            freeze=freeze,
            request_expiry=expiry,
            remind_every=remind,
            auto_approve=bool(cfg.get("auto_approve", False)),
            require_digest=bool(cfg.get("require_digest", True)),
            drift_psi_threshold=float(cfg.get("drift_psi_threshold", 0.2)),  # type: ignore[arg-type]
            drift_ks_pvalue=float(cfg.get("drift_ks_pvalue", 0.01)),  # type: ignore[arg-type]
            signature=str(cfg.get("signature") or "none"),
            meanings=tuple(str(m) for m in cfg.get("meanings", []) or []),  # type: ignore[union-attr]
        )
    return Workflow(order=tuple(order), policies=policies)


def _duration(value: object) -> timedelta | None:
    if value is None or value == "":
        return None
    return parse_duration(str(value))
