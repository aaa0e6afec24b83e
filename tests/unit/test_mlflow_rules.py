"""The MLflow bridge's pure rules: webhook signatures as MLflow makes them, governed names, tags."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from signoff.config import Settings, load_settings
from signoff.domain import mlflow as mf
from signoff.errors import AuthenticationFailed, InvalidInput

# The body and headers of a real MLflow 3.17 `model_version.created` delivery (secret "s3cret").
BODY = (b'{"entity": "model_version", "action": "created", "timestamp": "2026-12-02T17:10:55.568224+00:00", '
        b'"data": {"name": "exp-m", "version": "1", "source": "models:/m-25da69c60b8540e3b53a96b77a835107", '
        b'"run_id": null, "tags": {}, "description": null}}')
HEADERS = {"x-mlflow-delivery-id": "6b87e597-a390-4e08-97a6-ff13161d0d10", "x-mlflow-timestamp": "1796231455",
           "x-mlflow-signature": "v1,qNdcaLr8eiNicslWRSLcrOoRcKQk3rrfDD47UNk50aA="}
NOW = 1796231455.0


class TestSignature:
    def test_signing_matches_what_mlflow_sent(self) -> None:
        assert mf.sign("s3cret", HEADERS["x-mlflow-delivery-id"], HEADERS["x-mlflow-timestamp"], BODY) == \
            HEADERS["x-mlflow-signature"]

    def test_signing_is_base64_hmac_sha256_of_id_dot_timestamp_dot_body(self) -> None:
        raw = hmac.new(b"k", b"d.1." + BODY, hashlib.sha256).digest()
        assert mf.sign("k", "d", "1", BODY) == "v1," + base64.b64encode(raw).decode()

    def test_a_genuine_delivery_is_read(self) -> None:
        delivery = mf.verify(secret="s3cret", headers=HEADERS, body=BODY, now=NOW + 10, max_age=300)
        assert (delivery.entity, delivery.action, delivery.data["name"]) == ("model_version", "created", "exp-m")
        assert delivery.event_type == "signoff.mlflow.model_version.created"

    @pytest.mark.parametrize("change", [
        {"secret": "wrong"},
        {"body": BODY.replace(b'"1"', b'"2"')},
        {"headers": {**HEADERS, "x-mlflow-delivery-id": "another-id"}},
        {"headers": {**HEADERS, "x-mlflow-timestamp": "1796231456"}},
        {"headers": {k: v for k, v in HEADERS.items() if k != "x-mlflow-signature"}},
        {"headers": {**HEADERS, "x-mlflow-signature": "v2," + HEADERS["x-mlflow-signature"][3:]}},
    ])
    def test_anything_altered_fails_authentication(self, change: dict[str, object]) -> None:
        args = {"secret": "s3cret", "headers": HEADERS, "body": BODY, "now": NOW, "max_age": 300.0, **change}
        with pytest.raises(AuthenticationFailed):
            mf.verify(**args)  # type: ignore[arg-type]

    def test_one_of_several_signatures_may_match(self) -> None:
        headers = {**HEADERS, "x-mlflow-signature": "v1,b2xk " + HEADERS["x-mlflow-signature"]}
        assert mf.verify(secret="s3cret", headers=headers, body=BODY, now=NOW, max_age=300).delivery_id

    @pytest.mark.parametrize("offset", [301, -301])
    def test_a_timestamp_too_far_from_now_is_refused_after_the_signature_check(self, offset: int) -> None:
        with pytest.raises(InvalidInput) as exc:
            mf.verify(secret="s3cret", headers=HEADERS, body=BODY, now=NOW + offset, max_age=300)
        assert exc.value.details["header"] == mf.TIMESTAMP_HEADER
        with pytest.raises(AuthenticationFailed):  # an unsigned caller learns nothing about the clock
            mf.verify(secret="other", headers=HEADERS, body=BODY, now=NOW + offset, max_age=300)

    def test_a_signed_body_that_is_not_an_mlflow_payload_is_refused(self) -> None:
        body = json.dumps({"entity": "model_version"}).encode()
        headers = {**HEADERS, "x-mlflow-signature": mf.sign("s3cret", HEADERS["x-mlflow-delivery-id"],
                                                              HEADERS["x-mlflow-timestamp"], body)}
        with pytest.raises(InvalidInput):
            mf.verify(secret="s3cret", headers=headers, body=body, now=NOW, max_age=300)


class TestNames:
    def test_globs_choose_the_governed_models(self) -> None:
        assert mf.governs(["churn", "fraud-*"], "fraud-eu")
        assert mf.governs(["*"], "Anything At All")
        assert not mf.governs(["churn"], "churn-v2")

    @pytest.mark.parametrize(("mlflow_name", "signoff_name"), [
        ("churn", "churn"), ("Churn Model", "churn-model"), ("team/churn_v2", "team-churn_v2"), ("-x-", "x"),
    ])
    def test_mlflow_names_map_to_signoff_names(self, mlflow_name: str, signoff_name: str) -> None:
        assert mf.signoff_name(mlflow_name) == signoff_name

    def test_a_name_with_nothing_usable_is_refused(self) -> None:
        with pytest.raises(InvalidInput):
            mf.signoff_name("///")

    def test_tags_say_the_stage_and_for_an_approval_who_and_which_request(self) -> None:
        assert mf.expected_tags("prod", "approved", ["paula", "pete"], 7) == {
            "signoff.prod": "approved", "signoff.prod.approved_by": "paula,pete", "signoff.prod.request_id": "7"}
        assert mf.expected_tags("dev", "revoked") == {"signoff.dev": "revoked"}


class TestConfig:
    def test_aliases_default_to_the_environment_name(self) -> None:
        conf = Settings(mlflow={"tracking_uri": "http://mlflow:5000", "aliases": {"prod": "champion"}}).mlflow
        assert conf is not None
        assert (conf.alias_for("prod"), conf.alias_for("dev")) == ("champion", "dev")

    def test_an_alias_for_an_unknown_environment_is_refused_by_key(self, tmp_path: object) -> None:
        from pathlib import Path

        config = Path(str(tmp_path)) / "signoff.toml"
        config.write_text('[mlflow]\ntracking_uri = "http://mlflow:5000"\naliases = { staging = "s" }\n')
        with pytest.raises(InvalidInput) as exc:
            load_settings(config)
        assert exc.value.details["key"] == "mlflow.aliases.staging"
