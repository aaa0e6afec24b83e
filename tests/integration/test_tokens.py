"""API tokens: shown once, stored hashed, scoped, expiring, revocable, verified cheaply."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from signoff.adapters.db import migrate
from signoff.adapters.db.credentials import TokenVerifier
from signoff.adapters.db.tables import AuditRow, TokenRow
from signoff.bootstrap import Context
from signoff.errors import AuthenticationFailed, InvalidInput, NotFound
from signoff.services import tokens
from signoff.services.ports import FixedClock


def make(ctx: Context, user: str = "dana", *scopes: str, **kw: object) -> tuple[str, dict[str, object]]:
    return tokens.create_token(uow=ctx.uow(), user=user, scopes=list(scopes or ["register"]), actor="admin", **kw)  # type: ignore[arg-type]


class TestCreatingTokens:
    def test_the_token_is_returned_once_and_only_its_hash_is_stored(self, ctx: Context) -> None:
        token, info = make(ctx, "dana", "register", "resolve")
        assert token.startswith("so_") and len(token) > 40
        assert info["scopes"] == ["register", "resolve"] and info["prefix"] == token[:10]
        with ctx.session_factory() as s:
            row = s.scalars(select(TokenRow)).one()
            assert row.token_hash == tokens.hash_token(token) and token not in json.dumps(info)
            audit = s.scalars(select(AuditRow).where(AuditRow.action == "token.created")).one()
            assert token not in json.dumps(audit.after)

    def test_scopes_users_and_expiry_are_checked(self, ctx: Context) -> None:
        with pytest.raises(InvalidInput):
            make(ctx, "dana", "superuser")
        with pytest.raises(NotFound):
            make(ctx, "nobody")
        with pytest.raises(InvalidInput):
            make(ctx, "dana", expires_in=timedelta(seconds=-1))

    def test_tokens_are_listed_per_user_without_secrets(self, ctx: Context) -> None:
        make(ctx, "dana")
        make(ctx, "rita", "decide")
        assert [t["user"] for t in tokens.list_tokens(uow=ctx.uow())] == ["dana", "rita"]
        assert [t["scopes"] for t in tokens.list_tokens(uow=ctx.uow(), user="rita")] == [["decide"]]


class TestVerifyingTokens:
    def test_a_valid_token_gives_its_user_and_scopes(self, ctx: Context) -> None:
        token, _ = make(ctx, "rita", "decide", "resolve")
        principal = TokenVerifier(ctx.engine, ctx.clock).verify(token)
        assert (principal.name, principal.scopes) == ("rita", frozenset({"decide", "resolve"}))
        assert principal.allows("decide") and not principal.allows("register")

    def test_unknown_and_expired_tokens_are_refused(self, ctx: Context, clock: FixedClock) -> None:
        verifier = TokenVerifier(ctx.engine, ctx.clock)
        with pytest.raises(AuthenticationFailed, match="invalid"):
            verifier.verify("so_nope")
        token, _ = make(ctx, expires_in=timedelta(days=30))
        verifier.verify(token)
        clock.advance(days=31)
        with pytest.raises(AuthenticationFailed, match="expired"):
            verifier.verify(token)  # expiry is checked on every call, cached or not

    def test_revocation_is_seen_once_the_cached_verdict_ages_out(self, ctx: Context) -> None:
        token, info = make(ctx)
        cached = TokenVerifier(ctx.engine, ctx.clock, ttl=60)
        uncached = TokenVerifier(ctx.engine, ctx.clock, ttl=0)
        cached.verify(token)
        tokens.revoke_token(uow=ctx.uow(), token_id=int(info["id"]), actor="admin")  # type: ignore[call-overload]
        cached.verify(token)  # still trusted within its cache time
        with pytest.raises(AuthenticationFailed, match="revoked"):
            uncached.verify(token)
        cached.forget()
        with pytest.raises(AuthenticationFailed, match="revoked"):
            cached.verify(token)

    def test_last_use_is_written_at_most_once_a_minute(self, ctx: Context, clock: FixedClock) -> None:
        token, _ = make(ctx)
        verifier = TokenVerifier(ctx.engine, ctx.clock, ttl=0)
        verifier.verify(token)
        first = tokens.list_tokens(uow=ctx.uow())[0]["last_used_at"]
        clock.advance(seconds=30)
        verifier.verify(token)
        assert tokens.list_tokens(uow=ctx.uow())[0]["last_used_at"] == first
        clock.advance(seconds=31)
        verifier.verify(token)
        assert tokens.list_tokens(uow=ctx.uow())[0]["last_used_at"] != first


class TestTheTokenMigration:
    def test_a_fresh_database_has_the_token_table_and_is_at_every_head(self, ctx: Context) -> None:
        assert "api_tokens" in inspect(ctx.engine).get_table_names()
        assert migrate.is_current(ctx.engine)

    def test_heads_read_without_alembic_agree_with_alembic(self) -> None:
        assert set(migrate._declared_heads()) == migrate.head_revisions()
