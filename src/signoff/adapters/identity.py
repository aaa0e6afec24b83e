"""Wiring of the identity providers named in `[auth] providers`, once per Context.

`directory_for(ctx)` builds the `Directory` on first use and keeps it in `ctx.directory`, so the
API and the web UI of one process share one LDAP connection pool and one membership cache.
"""

from __future__ import annotations

from typing import Any

from signoff.adapters.passwords import verify_password
from signoff.config import LdapSettings
from signoff.domain.identity import Identity, account_name, group_map, mapped_groups
from signoff.domain.timespec import parse_duration
from signoff.services import identity
from signoff.services.identity import Directory, LocalProvider



class LdapProvider:
    """LDAP / Active Directory as a password provider and a membership source."""

    name = "ldap"

    def __init__(self, settings: LdapSettings) -> None:
        from signoff.adapters.ldap import (  # ldap3 only where LDAP is configured
            LdapDirectory,
            normalize_dn,
        )

        self.directory = LdapDirectory(settings)
        # Keys are compared as normalised DNs; targets are checked as signoff group names.
        targets = group_map(settings.group_map, key="auth.ldap.group_map")
        self.group_map = {normalize_dn(dn): groups for dn, groups in targets.items()}

    def authenticate(self, username: str, password: str) -> Identity | None:
        entry = self.directory.authenticate(username, password)
        if entry is None:
            return None
        return Identity(account_name(entry.name), self.name, mapped_groups(entry.groups, self.group_map),
                        entry.email, entry.display_name)

    def current_groups(self, user: str) -> frozenset[str]:
        entry = self.directory.lookup(user)
        # Gone from the directory (or filtered out, e.g. a disabled AD account): no groups at all.
        return frozenset() if entry is None else mapped_groups(entry.groups, self.group_map)

    def close(self) -> None:
        self.directory.close()


def build_directory(ctx: Any) -> Directory:
    """The providers in configured order; raises InvalidInput for a bad [auth.*] section."""
    auth = ctx.settings.auth
    providers: list[Any] = []
    sources: dict[str, Any] = {}
    sso = None
    for name in auth.providers:
        if name == "local":
            providers.append(LocalProvider(ctx.uow, verify_password))
        elif name == "ldap":
            ldap = LdapProvider(auth.ldap)
            providers.append(ldap)
            sources["ldap"] = ldap
        elif name == "oidc":
            from signoff.adapters.oidc import OidcProvider

            redirect = auth.oidc.redirect_url or ctx.settings.server.public_url.rstrip("/") + "/auth/oidc/callback"
            sso = OidcProvider(auth.oidc, redirect_url=redirect)
            sources["oidc"] = sso
    return Directory(providers=providers, sources=sources, sso=sso, ttl=parse_duration(auth.membership_ttl))


def directory_for(ctx: Any) -> Directory:
    """The Context's Directory, built once."""
    directory: Directory = ctx.built_once("directory", lambda: build_directory(ctx))
    return directory


def decision_groups(ctx: Any, user: str) -> set[str] | None:
    """What `approvals.decide(groups=...)` needs for `user`: fresh directory groups, or None for local users.

    Raises ServiceUnavailable when a directory user's groups cannot be checked (fail closed).
    """
    return identity.groups_for_decision(uow=ctx.uow(), directory=directory_for(ctx), user=user)
