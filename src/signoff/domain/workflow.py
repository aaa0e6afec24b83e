"""The environment chain and each environment's approval policy.

Built once from configuration; services consult it for "what comes after dev" and "who may
approve in prod". Parsing of gates, durations and freeze windows happens here, at start-up,
so a bad policy is refused before any request is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal, Protocol

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


class PolicyConfig(Protocol):
    """One environment's validated policy as configured (config.PolicySettings has this shape)."""

    @property
    def approvers(self) -> Sequence[str]: ...
    @property
    def required_approvals(self) -> int: ...
    @property
    def quorum(self) -> Literal["any", "each-group"]: ...
    @property
    def registrant_may_approve(self) -> bool: ...
    @property
    def distinct_from_previous_stage(self) -> bool | None: ...
    @property
    def gates(self) -> Sequence[str]: ...
    @property
    def min_soak(self) -> str | None: ...
    @property
    def freeze(self) -> Sequence[str]: ...
    @property
    def request_expiry(self) -> str | None: ...
    @property
    def remind_every(self) -> str | None: ...
    @property
    def auto_approve(self) -> bool: ...
    @property
    def require_digest(self) -> bool: ...
    @property
    def drift_psi_threshold(self) -> float: ...
    @property
    def drift_ks_pvalue(self) -> float: ...
    @property
    def signature(self) -> str | None: ...
    @property
    def meanings(self) -> Sequence[str]: ...


def build_workflow(order: list[str], configs: Mapping[str, PolicyConfig]) -> Workflow:
    """Turn validated policy settings into a Workflow; a bad gate or duration names its key.

    Each environment's settings are complete: the defaults are the settings' (config.PolicySettings,
    and `EnvironmentsSettings.policies` for those that depend on the order), nowhere else."""
    policies: dict[str, Policy] = {}
    for env in order:
        cfg = configs[env]
        key = f"environments.{env}"
        try:
            gates = tuple(parse_gate(str(g)) for g in cfg.gates or [])
            freeze = tuple(parse_freeze_window(str(w)) for w in cfg.freeze or [])
            min_soak = _duration(cfg.min_soak)
            expiry = _duration(cfg.request_expiry)
            remind = _duration(cfg.remind_every)
        except InvalidInput as exc:
            raise InvalidInput(f"config key {key}: {exc.message}", details={"key": key}) from None
        policies[env] = Policy(
            env=env,
            approvers=tuple(cfg.approvers),
            required_approvals=int(cfg.required_approvals),
            quorum=cfg.quorum,
            registrant_may_approve=bool(cfg.registrant_may_approve),
            distinct_from_previous_stage=bool(cfg.distinct_from_previous_stage),
            gates=gates,
            min_soak=min_soak,
            freeze=freeze,
            request_expiry=expiry,
            remind_every=remind,
            auto_approve=bool(cfg.auto_approve),
            require_digest=bool(cfg.require_digest),
            drift_psi_threshold=float(cfg.drift_psi_threshold),
            drift_ks_pvalue=float(cfg.drift_ks_pvalue),
            signature=str(cfg.signature or "none"),
            meanings=tuple(str(m) for m in cfg.meanings or []),
        )
    return Workflow(order=tuple(order), policies=policies)


def _duration(value: object) -> timedelta | None:
    if value is None or value == "":
        return None
    return parse_duration(str(value))
