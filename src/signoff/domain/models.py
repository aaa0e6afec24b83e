"""Registry entities: models, versions and their per-environment status.

Plain dataclasses with no I/O; the repositories convert storage rows into these.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from signoff.errors import InvalidInput

MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")  # model, user and account names
# The largest value of a 32-bit INTEGER column (request ids, version numbers) on PostgreSQL.
INT32_MAX = 2**31 - 1
METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")


class Stage(StrEnum):
    """Status of one version in one environment (SageMaker's vocabulary)."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    REVOKED = "Revoked"


class BoardState(StrEnum):
    """What a person should read in one cell of the board: SageMaker's status plus the request."""

    NOT_REQUESTED = "not_requested"
    WAITING = "waiting_for_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    BLOCKED = "blocked"


BOARD_LABELS = {
    BoardState.NOT_REQUESTED: "not requested",
    BoardState.WAITING: "waiting for approval",
    BoardState.APPROVED: "approved",
    BoardState.REJECTED: "rejected",
    BoardState.REVOKED: "revoked",
    BoardState.BLOCKED: "blocked by an earlier rejection",
}


def board_states(stages: dict[str, Stage], open_envs: set[str] | list[str]) -> dict[str, BoardState]:
    """One board state per environment, in chain order (`stages` is ordered like the chain).

    PendingManualApproval alone says nothing about whether anyone was asked: it is "waiting"
    only with an open request, and "blocked" once an earlier environment rejected or revoked
    the version, since no promotion can reach it any more.
    """
    out: dict[str, BoardState] = {}
    blocked = False
    for env, stage in stages.items():
        if stage is Stage.APPROVED:
            out[env] = BoardState.APPROVED
        elif stage is Stage.REJECTED:
            out[env] = BoardState.REJECTED
        elif stage is Stage.REVOKED:
            out[env] = BoardState.REVOKED
        elif env in open_envs:
            out[env] = BoardState.WAITING
        else:
            out[env] = BoardState.BLOCKED if blocked else BoardState.NOT_REQUESTED
        blocked = blocked or stage in (Stage.REJECTED, Stage.REVOKED)
    return out


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not MODEL_NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid model name {name!r}: use 1-128 of a-z 0-9 . _ - starting with a letter or digit",
            details={"field": "name"},
        )
    return name


# Free-form documents (metadata, profiles, patterns) nest at most this deep: real ones nest a few
# levels; deeper ones only exhaust the recursion of parsers and serialisers on their way.
MAX_DOCUMENT_DEPTH = 32


def check_document(value: Any, field: str) -> Any:
    """A JSON-like document signoff can store on every database: nested at most MAX_DOCUMENT_DEPTH
    levels, finite numbers only (NaN and ±Infinity are not JSON), no NUL characters in keys or
    strings (PostgreSQL text cannot hold them). Raises InvalidInput naming the path of the fault."""
    stack: list[tuple[Any, str, int]] = [(value, field, 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DOCUMENT_DEPTH:
                raise InvalidInput(f"{field} is nested deeper than {MAX_DOCUMENT_DEPTH} levels",
                                   details={"field": field, "max_depth": MAX_DOCUMENT_DEPTH})
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and "\x00" in key:
                    raise InvalidInput(f"{path}: keys may not contain NUL characters", details={"field": path})
                stack.append((child, f"{path}.{key}" if isinstance(item, dict) else f"{path}[{key}]", depth + 1))
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidInput(f"{path} must be a finite number, got {item!r}", details={"field": path})
        elif isinstance(item, str) and "\x00" in item:
            raise InvalidInput(f"{path} may not contain NUL characters", details={"field": path})
    return value


def check_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Metrics are finite numbers keyed by simple names; anything else is refused whole."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not METRIC_NAME.fullmatch(key):
            raise InvalidInput(f"invalid metric name {key!r}", details={"metric": key})
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InvalidInput(f"metric {key!r} must be a number, got {value!r}", details={"metric": key})
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"metric {key!r} must be a number, got {value!r}", details={"metric": key}) from None
        if not math.isfinite(number):
            raise InvalidInput(f"metric {key!r} must be finite, got {value!r}", details={"metric": key})
        out[key] = number
    return out


@dataclass
class Lineage:
    run_id: str | None = None
    code_commit: str | None = None
    dataset_hash: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"run_id": self.run_id, "code_commit": self.code_commit, "dataset_hash": self.dataset_hash}


@dataclass
class Model:
    name: str
    description: str = ""
    owner_group: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    created_by: str | None = None
    latest_version: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "owner_group": self.owner_group,
            "tags": self.tags,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "created_by": self.created_by,
            "latest_version": self.latest_version,
        }


@dataclass
class ModelVersion:
    model: str
    number: int
    artifact_uri: str
    flavor: str | None = None
    digest: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    lineage: Lineage = field(default_factory=Lineage)
    registered_by: str = ""
    registered_at: datetime | None = None
    stages: dict[str, Stage] = field(default_factory=dict)
    live_in: list[str] = field(default_factory=list)
    # State of the latest approval request per environment (None: never requested there).
    request_states: dict[str, str | None] = field(default_factory=dict)

    @property
    def subject(self) -> str:
        return f"models/{self.model}/versions/{self.number}"

    def approved_envs(self) -> list[str]:
        return [env for env, stage in self.stages.items() if stage is Stage.APPROVED]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.number,
            "artifact_uri": self.artifact_uri,
            "flavor": self.flavor,
            "digest": self.digest,
            "metadata": self.metadata,
            "metrics": self.metrics,
            "lineage": self.lineage.to_dict(),
            "registered_by": self.registered_by,
            "registered_at": self.registered_at.isoformat() if self.registered_at else None,
            "stages": {env: stage.value for env, stage in self.stages.items()},
            "request_states": {env: self.request_states.get(env) for env in self.stages},
            "board": {env: state.value for env, state in self.board().items()},
            "live_in": self.live_in,
        }

    def board(self) -> dict[str, BoardState]:
        return board_states(self.stages, {e for e, s in self.request_states.items() if s == "open"})


@dataclass
class LiveVersion:
    """What `resolve` hands out: the version live in one environment and why."""

    model: str
    env: str
    version: int
    artifact_uri: str
    digest: str | None
    flavor: str | None
    approved_by: list[str]
    approved_at: datetime
    approved_envs: list[str]
    request_id: int | None
    parameter_version: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "env": self.env,
            "version": self.version,
            "artifact_uri": self.artifact_uri,
            "digest": self.digest,
            "flavor": self.flavor,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat(),
            "approved_envs": self.approved_envs,
            "request_id": self.request_id,
            "parameter_version": self.parameter_version,
        }
