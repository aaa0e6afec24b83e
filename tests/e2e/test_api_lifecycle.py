"""Rollback, revoke, break-glass, reference profiles and refused loads over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.domain import events
from signoff import BaseClient
from signoff.errors import ArtifactMismatch, InvalidInput, NotFound, PermissionDenied
from signoff.inference import run_batch
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, artifact_file, unique
from tests.e2e.conftest import Api, error_of
from tests.fixtures.models import FEATURES, classification_data, fit_classifier, save_joblib


def two_versions_in_dev(api: Api, count: int = 2) -> str:
    name = unique()
    dana, rita = api.client("dana"), api.client("rita")
    for n in range(1, count + 1):
        dana.register(name, artifact_file(api.ctx.settings.resolved_artifact_root(), f"{name}-{n}.pkl"))
        rita.approve(name, n, "dev")
    return name


class TestLifecycleRoutes:
    def test_rollback_returns_the_new_live_version(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        response = api.http.post(f"/api/v1/models/{name}/environments/dev/rollbacks", json={"reason": "slow"},
                                 headers=api.auth("rita"))
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["version"], body["previous_version"], body["change"]) == (1, 2, "rollback")

    def test_rollback_by_a_non_approver_is_403_and_changes_nothing(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        headers = api.auth("uma")
        before = api.counts()
        response = api.http.post(f"/api/v1/models/{name}/environments/dev/rollbacks", json={}, headers=headers)
        assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
        assert api.counts() == before

    def test_revoke_needs_a_reason_and_moves_the_live_pointer(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        url = f"/api/v1/models/{name}/versions/2/environments/dev/revocations"
        assert api.http.post(url, json={}, headers=api.auth("rita")).status_code == 422
        response = api.http.post(url, json={"reason": "leak"}, headers=api.auth("rita"))
        assert response.status_code == 201, response.text
        assert (response.json()["was_live"], response.json()["live_version"]) == (True, 1)

    def test_break_glass_over_the_sdk_for_a_member_only(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        with pytest.raises(PermissionDenied):
            api.client("paula").break_glass(name, 2, "test", justification="INC-7 needs the fix now")
        r = api.client("erin").break_glass(name, 2, "test", justification="INC-7 needs the fix now")
        assert r["version"] == 2 and r["change"] == "break_glass"
        assert api.client("dana").resolve(name, "test")["version"] == 2

    def test_a_reference_profile_round_trips_and_bad_ones_are_400(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        url = f"/api/v1/models/{name}/versions/1/reference-profile"
        profile = {"rows": 3, "features": {"x": {"kind": "categorical", "count": 3, "missing": 0,
                                                 "counts": {"a": 2, "b": 1}}}}
        assert api.http.put(url, json=profile, headers=api.auth("dana")).status_code == 200
        assert api.http.get(url, headers=api.auth("eve", "resolve")).json() == profile
        bad = api.http.put(url, json={"features": {"x": {"kind": "image"}}}, headers=api.auth("dana"))
        assert bad.status_code == 400 and error_of(bad)["code"] == "invalid_input"


class TestInferenceOverHttp:
    def test_a_batch_run_through_the_http_client_reports_drift_and_refuses_a_changed_artifact(
            self, api: Api, tmp_path: Path) -> None:
        # The artifact is stored by an embedded client on the same database (a training job),
        # then resolved, loaded and reported over HTTP (an inference job).
        name = unique()
        training = classification_data(n=2000, seed=0)
        EmbeddedClient(actor="dana", context=api.ctx).register(
            name, str(save_joblib(fit_classifier(training), tmp_path / "m.joblib")), reference=training[FEATURES])
        api.client("rita").approve(name, 1, "dev")
        pipeline = api.client("dana")
        batch = classification_data(n=1000, seed=1).assign(f2=lambda d: d["f2"] + 3)
        result = run_batch(pipeline, name, "dev", batch, target="label")
        assert result.metrics["accuracy"] > 0.5 and result.drifted_features == ["f2"]
        live = pipeline.resolve(name, "dev")
        stored = Path(live["artifact_uri"].removeprefix("file://"))
        stored.write_bytes(b"swapped")
        with pytest.raises(ArtifactMismatch):
            live.load(cache_dir=tmp_path / "cache")
        mismatches = [e.event["data"] for e in pipeline.events(type=events.ARTIFACT_MISMATCH)]
        assert [(m["model"], m["loaded_by"]) for m in mismatches] == [(name, "dana")]


PROFILE = {"rows": 3, "features": {"x": {"kind": "categorical", "count": 3, "missing": 0, "counts": {"a": 2, "b": 1}}}}


class TestWhoMaySetAReferenceProfile:
    def test_another_users_register_token_is_403_and_nothing_is_written(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        url = f"/api/v1/models/{name}/versions/1/reference-profile"
        erin = api.auth("erin", "register")
        before = api.counts()
        refused = api.http.put(url, json=PROFILE, headers=erin)
        assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
        assert api.counts() == before
        assert api.http.get(url, headers=api.auth("eve", "resolve")).status_code == 404

    def test_the_registrant_and_an_admin_may_until_it_is_approved_beyond_its_first_environment(self, api: Api) -> None:
        # one version, so it stays live in dev: reports are accepted only from the live version
        name = two_versions_in_dev(api, count=1)
        url = f"/api/v1/models/{name}/versions/1/reference-profile"
        assert api.http.put(url, json=PROFILE, headers=api.auth("dana", "register")).status_code == 200
        assert api.http.put(url, json=PROFILE, headers=api.auth("olga", "admin")).status_code == 200
        api.client("dana").report_inference(name, 1, "dev", metrics={"accuracy": 0.95})
        api.client("ron").approve(name, 1, "test")  # approved beyond dev now
        tokens = (api.auth("dana", "register"), api.auth("olga", "admin"))
        before = api.counts()
        for who in tokens:
            late = api.http.put(url, json={"features": {}}, headers=who)
            assert late.status_code == 409 and error_of(late)["code"] == "invalid_transition", late.text
        assert api.counts() == before
        assert api.http.get(url, headers=api.auth("eve", "resolve")).json() == PROFILE

    def test_a_version_live_in_prod_keeps_its_profile(self, api: Api) -> None:
        name = unique()
        api.client("dana").register(name, artifact_file(api.ctx.settings.resolved_artifact_root(), f"{name}.pkl"),
                                    metrics={"accuracy": 0.95})
        api.client("dana").set_reference(name, 1, PROFILE)
        api.client("rita").approve(name, 1, "dev")
        api.client("dana").report_inference(name, 1, "dev", metrics={"accuracy": 0.95})
        api.client("ron").approve(name, 1, "test")
        for env, approvers in (("uat", ["uma"]), ("prod", ["paula", "pete"])):
            api.client("dana").request_promotion(name, 1, env)
            for who in approvers:
                api.client(who).approve(name, 1, env)
        assert api.client("eve", "resolve").resolve(name, "prod")["version"] == 1
        with pytest.raises(PermissionDenied):
            api.client("erin", "register").set_reference(name, 1, {"features": {}})
        from signoff.errors import InvalidTransition

        with pytest.raises(InvalidTransition):
            api.client("dana", "register").set_reference(name, 1, {"features": {}})


class TestRegisteringWithAReference:
    """`register(..., reference=...)` is one registration on both transports: the version, its
    reference profile, their audit entries and the event commit together or not at all."""

    @staticmethod
    def transports(api: Api) -> list[tuple[str, BaseClient]]:
        return [("http", api.client("dana")), ("embedded", EmbeddedClient(actor="dana", context=api.ctx))]

    def test_a_bad_reference_refuses_the_registration_whole(self, api: Api) -> None:
        for transport, client in self.transports(api):
            name = unique()
            before = api.counts()
            with pytest.raises(InvalidInput) as refused:
                client.register(name, "s3://b/m.pkl", digest=DIGEST, reference={"features": {"x": {"kind": "image"}}})
            assert refused.value.code == "invalid_input", transport
            assert api.counts() == before, transport
            with pytest.raises(NotFound):
                client.versions(name)

    def test_the_version_and_its_profile_are_written_with_the_same_audit_trail(self, api: Api) -> None:
        trails = {}
        for transport, client in self.transports(api):
            name = unique()
            v = client.register(name, "s3://b/m.pkl", digest=DIGEST, reference=PROFILE)
            assert (v["version"], v["reference"], v["stored"]) == (1, True, False), transport
            assert api.http.get(f"/api/v1/models/{name}/versions/1/reference-profile",
                                headers=api.auth("eve", "resolve")).json() == PROFILE, transport
            entries = client.audit(model=name)
            trails[transport] = [(e["action"], e["actor"]) for e in entries]
            reference = next(e for e in entries if e["action"] == "reference.set")
            assert reference["after"]["features"] == ["x"], transport
        assert trails["http"] == trails["embedded"] == [
            ("model.created", "dana"), ("version.registered", "dana"), ("reference.set", "dana"),
            ("approval.requested", "dana")]  # the rule run after the registration's commit

    def test_an_option_register_does_not_take_is_a_type_error_and_writes_nothing(self, api: Api) -> None:
        for transport, client in self.transports(api):
            before = api.counts()
            with pytest.raises(TypeError, match="'licence'"):
                client.register(unique(), "s3://b/m.pkl", digest=DIGEST, licence="MIT")  # type: ignore[call-arg]
            assert api.counts() == before, transport


class TestMismatchReports:
    def test_are_audited_once_per_version_and_observed_digest(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        url = f"/api/v1/models/{name}/versions/1/artifact-mismatches"
        headers = api.auth("eve", "resolve")
        before = api.counts()
        for _ in range(50):
            body = {"env": "dev", "artifact_uri": "s3://b/1.pkl", "expected_digest": "a" * 64, "digest": "b" * 64}
            assert api.http.post(url, json=body, headers=headers).status_code == 204
        assert api.counts() == (before[0] + 1, before[1] + 1)
        other = {"env": "dev", "artifact_uri": "s3://b/1.pkl", "expected_digest": "a" * 64, "digest": "c" * 64}
        assert api.http.post(url, json=other, headers=headers).status_code == 204
        assert api.counts() == (before[0] + 2, before[1] + 2)

    def test_made_up_digests_cannot_flood_the_audit_log(self, api: Api) -> None:
        name = two_versions_in_dev(api)
        url = f"/api/v1/models/{name}/versions/2/artifact-mismatches"
        headers = api.auth("eve", "resolve")
        before = api.counts()
        for i in range(60):
            body = {"artifact_uri": "s3://b/2.pkl", "digest": f"{i:064x}"}
            assert api.http.post(url, json=body, headers=headers).status_code == 204
        from signoff.adapters.db.mismatches import MAX_DIGESTS

        assert api.counts() == (before[0] + MAX_DIGESTS, before[1] + MAX_DIGESTS)
