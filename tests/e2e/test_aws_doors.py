"""boto3, as a pipeline runs it, against a real `signoff server` process: configured only by
`AWS_ENDPOINT_URL_SSM` / `AWS_ENDPOINT_URL_SAGEMAKER` and keys from `signoff aws-keys create`.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.exceptions import ClientError

from tests.conftest import DIGEST, unique
from tests.fixtures.aws import PASSWORDS, AwsStack, Key, aws_env
from tests.fixtures.web import Visitor, review_links

pytestmark = pytest.mark.slow


def clients(stack: AwsStack, key: Key, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    aws_env(monkeypatch, key, ssm=stack.url + "/aws/ssm", sagemaker=stack.url + "/aws/sagemaker")
    # A fresh session reads the environment again (boto3's default session caches credentials).
    session = boto3.session.Session()
    return session.client("ssm"), session.client("sagemaker")


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def approve_by_email(stack: AwsStack, user: str, model: str) -> None:
    """The approver's path: the emailed review link, sign-in, the form post."""
    address = f"{user}@example.com"
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    link = None
    while link is None and datetime.now(UTC) < deadline:
        for mail in list(stack.smtp.messages):
            if address in mail.rcpt_tos and model in str(mail.message["Subject"]):
                link = review_links(mail.message)[0]
        if link is None:
            stack.smtp.wait_for(len(stack.smtp.messages) + 1, timeout=20)
    assert link, f"no review mail to {address} for {model}"
    visitor = Visitor(stack.url)
    try:
        path = link[len(stack.url):]
        visitor.sign_in(user, PASSWORDS[user], next_url=path)
        request_id = int(re.search(r"/review/(\d+)", path).group(1))  # type: ignore[union-attr]
        page = visitor.get(path)
        assert page.status_code == 200, page.text
        r = visitor.http.post(f"/requests/{request_id}/decision", data={
            "csrf_token": visitor.csrf(page.text, f"/requests/{request_id}/decision"),
            "decision": "approve", "comment": "reviewed"})
        assert r.status_code == 303, r.text
    finally:
        visitor.close()


def register(stack: AwsStack, sm: Any, model: str, digest: str = DIGEST, **extra: Any) -> str:
    """The pipeline states the artifact's digest (signoff cannot read s3://) as `signoff:digest`."""
    sm.create_model_package_group(ModelPackageGroupName=model, ModelPackageGroupDescription="churn model")
    return str(sm.create_model_package(
        ModelPackageGroupName=model, ModelPackageDescription="v1 from the pipeline",
        InferenceSpecification={"Containers": [{"Image": "123.dkr.ecr/churn:1",
                                                "ModelDataUrl": f"s3://models/{model}/model.tar.gz"}],
                                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        CustomerMetadataProperties={"team": "retention", "signoff:digest": digest},
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json",
                                                      "S3Uri": f"s3://models/{model}/metrics.json"}}},
        **extra)["ModelPackageArn"])


