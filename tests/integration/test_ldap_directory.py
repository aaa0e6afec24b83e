"""The LDAP adapter against a real slapd: finding people, passwords, nested groups, injection, failures, TLS."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.adapters.identity import LdapProvider
from signoff.adapters.ldap import LdapDirectory, in_chain_filter, members_filter, normalize_dn, user_filter
from signoff.config import LdapSettings
from signoff.errors import AuthenticationFailed, InvalidInput, ServiceUnavailable
from tests.conftest import unique
from tests.fixtures import servers
from tests.fixtures.directory import DirectoryAdmin, frozen, ldap_config, open_fds, stopped
from tests.fixtures.servers import Certificate, SlapdServer, free_port

INJECTIONS = [
    "*",
    "alice*",
    "*)(uid=*",
    "alice)(|(uid=*",
    "*)(|(objectClass=*)",
    "alice)(&)",
    "al*ce",
    "\\2a",
    "alice\x00",
    "(uid=alice)",
]


@pytest.fixture
def directory(slapd_server: SlapdServer) -> Iterator[LdapDirectory]:
    d = LdapDirectory(LdapSettings(**ldap_config(slapd_server)))
    yield d
    d.close()


@pytest.fixture
def admin(slapd_server: SlapdServer) -> Iterator[DirectoryAdmin]:
    a = DirectoryAdmin(slapd_server)
    yield a
    a.close()


def group_dns(slapd: SlapdServer, *cns: str) -> frozenset[str]:
    return frozenset(normalize_dn(slapd.group_dn(cn)) for cn in cns)


class TestSigningIn:
    def test_a_person_signs_in_with_their_password_and_gets_their_entry(
            self, directory: LdapDirectory, slapd_server: SlapdServer) -> None:
        entry = directory.authenticate("alice", "alice-password")
        assert entry is not None
        assert (entry.name, entry.email, entry.display_name) == ("alice", "alice@example.com", "Alice Archer")
        assert entry.groups == group_dns(slapd_server, "ml-leads")

    def test_the_name_is_matched_case_insensitively_and_comes_back_as_the_directory_spells_it(
            self, directory: LdapDirectory) -> None:
        entry = directory.authenticate("ALICE", "alice-password")
        assert entry is not None and entry.name == "alice"

    def test_a_wrong_password_is_refused(self, directory: LdapDirectory) -> None:
        with pytest.raises(AuthenticationFailed) as err:
            directory.authenticate("alice", "bob-password")
        assert err.value.code == "unauthenticated"

    @pytest.mark.parametrize("password", ["", None])
    def test_an_empty_password_is_refused_before_it_can_become_an_unauthenticated_bind(
            self, directory: LdapDirectory, password: Any) -> None:
        with pytest.raises(AuthenticationFailed):
            directory.authenticate("alice", password)

    def test_an_unknown_person_is_none_so_the_next_provider_may_be_asked(self, directory: LdapDirectory) -> None:
        assert directory.authenticate(unique("nobody"), "whatever") is None

    def test_without_a_service_account_the_dn_is_built_from_an_escaped_name(
            self, slapd_server: SlapdServer) -> None:
        config = ldap_config(slapd_server, bind_dn=None, bind_password=None, user_search_base="",
                             user_dn_template=f"uid={{username}},{slapd_server.people_dn}")
        d = LdapDirectory(LdapSettings(**config))
        try:
            entry = d.authenticate("mallory*)(uid=*", "mallory-password")
            assert entry is not None and entry.name == "mallory*)(uid=*"
            with pytest.raises(AuthenticationFailed):
                d.authenticate("alice,ou=People", "alice-password")
        finally:
            d.close()


class TestNestedGroups:
    def test_a_member_of_a_member_group_is_in_both(self, directory: LdapDirectory, slapd_server: SlapdServer) -> None:
        entry = directory.lookup("carol")
        assert entry is not None
        assert entry.groups == group_dns(slapd_server, "ds-leads", "ml-leads")

    def test_groups_from_member_of_walk_the_same_nesting(self, slapd_server: SlapdServer) -> None:
        if not slapd_server.memberof:
            pytest.skip("slapd without the memberof overlay")
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_server, groups_from="memberOf")))
        try:
            entry = d.lookup("carol")
            assert entry is not None and entry.groups == group_dns(slapd_server, "ds-leads", "ml-leads")
        finally:
            d.close()

    def test_without_nesting_only_direct_groups_count(self, slapd_server: SlapdServer) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_server, nested_groups=False)))
        try:
            entry = d.lookup("carol")
            assert entry is not None and entry.groups == group_dns(slapd_server, "ds-leads")
        finally:
            d.close()

    def test_groups_that_contain_each_other_end_the_walk(
            self, directory: LdapDirectory, admin: DirectoryAdmin, slapd_server: SlapdServer) -> None:
        person = admin.add_person(unique("cy"))
        a, b, c = unique("cycle-a"), unique("cycle-b"), unique("cycle-c")
        a_dn = admin.add_group(a, [person])
        b_dn = admin.add_group(b, [a_dn])
        c_dn = admin.add_group(c, [b_dn])
        admin.add_member(a_dn, c_dn)  # a ⊂ b ⊂ c ⊂ a
        entry = directory.lookup(person.split(",")[0].split("=")[1])
        assert entry is not None and entry.groups == group_dns(slapd_server, a, b, c)

    def test_nesting_deeper_than_the_limit_is_cut_off(self, admin: DirectoryAdmin, slapd_server: SlapdServer) -> None:
        uid = unique("deep")
        member = admin.add_person(uid)
        names = []
        for _ in range(4):
            names.append(unique("level"))
            member = admin.add_group(names[-1], [member])
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_server, max_nesting=2)))
        try:
            entry = d.lookup(uid)
            assert entry is not None and entry.groups == group_dns(slapd_server, *names[:3])
        finally:
            d.close()

    def test_directory_groups_map_to_signoff_groups_and_unmapped_ones_grant_nothing(
            self, slapd_server: SlapdServer) -> None:
        provider = LdapProvider(LdapSettings(**ldap_config(slapd_server)))
        try:
            assert provider.current_groups("carol") == {"ml-leads"}  # via ds-leads, which is not mapped
            assert provider.current_groups("bob") == {"risk-office"}
            assert provider.current_groups(unique("gone")) == frozenset()
        finally:
            provider.close()

    def test_active_directory_asks_for_the_whole_chain_in_one_escaped_filter(self) -> None:
        settings = LdapSettings(user_search_base="dc=x", active_directory=True, group_filter="(objectClass=group)")
        dn = "CN=Mallory *)(x,OU=People,DC=corp"
        assert in_chain_filter(settings, dn) == (
            "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:=CN=Mallory \\2a\\29\\28x,OU=People,DC=corp))")

    def test_group_map_keys_are_compared_as_dns_whatever_their_spelling(self) -> None:
        assert normalize_dn("CN=ML-Leads, OU=Groups,DC=Corp") == normalize_dn("cn=ml-leads,ou=groups,dc=corp")
        assert normalize_dn("cn=a\\,b,dc=x") == normalize_dn("cn=a\\2cb,dc=x")
        assert normalize_dn("cn=x\\,ou=y,dc=z") != normalize_dn("cn=x,ou=y,dc=z")


class TestFilterInjection:
    @pytest.mark.parametrize("name", INJECTIONS)
    def test_filter_syntax_in_a_name_finds_nobody_and_binds_as_nobody(
            self, directory: LdapDirectory, name: str) -> None:
        for password in ("alice-password", "mallory-password", "x"):
            try:
                assert directory.authenticate(name, password) is None
            except AuthenticationFailed:
                pass  # refused outright: fails closed just the same

    @pytest.mark.parametrize("name", INJECTIONS)
    def test_lookups_by_name_treat_filter_syntax_as_a_literal(self, directory: LdapDirectory, name: str) -> None:
        try:
            assert directory.lookup(name) is None
        except AuthenticationFailed:
            pass

    def test_a_name_made_of_filter_syntax_matches_only_its_own_entry(self, directory: LdapDirectory) -> None:
        entry = directory.authenticate("mallory*)(uid=*", "mallory-password")
        assert entry is not None and entry.name == "mallory*)(uid=*" and entry.groups == frozenset()
        with pytest.raises(AuthenticationFailed):
            directory.authenticate("mallory*)(uid=*", "alice-password")

    def test_values_are_escaped_per_rfc_4515(self) -> None:
        settings = LdapSettings(user_search_base="dc=x", user_filter="(objectClass=person)")
        assert user_filter(settings, "uid", "a*)(uid=*\\\x00") == \
            "(&(uid=a\\2a\\29\\28uid=\\2a\\5c\\00)(objectClass=person))"
        assert members_filter(settings, ["cn=(x)"]).endswith("(|(member=cn=\\28x\\29)))")

    def test_filters_that_are_not_parenthesised_are_refused_at_start(self) -> None:
        with pytest.raises(InvalidInput):
            LdapDirectory(LdapSettings(user_search_base="dc=x", user_filter="objectClass=person"))


class TestFailures:
    def test_a_stopped_server_is_unavailable_quickly_and_leaks_no_socket(self, slapd_server: SlapdServer) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_server, url=f"ldap://127.0.0.1:{free_port()}")))
        before = open_fds()
        started = time.monotonic()
        for _ in range(20):
            with pytest.raises(ServiceUnavailable) as err:
                d.authenticate("alice", "alice-password")
        assert time.monotonic() - started < 5
        assert err.value.code == "unavailable" and "unavailable" in err.value.message
        assert open_fds() <= before + 1
        d.close()

    def test_a_server_that_stops_answering_times_out(self, slapd_server: SlapdServer) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_server, receive_timeout=1)))
        try:
            assert d.lookup("alice") is not None  # a pooled connection exists now
            with frozen(slapd_server):
                started = time.monotonic()
                with pytest.raises(ServiceUnavailable):
                    d.authenticate("alice", "alice-password")
                assert time.monotonic() - started < 8
            assert d.lookup("alice") is not None
        finally:
            d.close()

    def test_pooled_connections_survive_a_server_restart(self, directory: LdapDirectory,
                                                         slapd_server: SlapdServer) -> None:
        assert directory.lookup("bob") is not None
        with stopped(slapd_server), pytest.raises(ServiceUnavailable):
            directory.lookup("bob")
        assert directory.lookup("bob") is not None

    def test_a_second_url_is_used_when_the_first_is_down(self, slapd_server: SlapdServer) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(
            slapd_server, url=[f"ldap://127.0.0.1:{free_port()}", slapd_server.url])))
        try:
            assert d.authenticate("bob", "bob-password") is not None
        finally:
            d.close()

    def test_a_wrong_service_account_password_is_a_clear_503_not_a_wrong_user_password(
            self, slapd_server: SlapdServer) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_server, bind_password="not-it")))
        try:
            with pytest.raises(ServiceUnavailable) as err:
                d.authenticate("alice", "alice-password")
            assert "service account" in err.value.message
        finally:
            d.close()


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def slapd_tls(slapd_server: SlapdServer, tls_certificate: Certificate) -> Iterator[SlapdServer]:
    """A second slapd that offers STARTTLS with the test certificate (self-signed for 127.0.0.1)."""
    schema = next(d for d in servers._SCHEMA_DIRS if Path(d, "inetorgperson.schema").exists())
    modules = next((d for d in servers._MODULE_DIRS if Path(d, "back_mdb.la").exists()), None)
    directory = Path(tempfile.mkdtemp(prefix="signoff-slapd-tls-"))
    (directory / "data").mkdir()
    server = SlapdServer(port=free_port(), directory=directory, memberof=False)
    tls = (f"TLSCertificateFile {tls_certificate.cert_path}\n"
           f"TLSCertificateKeyFile {tls_certificate.key_path}\n")
    (directory / "slapd.conf").write_text(tls + servers._slapd_conf(server, schema, modules))
    servers._cleanups.append(server.stop)
    try:
        server.start()
        servers._seed(server)
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


class TestTls:
    def test_starttls_with_the_servers_ca_signs_in(self, slapd_tls: SlapdServer,
                                                   tls_certificate: Certificate) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_tls, start_tls=True,
                                                     ca_file=str(tls_certificate.cert_path))))
        try:
            entry = d.authenticate("carol", "carol-password")
            assert entry is not None and len(entry.groups) == 2
        finally:
            d.close()

    def test_starttls_with_an_untrusted_certificate_is_refused(self, slapd_tls: SlapdServer,
                                                               tmp_path: Path) -> None:
        other = servers.make_certificate(tmp_path)  # a CA that did not sign the server's certificate
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_tls, start_tls=True, ca_file=str(other.cert_path))))
        try:
            with pytest.raises(ServiceUnavailable):
                d.authenticate("carol", "carol-password")
        finally:
            d.close()

    def test_verification_can_be_turned_off_explicitly(self, slapd_tls: SlapdServer) -> None:
        d = LdapDirectory(LdapSettings(**ldap_config(slapd_tls, start_tls=True, tls_verify=False)))
        try:
            assert d.authenticate("bob", "bob-password") is not None
        finally:
            d.close()
