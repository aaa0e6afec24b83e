"""Directory names and groups as signoff sees them, and how long a membership is trusted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signoff.config import Settings
from signoff.domain.identity import account_name, group_map, mapped_groups
from signoff.errors import AuthenticationFailed, InvalidInput
from signoff.services.identity import Directory


class TestAccountNames:
    @pytest.mark.parametrize(("raw", "name"), [("Alice", "alice"), (" bob ", "bob"), ("j.smith-2", "j.smith-2")])
    def test_directory_names_are_lower_cased(self, raw: str, name: str) -> None:
        assert account_name(raw) == name

    @pytest.mark.parametrize("raw", ["alice@corp.example.com", "CORP\\alice", "Alice@Example.COM"])
    def test_domains_are_stripped_when_asked(self, raw: str) -> None:
        assert account_name(raw, strip_domain=True) == "alice"

    @pytest.mark.parametrize("raw", ["mallory*)(uid=*", "alice@corp.example.com", "", "a b", "-x", "x" * 129])
    def test_a_name_that_is_not_a_signoff_name_is_refused_not_rewritten(self, raw: str) -> None:
        with pytest.raises(AuthenticationFailed) as err:
            account_name(raw)
        assert err.value.code == "unauthenticated"


class TestGroupMaps:
    def test_only_listed_groups_grant_anything(self) -> None:
        mapping = group_map({"ML Leads": "ml-leads", "Risk": ["risk-office", "auditors"]}, key="k")
        assert mapped_groups(["ML Leads", "Risk", "Everyone"], mapping) == {"ml-leads", "risk-office", "auditors"}
        assert mapped_groups(["ml-leads"], mapping) == frozenset()

    def test_a_target_that_is_not_a_group_name_is_a_config_error(self) -> None:
        with pytest.raises(InvalidInput) as err:
            group_map({"ML Leads": "ML Leads"}, key="auth.oidc.group_map")
        assert "auth.oidc.group_map" in err.value.message


class TestMembershipCache:
    def test_a_membership_is_trusted_for_the_ttl_and_not_a_moment_longer(self) -> None:
        now = [100.0]
        directory = Directory(providers=[], sources={}, ttl=timedelta(minutes=5), monotonic=lambda: now[0])
        directory.remember("carol", frozenset({"ml-leads"}))
        now[0] += 299
        assert directory.cached("carol") == {"ml-leads"}
        now[0] += 1
        assert directory.cached("carol") is None

    def test_forgetting_drops_one_user_or_everyone(self) -> None:
        directory = Directory(providers=[], sources={}, ttl=timedelta(minutes=5))
        directory.remember("a", frozenset())
        directory.remember("b", frozenset())
        directory.forget("a")
        assert directory.cached("a") is None and directory.cached("b") == frozenset()
        directory.forget()
        assert directory.cached("b") is None


class TestAuthSettings:
    def test_an_enabled_provider_needs_its_section(self) -> None:
        with pytest.raises(ValueError, match=r"\[auth.ldap\] is missing"):
            Settings(auth={"providers": ["ldap"]})  # type: ignore[arg-type]

    def test_the_membership_ttl_is_a_duration(self) -> None:
        with pytest.raises(ValueError, match="invalid duration"):
            Settings(auth={"membership_ttl": "five minutes"})  # type: ignore[arg-type]

    def test_secrets_come_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SIGNOFF_AUTH__LDAP__BIND_PASSWORD", "from-env")
        settings = Settings(auth={"providers": ["ldap"], "ldap": {"user_search_base": "dc=x"}})  # type: ignore[arg-type]
        assert settings.auth.ldap is not None
        assert settings.auth.ldap.bind_password is not None
        assert settings.auth.ldap.bind_password.get_secret_value() == "from-env"
