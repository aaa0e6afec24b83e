"""Finding things among many: searched, counted pages of models and of a model's versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from signoff.domain.models import Model, ModelVersion
from signoff.domain.workflow import Workflow
from signoff.services.ports import UnitOfWork

MAX_PAGE = 200


@dataclass(frozen=True)
class Page:
    """Items `offset+1 … offset+len(items)` of `total`; pages are numbered from 1."""

    items: list[Any]
    total: int
    number: int
    size: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.size + len(self.items)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _bounds(page: int, size: int) -> tuple[int, int]:
    size = max(1, min(size, MAX_PAGE))
    return max(1, page), size


def find_models(
    *, uow: UnitOfWork, workflow: Workflow, text: str | None = None, tag: str | None = None,
    owner_group: str | None = None, live_in: str | None = None, page: int = 1, size: int = 50,
) -> Page:
    """A page of models (by name) matching every filter given, each with the version live per
    environment and its open request count; raises NotFound for an unknown environment."""
    page, size = _bounds(page, size)
    if live_in:
        workflow.check_env(live_in)
    with uow:
        found, total = uow.models.search(text=text, tag=tag, owner_group=owner_group, live_in=live_in,
                                         offset=(page - 1) * size, limit=size)
        ids = [model_id for model_id, _ in found]
        live = uow.models.live_numbers(ids)
        open_counts = uow.models.open_request_counts(ids)
        groups = uow.models.owner_groups()
    items = [_model_row(model, {env: live[mid].get(env) for env in workflow.order}, open_counts[mid])
             for mid, model in found]
    return Page(items=items, total=total, number=page, size=size, extra={"owner_groups": groups})


def _model_row(model: Model, live: dict[str, int | None], open_requests: int) -> dict[str, Any]:
    return {**model.to_dict(), "live": live, "open_requests": open_requests}


def board_page(*, uow: UnitOfWork, workflow: Workflow, model: str, page: int = 1, size: int = 50) -> Page:
    """A page of a model's versions, newest first, with how many it has; raises NotFound."""
    page, size = _bounds(page, size)
    with uow:
        model_row = uow.models.row(model)
        total = uow.versions.count(model_row)
        versions: list[ModelVersion] = uow.versions.list(model_row, workflow, offset=(page - 1) * size, limit=size)
    return Page(items=versions, total=total, number=page, size=size)
