"""Who signed in, as an identity provider vouches for it, and how directory names become ours;
who is calling (`Principal`: a user through a token, a web session or an AWS key, or anonymous).

Pure: the providers (local accounts, LDAP, OIDC) produce an `Identity`; the services turn it
into a user row with memberships.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from signoff.domain.models import MODEL_NAME
from signoff.errors import AuthenticationFailed, InvalidInput

PROVIDERS = ("local", "ldap", "oidc")
DIRECTORY_PROVIDERS = ("ldap", "oidc")  # whose groups live outside signoff and are re-checked


@dataclass(frozen=True)
class Identity:
    """A person vouched for by `provider`; `groups` are signoff groups (already mapped)."""

    name: str
    provider: str
    groups: frozenset[str]
    email: str | None = None
    display_name: str | None = None
    auth_time: float | None = None  # OIDC: when the provider last authenticated the person (epoch s)


# What a caller may do. Tokens carry some of these; a web session carries a person's share.
SCOPES = ("register", "resolve", "report", "decide", "rules", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user acting through a token, a web session, or anonymously."""

    name: str
    scopes: frozenset[str]
    via: str = "token"
    token_id: int | None = None

    def allows(self, *needed: str) -> bool:
        """`admin` allows everything; otherwise any one of `needed` suffices."""
        return "admin" in self.scopes or any(s in self.scopes for s in needed)


ANONYMOUS = Principal("anonymous", frozenset({"resolve"}), via="anonymous")


def account_name(raw: str, *, strip_domain: bool = False) -> str:
    """The signoff user name for a directory account name; raises AuthenticationFailed if it has none.

    Lower-cased (directories compare names case-insensitively); with `strip_domain`,
    `alice@corp.example.com` and `CORP\\alice` both become `alice`. A name that is still not a
    valid signoff name is refused rather than rewritten: two accounts must never share a name.
    """
    name = (raw or "").strip().lower()
    if strip_domain:
        name = name.rsplit("\\", 1)[-1].split("@", 1)[0]
    if not MODEL_NAME.fullmatch(name):
        raise AuthenticationFailed(
            f"the directory account {raw!r} cannot sign in: signoff user names use a-z 0-9 . _ - "
            "(ask an administrator to configure another name attribute or claim)",
            details={"account": raw},
        )
    return name


def group_map(raw: Mapping[str, str | list[str]], *, key: str) -> dict[str, list[str]]:
    """Validate a `group_map` from configuration: targets must be valid signoff group names."""
    out: dict[str, list[str]] = {}
    for source, target in raw.items():
        targets = [target] if isinstance(target, str) else list(target)
        for group in targets:
            if not MODEL_NAME.fullmatch(group):
                raise InvalidInput(f"config key {key}: {group!r} is not a valid signoff group name",
                                   details={"key": key, "group": group})
        out[source] = targets
    return out


def mapped_groups(values: Iterable[str], mapping: Mapping[str, list[str]]) -> frozenset[str]:
    """Directory groups → signoff groups; a directory group not in the map grants nothing."""
    return frozenset(group for value in values for group in mapping.get(value, ()))