class TestTheSeedLoop:
    def test_create_model_package_then_email_approval_then_ssm_then_promotion_to_prod(
            self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        stack = aws_stack
        model = unique()
        ssm, sm = clients(stack, stack.key("ci-pipeline"), monkeypatch)
        arn = register(stack, sm, model)
        assert arn == f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{model}/1"
        described = sm.describe_model_package(ModelPackageName=arn)
        assert described["ModelApprovalStatus"] == "PendingManualApproval"
        assert described["CustomerMetadataProperties"] == {"team": "retention", "signoff:digest": DIGEST}
        assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("metrics.json")
        assert described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == f"s3://models/{model}/model.tar.gz"
        with pytest.raises(ClientError) as missing:
            ssm.get_parameter(Name=f"/signoff/models/{model}/dev")
        assert code_of(missing) == "ParameterNotFound"

        approve_by_email(stack, "rita", model)

        param = ssm.get_parameter(Name=f"/signoff/models/{model}/dev")["Parameter"]
        value = json.loads(param["Value"])
        assert (param["Type"], param["Version"], value["version"], value["approved_by"]) == ("String", 1, 1, ["rita"])
        assert value["artifact_uri"] == f"s3://models/{model}/model.tar.gz"
        assert isinstance(param["LastModifiedDate"], datetime)
        history = ssm.get_parameter_history(Name=f"/signoff/models/{model}/dev")["Parameters"]
        assert [h["Version"] for h in history] == [1] and json.loads(history[0]["Value"])["version"] == 1
        described = sm.describe_model_package(ModelPackageName=arn)
        assert described["ModelApprovalStatus"] == "Approved"
        assert described["ModelLifeCycle"]["Stage"] == "dev"

        # Promotion through signoff's own doors: inference reports open the next requests.
        reporter = stack.token("ci-pipeline", "report")
        approvers = {"test": ["ron"], "uat": ["uma"], "prod": ["paula", "pete"]}
        previous = "dev"
        for env, people in approvers.items():
            report = stack.api("POST", f"/models/{model}/versions/1/inference-reports", reporter,
                               json={"env": previous, "metrics": {"accuracy": 0.95}, "rows": 100})
            request_id = report["promotion_request"]["id"]
            for person in people:
                stack.api("POST", f"/approval-requests/{request_id}/decisions", stack.token(person, "decide"),
                          json={"decision": "approve", "comment": "ok"})
            previous = env

        prod = json.loads(ssm.get_parameter(Name=f"/signoff/models/{model}/prod")["Parameter"]["Value"])
        assert prod["version"] == 1 and sorted(prod["approved_by"]) == ["paula", "pete"]
        assert prod["approved_envs"] == ["dev", "test", "uat", "prod"]
        life = sm.describe_model_package(ModelPackageName=arn)["ModelLifeCycle"]
        assert (life["Stage"], life["StageStatus"]) == ("prod", "Approved")
        by_path = ssm.get_parameters_by_path(Path=f"/signoff/models/{model}")["Parameters"]
        assert sorted(p["Name"].rsplit("/", 1)[1] for p in by_path) == ["dev", "prod", "test", "uat"]


class TestUpdateModelPackageDecides:
    def test_a_pipeline_key_is_refused_and_an_approver_key_decides_with_an_audit_entry(
            self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        stack = aws_stack
        model = unique()
        _, sm = clients(stack, stack.key("ci-pipeline"), monkeypatch)
        arn = register(stack, sm, model)
        with pytest.raises(ClientError) as refused:
            sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
        assert code_of(refused) == "AccessDeniedException"
        assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"

        _, rita = clients(stack, stack.key("rita"), monkeypatch)
        rita.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved",
                                  ApprovalDescription="checked the holdout")
        assert rita.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"
        audit = stack.api("GET", "/audit", stack.token("olga", "admin"), params={"model": model})["items"]
        decided = [e for e in audit if e["action"] == "approval.approved"]
        assert decided and decided[0]["actor"] == "rita" and decided[0]["after"]["comment"] == "checked the holdout"

    def test_registering_as_approved_is_refused(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        _, sm = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        model = unique()
        with pytest.raises(ClientError) as refused:
            register(aws_stack, sm, model, ModelApprovalStatus="Approved")
        assert code_of(refused) == "ValidationException"
        assert sm.list_model_packages(ModelPackageGroupName=model)["ModelPackageSummaryList"] == []

    def test_metadata_updates_are_kept(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        _, sm = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        arn = register(aws_stack, sm, unique())
        sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"owner": "ana"},
                                CustomerMetadataPropertiesToRemove=["team"])
        assert sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {
            "owner": "ana", "signoff:digest": DIGEST}

    def test_the_digest_is_checked_and_never_changes(self, aws_stack: AwsStack,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        _, sm = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        with pytest.raises(ClientError) as malformed:
            register(aws_stack, sm, unique(), digest="md5:abc")
        assert code_of(malformed) == "ValidationException"
        arn = register(aws_stack, sm, unique())
        for change in ({"CustomerMetadataProperties": {"signoff:digest": "sha256:" + "0" * 64}},
                       {"CustomerMetadataPropertiesToRemove": ["signoff:digest"]}):
            with pytest.raises(ClientError) as refused:
                sm.update_model_package(ModelPackageArn=arn, **change)
            assert code_of(refused) == "ValidationException"
        assert sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]["signoff:digest"] == DIGEST


class TestSsmWritesAreRefused:
    @pytest.mark.parametrize("call", ["put_parameter", "delete_parameter", "label_parameter_version"])
    def test_each_write_is_access_denied(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch,
                                         call: str) -> None:
        ssm, _ = clients(aws_stack, aws_stack.key("olga", "admin"), monkeypatch)
        kwargs: dict[str, Any] = {"Name": "/signoff/models/x/prod"}
        if call == "put_parameter":
            kwargs.update(Value="{}", Type="String", Overwrite=True)
        if call == "label_parameter_version":
            kwargs.update(Labels=["live"])
        with pytest.raises(ClientError) as refused:
            getattr(ssm, call)(**kwargs)
        assert code_of(refused) == "AccessDeniedException"


class TestBadCredentials:
    """Each raises the botocore error an AWS JSON endpoint (SSM) gives for the same mistake."""

    def test_an_unknown_key(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        ssm, _ = clients(aws_stack, Key("AKIAAAAAAAAAAAAAAAAA", "x" * 40), monkeypatch)
        with pytest.raises(ClientError) as refused:
            ssm.get_parameter(Name="/signoff/models/x/dev")
        assert code_of(refused) == "UnrecognizedClientException"

    def test_a_wrong_secret(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        key = aws_stack.key("ci-pipeline")
        ssm, _ = clients(aws_stack, Key(key.access_key_id, key.secret_access_key[::-1]), monkeypatch)
        with pytest.raises(ClientError) as refused:
            ssm.get_parameter(Name="/signoff/models/x/dev")
        assert code_of(refused) == "InvalidSignatureException"
        assert "signature we calculated does not match" in str(refused.value)

    def test_a_skewed_clock(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        ssm, _ = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        skewed = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=20)
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
        with pytest.raises(ClientError) as refused:
            ssm.get_parameter(Name="/signoff/models/x/dev")
        assert code_of(refused) == "InvalidSignatureException"
        assert "Signature expired" in str(refused.value)

    def test_a_wrong_region(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        ssm = boto3.session.Session().client("ssm", region_name="eu-west-1")
        with pytest.raises(ClientError) as refused:
            ssm.get_parameter(Name="/signoff/models/x/dev")
        assert code_of(refused) == "InvalidSignatureException"
        assert "scoped to a valid region" in str(refused.value)

    def test_a_wrong_service_scope(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        signed_for_sagemaker = boto3.session.Session().client("sagemaker", endpoint_url=aws_stack.url + "/aws/ssm")
        with pytest.raises(ClientError) as refused:
            signed_for_sagemaker.list_model_package_groups()
        assert code_of(refused) == "InvalidSignatureException"
        assert "scoped to correct service: 'ssm'" in str(refused.value)

    def test_a_tampered_body(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        ssm, _ = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)

        def tamper(request: Any, **_: Any) -> None:
            request.body = request.body.replace(b"/dev", b"/prd")

        ssm.meta.events.register("before-send.ssm.GetParameter", tamper)
        with pytest.raises(ClientError) as refused:
            ssm.get_parameter(Name="/signoff/models/x/dev")
        assert code_of(refused) == "InvalidSignatureException"

    def test_a_revoked_key(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        key = aws_stack.key("ci-pipeline")
        out = aws_stack.proc.cli("aws-keys", "revoke", key.access_key_id, remote=False)
        assert out.returncode == 0, out.stderr
        ssm, _ = clients(aws_stack, key, monkeypatch)
        deadline = datetime.now(UTC) + timedelta(seconds=10)  # the server's key cache: 5 s
        while True:
            try:
                ssm.describe_parameters()
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "UnrecognizedClientException"
                return
            assert datetime.now(UTC) < deadline, "a revoked key still works after the cache time"
            time.sleep(0.2)


class TestKeyManagement:
    def test_the_secret_is_shown_once_and_stored_encrypted(self, aws_stack: AwsStack) -> None:
        from sqlalchemy import create_engine, text

        key = aws_stack.key("ci-pipeline", "resolve")
        listed = aws_stack.proc.cli("aws-keys", "list", "--user", "ci-pipeline", "--json", remote=False)
        assert listed.returncode == 0, listed.stderr
        assert key.access_key_id in listed.stdout and key.secret_access_key not in listed.stdout
        engine = create_engine(aws_stack.proc.database_url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(text("SELECT secret_encrypted FROM aws_access_keys WHERE access_key_id = :a"),
                                      {"a": key.access_key_id}).scalar_one()
        finally:
            engine.dispose()
        assert key.secret_access_key not in stored and len(stored) > 80

    def test_keys_are_managed_remotely_like_tokens(self, aws_stack: AwsStack,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        admin = aws_stack.token("olga", "admin")
        created = aws_stack.proc.cli("aws-keys", "create", "--user", "rita", "--scope", "resolve", "--json",
                                     token=admin)
        assert created.returncode == 0, created.stderr
        data = json.loads(created.stdout)
        assert set(data) >= {"access_key_id", "secret_access_key"} and data["scopes"] == ["resolve"]
        ssm, _ = clients(aws_stack, Key(data["access_key_id"], data["secret_access_key"]), monkeypatch)
        assert "Parameters" in ssm.describe_parameters()
        listed = json.loads(aws_stack.proc.cli("aws-keys", "list", "--json", token=admin).stdout)
        assert data["access_key_id"] in [k["access_key_id"] for k in listed]
        assert all("secret_access_key" not in k for k in listed)
        revoked = aws_stack.proc.cli("aws-keys", "revoke", data["access_key_id"], "--json", token=admin)
        assert revoked.returncode == 0 and json.loads(revoked.stdout)["revoked_at"]
        with pytest.raises(ClientError) as refused:  # this server forgets its cache at once
            ssm.describe_parameters()
        assert code_of(refused) == "UnrecognizedClientException"
        denied = aws_stack.proc.cli("aws-keys", "list", token=aws_stack.token("rita", "resolve"))
        assert denied.returncode == 5

    def test_a_key_without_the_resolve_scope_cannot_read_parameters(
            self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        ssm, _ = clients(aws_stack, aws_stack.key("ci-pipeline", "register"), monkeypatch)
        with pytest.raises(ClientError) as refused:
            ssm.get_parameter(Name="/signoff/models/x/dev")
        assert code_of(refused) == "AccessDeniedException"


class TestTheProtocol:
    def test_one_shared_path_serves_both_services(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        key = aws_stack.key("ci-pipeline")
        aws_env(monkeypatch, key, ssm=aws_stack.url + "/aws/", sagemaker=aws_stack.url + "/aws")
        session = boto3.session.Session()
        assert "Parameters" in session.client("ssm").describe_parameters()
        assert "ModelPackageGroupSummaryList" in session.client("sagemaker").list_model_package_groups()

    def test_an_operation_signoff_does_not_serve_is_unknown(self, aws_stack: AwsStack,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        ssm, sm = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        for call in (ssm.list_documents, sm.list_models):
            with pytest.raises(ClientError) as unknown:
                call()
            assert code_of(unknown) == "UnknownOperationException"

    def test_an_unsigned_request_is_missing_its_token(self, aws_stack: AwsStack) -> None:
        import httpx

        r = httpx.post(aws_stack.url + "/aws/ssm", content=b"{}", headers={
            "X-Amz-Target": "AmazonSSM.DescribeParameters", "Content-Type": "application/x-amz-json-1.1"})
        assert r.status_code == 400 and r.headers["content-type"] == "application/x-amz-json-1.1"
        assert r.json() == {"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"}

    def test_errors_and_timestamps_are_aws_json(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        _, sm = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        with pytest.raises(ClientError) as missing:
            sm.describe_model_package_group(ModelPackageGroupName=unique())
        assert code_of(missing) == "ValidationException"
        assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        arn = register(aws_stack, sm, unique())
        assert isinstance(sm.describe_model_package(ModelPackageName=arn)["CreationTime"], datetime)

    def test_a_retried_create_model_package_registers_once(self, aws_stack: AwsStack,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
        _, sm = clients(aws_stack, aws_stack.key("ci-pipeline"), monkeypatch)
        model = unique()
        first = register(aws_stack, sm, model, ClientToken="retry-1")
        spec = {"Containers": [{"Image": "i", "ModelDataUrl": "s3://m/x.tar.gz"}]}
        again = sm.create_model_package(ModelPackageGroupName=model, ClientToken="retry-1", InferenceSpecification=spec)
        assert again["ModelPackageArn"] == first and first.endswith("/1")
        other = sm.create_model_package(ModelPackageGroupName=model, InferenceSpecification=spec)
        assert other["ModelPackageArn"].endswith("/2")


def signed(stack: AwsStack, key: Key, body: bytes, **headers: str) -> dict[str, str]:
    """Headers of a GetParameter request signed by botocore's signer, as boto3 would send them."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=stack.url + "/aws/ssm", data=body, headers={
        "X-Amz-Target": "AmazonSSM.GetParameter", "Content-Type": "application/x-amz-json-1.1", **headers})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "ssm", "us-east-1").add_auth(request)
    return dict(request.headers.items())


class TestSignatureDetails:
    BODY = b'{"Name": "/signoff/models/x/dev"}'

    def post(self, stack: AwsStack, headers: dict[str, str], body: bytes | None = None) -> dict[str, Any]:
        import httpx

        r = httpx.post(stack.url + "/aws/ssm", content=self.BODY if body is None else body, headers=headers)
        assert r.status_code == 400
        return r.json()  # type: ignore[no-any-return]

    def test_a_correctly_signed_raw_request_is_answered(self, aws_stack: AwsStack) -> None:
        import httpx

        headers = signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY)
        r = httpx.post(aws_stack.url + "/aws/ssm", content=self.BODY, headers=headers)
        assert r.json()["__type"] == "ParameterNotFound"  # authenticated; the parameter does not exist

    def test_a_clock_ahead_is_not_yet_current(self, aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
        ahead = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=20)
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: ahead)
        error = self.post(aws_stack, signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY))
        assert error["__type"] == "InvalidSignatureException" and "not yet current" in error["message"]

    def test_a_payload_hash_header_that_does_not_match_the_body(self, aws_stack: AwsStack) -> None:
        import hashlib

        headers = signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY,
                         **{"X-Amz-Content-SHA256": hashlib.sha256(self.BODY).hexdigest()})
        error = self.post(aws_stack, headers, body=self.BODY.replace(b"dev", b"prd"))
        assert error["__type"] == "InvalidSignatureException" and "x-amz-content-sha256" in error["message"]

    def test_a_session_token_is_not_ours(self, aws_stack: AwsStack) -> None:
        headers = signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY, **{"X-Amz-Security-Token": "FwoG..."})
        assert self.post(aws_stack, headers)["__type"] == "UnrecognizedClientException"

    def test_a_malformed_authorization_header_is_incomplete(self, aws_stack: AwsStack) -> None:
        headers = signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY)
        headers["Authorization"] = headers["Authorization"].split(", Signature=")[0]
        error = self.post(aws_stack, headers)
        assert error["__type"] == "IncompleteSignatureException" and "'Signature'" in error["message"]

    def test_an_unsigned_host_header_is_refused(self, aws_stack: AwsStack) -> None:
        headers = signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY)
        headers["Authorization"] = headers["Authorization"].replace("SignedHeaders=content-type;host;",
                                                                    "SignedHeaders=content-type;")
        assert self.post(aws_stack, headers)["__type"] == "InvalidSignatureException"

    def test_a_signature_that_is_not_hex_is_a_mismatch_not_a_crash(self, aws_stack: AwsStack) -> None:
        headers: dict[str, Any] = signed(aws_stack, aws_stack.key("ci-pipeline"), self.BODY)
        headers["Authorization"] = (headers["Authorization"].split("Signature=")[0] + "Signature=\xe9\xe9").encode("latin-1")
        assert self.post(aws_stack, headers)["__type"] == "InvalidSignatureException"
