"""Storage of the MLflow bridge: which MLflow version is which signoff version, the webhook
deliveries already taken (replay refusal), and the alias each environment was last given.

The rows live in their own module (the registry's tables do not know MLflow exists); they
share ``Base`` so one Alembic history covers them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from signoff.adapters.db import pg_locks
from signoff.adapters.db.tables import Base
from signoff.domain.mlflow import VersionLink
from signoff.errors import AlreadyExists

ALIAS_LOCKS = 5330  # pg_locks space: one lock per (model, env) alias the bridge reconciles


class MlflowVersionRow(Base):
    """One MLflow model version taken in; reserved before the signoff version exists."""

    __tablename__ = "mlflow_versions"
    __table_args__ = (
        UniqueConstraint("mlflow_model", "mlflow_version", name="uq_mlflow_version"),
        Index("ix_mlflow_versions_signoff", "model_name", "version_number"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    mlflow_model: Mapped[str] = mapped_column(String(256))
    mlflow_version: Mapped[int] = mapped_column(Integer)
    model_name: Mapped[str] = mapped_column(String(128))
    version_number: Mapped[int | None]
    version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class MlflowDeliveryRow(Base):
    """A webhook delivery id already accepted: the same id again is a replay."""

    __tablename__ = "mlflow_webhook_deliveries"
    __table_args__ = (Index("ix_mlflow_deliveries_received", "received_at"),)
    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]


class MlflowAliasRow(Base):
    """The MLflow version signoff last pointed an environment's alias at (None: removed)."""

    __tablename__ = "mlflow_aliases"
    model_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    env: Mapped[str] = mapped_column(String(64), primary_key=True)
    mlflow_model: Mapped[str] = mapped_column(String(256))
    alias: Mapped[str] = mapped_column(String(256))
    mlflow_version: Mapped[int | None]
    updated_at: Mapped[datetime]


def _link(row: MlflowVersionRow) -> VersionLink:
    return VersionLink(row.mlflow_model, row.mlflow_version, row.model_name, row.version_number, row.run_id)


class MlflowRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- versions -----------------------------------------------------------------------------

    def by_mlflow(self, mlflow_model: str, mlflow_version: int) -> VersionLink | None:
        row = self.session.scalars(select(MlflowVersionRow).where(
            MlflowVersionRow.mlflow_model == mlflow_model, MlflowVersionRow.mlflow_version == mlflow_version)).first()
        return _link(row) if row is not None else None

    def by_signoff(self, model: str, version: int) -> VersionLink | None:
        row = self.session.scalars(select(MlflowVersionRow).where(
            MlflowVersionRow.model_name == model, MlflowVersionRow.version_number == version)).first()
        return _link(row) if row is not None else None

    def known_versions(self, mlflow_model: str) -> set[int]:
        return set(self.session.scalars(select(MlflowVersionRow.mlflow_version).where(
            MlflowVersionRow.mlflow_model == mlflow_model)))

    def is_bridged(self, model: str) -> bool:
        return self.session.scalars(select(MlflowVersionRow.id).where(
            MlflowVersionRow.model_name == model).limit(1)).first() is not None

    def mlflow_name_of(self, model: str) -> str | None:
        return self.session.scalars(select(MlflowVersionRow.mlflow_model).where(
            MlflowVersionRow.model_name == model).limit(1)).first()

    def model_for(self, mlflow_model: str) -> str | None:
        """The signoff model an MLflow registered model's versions were taken in as."""
        return self.session.scalars(select(MlflowVersionRow.model_name).where(
            MlflowVersionRow.mlflow_model == mlflow_model).limit(1)).first()

    def reserve(self, *, mlflow_model: str, mlflow_version: int, model: str, run_id: str | None,
                at: datetime) -> None:
        """Claim an MLflow version for intake; raises AlreadyExists when another intake has it.

        In a savepoint, so a lost race (the unique key) leaves the caller's transaction usable.
        """
        try:
            with self.session.begin_nested():
                self.session.add(MlflowVersionRow(mlflow_model=mlflow_model, mlflow_version=mlflow_version,
                                                  model_name=model, run_id=run_id, created_at=at))
        except IntegrityError:
            raise AlreadyExists(f"MLflow version {mlflow_model}/{mlflow_version} is already taken in",
                                details={"mlflow_model": mlflow_model, "mlflow_version": mlflow_version}) from None

    def complete(self, *, mlflow_model: str, mlflow_version: int, version_id: int, number: int) -> None:
        row = self.session.scalars(select(MlflowVersionRow).where(
            MlflowVersionRow.mlflow_model == mlflow_model, MlflowVersionRow.mlflow_version == mlflow_version)).one()
        row.version_id, row.version_number = version_id, number

    # -- webhook deliveries -------------------------------------------------------------------

    def take_delivery(self, delivery_id: str, event: str, at: datetime, *, forget_before: datetime) -> None:
        """Record a delivery id; raises AlreadyExists for one seen before. Ids older than
        `forget_before` are dropped: their timestamps are refused as stale anyway."""
        self.session.execute(delete(MlflowDeliveryRow).where(MlflowDeliveryRow.received_at < forget_before))
        try:
            with self.session.begin_nested():
                self.session.add(MlflowDeliveryRow(delivery_id=delivery_id, event=event, received_at=at))
        except IntegrityError:
            raise AlreadyExists(f"webhook delivery {delivery_id} was received before",
                                details={"delivery_id": delivery_id}) from None

    # -- aliases ------------------------------------------------------------------------------

    def lock_alias(self, model: str, env: str) -> None:
        """Queue behind other processes reconciling this alias until the transaction ends
        (PostgreSQL; on SQLite nothing, and no transaction is begun)."""
        pg_locks.hold(self.session, ALIAS_LOCKS, f"{model}/{env}")

    def alias_set(self, model: str, env: str) -> tuple[bool, int | None]:
        """(whether signoff ever set this alias, the MLflow version it last set)."""
        row = self.session.get(MlflowAliasRow, (model, env))
        return (False, None) if row is None else (True, row.mlflow_version)

    def record_alias(self, *, model: str, env: str, mlflow_model: str, alias: str, mlflow_version: int | None,
                     at: datetime) -> None:
        row = self.session.get(MlflowAliasRow, (model, env))
        if row is None:
            self.session.add(MlflowAliasRow(model_name=model, env=env, mlflow_model=mlflow_model, alias=alias,
                                            mlflow_version=mlflow_version, updated_at=at))
        else:
            row.mlflow_model, row.alias, row.mlflow_version, row.updated_at = mlflow_model, alias, mlflow_version, at
