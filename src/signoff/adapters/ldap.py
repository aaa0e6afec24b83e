"""LDAP / Active Directory: find a person, check their password, collect their (nested) groups.

How a sign-in goes: a service account (or an anonymous bind) searches for the entry whose
`user_attribute` equals what the person typed, escaped per RFC 4515 so that `*)(uid=*` is a
literal name and not a filter; then a separate connection binds as that entry's DN with the
password (an empty password is refused first: RFC 4513 §5.1.2 makes it an *unauthenticated*
bind that succeeds without checking anything). Groups come from `memberOf` or a group search;
nested groups either in one query (Active Directory's LDAP_MATCHING_RULE_IN_CHAIN) or by
walking parent groups level by level with a visited set (groups may contain each other).

Every library error is turned into ServiceUnavailable or AuthenticationFailed here, and every
connection that fails is closed including its socket (ldap3 2.9 keeps the socket of a refused
or timed-out open alive otherwise).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import ssl
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

with warnings.catch_warnings():
    # ldap3 2.9 touches pyasn1's deprecated tagMap/typeMap at import time.
    warnings.filterwarnings("ignore", r"(tag|type)Map is deprecated", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.dn import escape_rdn

from signoff.adapters.ldap_syntax import (
    IN_CHAIN,
    in_chain_filter,
    members_filter,
    normalize_dn,
    user_filter,
)
from signoff.config import LdapSettings
from signoff.errors import AuthenticationFailed, InvalidInput, ServiceUnavailable

__all__ = ["IN_CHAIN", "DirectoryEntry", "LdapDirectory", "in_chain_filter", "members_filter", "normalize_dn",
           "user_filter"]

log = logging.getLogger("signoff.ldap")
T = TypeVar("T")

INVALID_CREDENTIALS = 49
SIZE_LIMIT_EXCEEDED = 4
MAX_LOGIN = 256
BAD_CREDENTIALS = "invalid user name or password"
_OR_BATCH = 50  # parent groups of at most this many DNs per search while walking
_IDLE_SECONDS = 120.0  # pooled connections idle longer are dropped (servers close idle ones)


@dataclass(frozen=True)
class DirectoryEntry:
    """A person as the directory knows them; `groups` are normalised DNs, nested ones included."""

    dn: str
    name: str
    email: str | None
    display_name: str | None
    groups: frozenset[str]


def _check_login(username: str) -> None:
    # Refuse, rather than escape, what no real account name contains: it is only ever an attack.
    if not username or len(username) > MAX_LOGIN or any(ord(c) < 32 for c in username):
        raise AuthenticationFailed(BAD_CREDENTIALS)


class LdapDirectory:
    """One configured directory: a small pool of service-account connections plus user binds."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings
        urls = [settings.url] if isinstance(settings.url, str) else list(settings.url)
        if not urls:
            raise InvalidInput("auth.ldap.url: at least one URL is needed", details={"key": "auth.ldap.url"})
        for text in (settings.user_filter, settings.group_filter):
            if text and not (text.startswith("(") and text.endswith(")")):
                raise InvalidInput(f"auth.ldap: filter {text!r} must be enclosed in parentheses")
        if not settings.user_search_base and not settings.user_dn_template:
            raise InvalidInput("auth.ldap: set user_search_base (or user_dn_template)",
                               details={"key": "auth.ldap.user_search_base"})
        self.name_attribute = settings.name_attribute or settings.user_attribute
        self._servers = [self._server(url) for url in urls]
        self._idle: queue.LifoQueue[tuple[float, ldap3.Connection]] = queue.LifoQueue(settings.pool_size)

    # ------------------------------------------------------------------ public

    def authenticate(self, username: str, password: str) -> DirectoryEntry | None:
        """The entry after a successful bind as it; None if no such person; raises AuthenticationFailed, ServiceUnavailable."""
        _check_login(username)
        if not password:
            raise AuthenticationFailed(BAD_CREDENTIALS)  # an empty password would bind anonymously
        if self.settings.user_dn_template and not self.settings.user_search_base:
            # No service account: the DN is built from what was typed, escaped per RFC 4514.
            dn = self.settings.user_dn_template.format(username=escape_rdn(username))
            with self._bound_as(dn, password) as conn:
                found = self._read_entry(conn, dn)
                return None if found is None else self._with_groups(conn, found)
        found = self._with_service(lambda conn: self._find(conn, self.settings.user_attribute, username))
        if found is None:
            return None
        with self._bound_as(found["dn"], password):
            pass
        return self._with_service(lambda conn: self._with_groups(conn, found))

    def lookup(self, name: str) -> DirectoryEntry | None:
        """The entry whose name attribute is `name`, with groups, via the service account; raises ServiceUnavailable."""
        _check_login(name)

        def op(conn: ldap3.Connection) -> DirectoryEntry | None:
            found = self._find(conn, self.name_attribute, name)
            return None if found is None else self._with_groups(conn, found)

        return self._with_service(op)

    def close(self) -> None:
        while True:
            try:
                _, conn = self._idle.get_nowait()
            except queue.Empty:
                return
            _discard(conn)

    # ------------------------------------------------------------------ connections

    def _server(self, url: str) -> ldap3.Server:
        s = self.settings
        tls = None
        if url.lower().startswith("ldaps://") or s.start_tls:
            tls = _Tls(verify=s.tls_verify, ca_file=s.ca_file)
        return ldap3.Server(url, tls=tls, get_info=ldap3.NONE, connect_timeout=s.connect_timeout)

    def _connect(self, user: str | None, password: str | None, *, service: bool = False) -> ldap3.Connection:
        """An open, bound connection to the first server that answers; raises ServiceUnavailable, AuthenticationFailed."""
        problems = []
        for server in self._servers:
            # ldap3 otherwise skips an address for 5 s after one failure; failover is decided here.
            server.reset_availability()
            conn = ldap3.Connection(server, user=user, password=password, read_only=True,
                                    receive_timeout=self.settings.receive_timeout, raise_exceptions=False,
                                    auto_referrals=False, auto_bind=ldap3.AUTO_BIND_NONE)
            try:
                conn.open()
                if self.settings.start_tls and not server.ssl:
                    conn.start_tls()
                if conn.bind():
                    return conn
                code, message = conn.result.get("result"), conn.result.get("message") or conn.result.get("description")
            except LDAPException as exc:
                _discard(conn)
                problems.append(f"{server.host}:{server.port}: {_describe(exc)}")
                continue
            _discard(conn)
            if code == INVALID_CREDENTIALS and service:
                # Our configuration is wrong, not the person's password: say so, as a 503.
                log.error("directory: the service account %r was refused (invalid credentials)", user)
                raise ServiceUnavailable("the directory refused signoff's service account; an administrator must "
                                         "check auth.ldap.bind_dn and bind_password", details={"provider": "ldap"})
            if code == INVALID_CREDENTIALS:
                raise AuthenticationFailed(BAD_CREDENTIALS)
            problems.append(f"{server.host}:{server.port}: bind refused ({message})")
        # The details (host names, library errors) go to the log, not to an anonymous caller.
        log.warning("directory unavailable: %s", "; ".join(problems))
        raise ServiceUnavailable("the directory (LDAP) is unavailable; try again in a minute",
                                 details={"provider": "ldap"})

    @contextlib.contextmanager
    def _bound_as(self, dn: str, password: str) -> Iterator[ldap3.Connection]:
        conn = self._connect(dn, password)
        try:
            yield conn
        except _Stale:
            raise _stopped_answering() from None
        finally:
            _discard(conn)

    def _with_service(self, op: Callable[[ldap3.Connection], T]) -> T:
        """Run `op` on a pooled service-account connection; a broken one is closed, never pooled again."""
        for attempt in range(2):
            reused, conn = self._take()
            try:
                result = op(conn)
            except _Stale:
                _discard(conn)
                if reused and attempt == 0:
                    continue  # the server dropped an idle pooled connection: retry once on a fresh one
                raise _stopped_answering() from None
            except BaseException:
                _discard(conn)
                raise
            self._give_back(conn)
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _take(self) -> tuple[bool, ldap3.Connection]:
        while True:
            try:
                since, conn = self._idle.get_nowait()
            except queue.Empty:
                break
            if time.monotonic() - since < _IDLE_SECONDS and not conn.closed:
                return True, conn
            _discard(conn)
        password = self.settings.bind_password.get_secret_value() if self.settings.bind_password else None
        return False, self._connect(self.settings.bind_dn, password, service=True)

    def _give_back(self, conn: ldap3.Connection) -> None:
        try:
            self._idle.put_nowait((time.monotonic(), conn))
        except queue.Full:
            _discard(conn)

    # ------------------------------------------------------------------ searches

    def _search(self, conn: ldap3.Connection, base: str, flt: str, attributes: list[str], *,
                scope: Literal["BASE", "LEVEL", "SUBTREE"] = ldap3.SUBTREE, size_limit: int = 0) -> list[dict[str, Any]]:
        """Entries (dn + attributes), following paged results; raises _Stale, ServiceUnavailable."""
        entries: list[dict[str, Any]] = []
        cookie: Any = None
        while True:
            try:
                conn.search(base, flt, scope, attributes=attributes or ldap3.NO_ATTRIBUTES,
                            size_limit=size_limit, time_limit=int(self.settings.receive_timeout) or 1,
                            paged_size=None if size_limit else 500, paged_cookie=cookie)
            except LDAPException as exc:
                log.warning("directory search failed: %s", _describe(exc))
                raise _Stale() from None
            code = conn.result.get("result")
            if code not in (0, SIZE_LIMIT_EXCEEDED, 32):  # 32: no such object (an empty base)
                raise ServiceUnavailable(f"the directory refused a search: {conn.result.get('description')}",
                                         details={"provider": "ldap", "result": code})
            entries += [{"dn": r["dn"], **dict(r.get("attributes") or {})}
                        for r in conn.response or [] if r.get("type") == "searchResEntry"]
            controls = (conn.result.get("controls") or {}).get("1.2.840.113556.1.4.319") or {}
            cookie = (controls.get("value") or {}).get("cookie")
            if code == SIZE_LIMIT_EXCEEDED or not cookie:
                return entries

    def _find(self, conn: ldap3.Connection, attribute: str, value: str) -> dict[str, Any] | None:
        s = self.settings
        found = self._search(conn, s.user_search_base, user_filter(s, attribute, value), self._attributes(),
                             size_limit=2)
        if len(found) > 1:
            # Two entries answer to one name: refuse rather than guess which person this is.
            log.warning("directory: %d entries match %s=%r; refusing", len(found), attribute, value)
            raise AuthenticationFailed(BAD_CREDENTIALS)
        return found[0] if found else None

    def _read_entry(self, conn: ldap3.Connection, dn: str) -> dict[str, Any] | None:
        found = self._search(conn, dn, "(objectClass=*)", self._attributes(), scope=ldap3.BASE)
        return found[0] if found else None

    def _attributes(self) -> list[str]:
        s = self.settings
        attrs = {self.name_attribute, s.email_attribute, s.display_name_attribute}
        if s.groups_from == "memberOf":
            attrs.add("memberOf")
        return sorted(attrs)

    # ------------------------------------------------------------------ groups

    def _with_groups(self, conn: ldap3.Connection, found: dict[str, Any]) -> DirectoryEntry:
        name = _first(found.get(self.name_attribute))
        if not name:
            raise AuthenticationFailed(f"the directory entry has no {self.name_attribute}")
        return DirectoryEntry(dn=found["dn"], name=name, email=_first(found.get(self.settings.email_attribute)),
                              display_name=_first(found.get(self.settings.display_name_attribute)),
                              groups=frozenset(self._groups(conn, found)))

    def _groups(self, conn: ldap3.Connection, found: dict[str, Any]) -> set[str]:
        s = self.settings
        base = s.group_search_base or s.user_search_base
        if s.active_directory and s.nested_groups:
            return {normalize_dn(g["dn"]) for g in self._search(conn, base, in_chain_filter(s, found["dn"]), [])}
        if s.groups_from == "memberOf":
            direct = {normalize_dn(dn): dn for dn in _values(found.get("memberOf"))}
        else:
            direct = {normalize_dn(g["dn"]): g["dn"] for g in self._search(conn, base, members_filter(s, [found["dn"]]), [])}
        if not s.nested_groups:
            return set(direct)
        return self._walk(conn, base, direct)

    def _walk(self, conn: ldap3.Connection, base: str, direct: dict[str, str]) -> set[str]:
        """Parents of parents, level by level; `seen` stops cycles, `max_nesting` stops depth."""
        s = self.settings
        seen = dict(direct)
        frontier = list(direct.values())
        for _ in range(s.max_nesting):
            parents: dict[str, str] = {}
            for i in range(0, len(frontier), _OR_BATCH):
                batch = frontier[i:i + _OR_BATCH]
                if s.groups_from == "memberOf":
                    for dn in batch:
                        for entry in self._search(conn, dn, "(objectClass=*)", ["memberOf"], scope=ldap3.BASE):
                            parents.update({normalize_dn(p): p for p in _values(entry.get("memberOf"))})
                else:
                    parents.update({normalize_dn(g["dn"]): g["dn"]
                                    for g in self._search(conn, base, members_filter(s, batch), [])})
            new = {k: v for k, v in parents.items() if k not in seen}
            if not new:
                break
            seen.update(new)
            frontier = list(new.values())
        return set(seen)


class _Tls(ldap3.Tls):
    """ldap3's TLS with certificate and host name checks done by Python's `ssl` itself.

    ldap3 2.9 turns `check_hostname` off and calls `ssl.match_hostname` afterwards, which is
    deprecated since Python 3.7 and gone in 3.12; a context with `check_hostname` does it right
    (IP addresses in subjectAltName included) and refuses TLS below 1.2.
    """

    def __init__(self, *, verify: bool, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED if verify else ssl.CERT_NONE, ca_certs_file=ca_file)
        if verify:
            context = ssl.create_default_context(cafile=ca_file)
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context = context

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(connection.socket, server_side=False,
                                                     do_handshake_on_connect=do_handshake,
                                                     server_hostname=connection.server.host)


class _Stale(Exception):
    """A connection broke mid-operation (server gone, dropped idle connection, timeout)."""


def _stopped_answering() -> ServiceUnavailable:
    return ServiceUnavailable("the directory (LDAP) stopped answering; try again in a minute",
                              details={"provider": "ldap"})


def _first(value: Any) -> str | None:
    values = _values(value)
    return values[0] if values else None


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, "", b"")]
    return [str(value)] if value not in ("", b"") else []


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _discard(conn: ldap3.Connection) -> None:
    """Unbind if possible and always close the socket (ldap3 leaks it after a failed open)."""
    with contextlib.suppress(Exception):
        if not conn.closed:
            conn.unbind()
    sock = getattr(conn, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
    with contextlib.suppress(Exception):
        conn.socket = None
