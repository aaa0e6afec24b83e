"""Shape conformance: the same boto3 calls against moto (a real `moto.server` process) and
signoff; keys, value types, paging and error codes agree where both implement an operation.
The differences that remain are listed in docs/aws.md; the sets below name them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import DIGEST, unique
from tests.fixtures.aws import AwsStack, Key, MotoServer, aws_env

pytestmark = pytest.mark.slow

# Fields signoff sends and moto leaves out (or the reverse), as docs/aws.md lists them.
SIGNOFF_ONLY = {"ARN", "Selector", "LastModifiedUser", "Policies", "Labels", "ModelLifeCycle", "ModelPackageName",
                "CustomerMetadataProperties", "ModelPackageDescription", "ModelPackageGroupDescription",
                "CreatedBy", "InferenceSpecification", "ModelMetrics", "LastModifiedTime"}
MOTO_ONLY = {"Tier", "SourceAlgorithmSpecification", "ValidationSpecification", "SkipModelValidation",
             "ModelPackageGroupDescription", "ModelPackageDescription", "CreatedBy", "ApprovalDescription",
             "LastModifiedBy", "MetadataProperties", "DriftCheckBaselines", "Domain", "Task", "SamplePayloadUrl",
             "AdditionalInferenceSpecifications", "ModelApprovalStatus", "ModelPackageName", "DomainId",
             "UserProfileArn"}


def shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def assert_same_shape(ours: Any, theirs: Any, where: str = "") -> None:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in (set(ours) & set(theirs)):
            assert_same_shape(ours[key], theirs[key], f"{where}.{key}")
        assert set(ours) - set(theirs) <= SIGNOFF_ONLY, (where, set(ours) - set(theirs))
        assert set(theirs) - set(ours) <= MOTO_ONLY, (where, set(theirs) - set(ours))
    elif isinstance(ours, list) and isinstance(theirs, list):
        if ours and theirs:
            assert_same_shape(ours[0], theirs[0], where + "[0]")
    else:
        # moto gives versions as int, and timestamps botocore parses into datetime on both sides
        assert ours == theirs, (where, ours, theirs)


def error(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def both(aws_stack: AwsStack, moto_server: MotoServer) -> dict[str, Any]:
    """A model live in dev on signoff (two parameter versions), the same parameter on moto."""
    model = unique()
    key = aws_stack.key("olga", "admin")
    pipeline = aws_stack.token("ci-pipeline", "register")
    for _ in range(2):
        aws_stack.api("POST", f"/models/{model}/versions", pipeline,
                      json={"artifact_uri": f"s3://m/{model}.pkl", "digest": DIGEST})
    rita = aws_stack.token("rita", "decide")
    for version in (1, 2):
        requests = aws_stack.api("GET", "/approval-requests", rita, params={"model": model, "version": version})
        aws_stack.api("POST", f"/approval-requests/{requests['items'][0]['id']}/decisions", rita,
                      json={"decision": "approve", "comment": "ok"})
    return {"model": model, "key": key, "signoff": aws_stack, "moto": moto_server}


def sessions(both: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any, Any, Any]:
    stack: AwsStack = both["signoff"]
    aws_env(monkeypatch, both["key"], ssm=None, sagemaker=None)
    session = boto3.session.Session()
    moto = both["moto"].url
    return (session.client("ssm", endpoint_url=stack.url + "/aws/ssm"),
            session.client("ssm", endpoint_url=moto),
            session.client("sagemaker", endpoint_url=stack.url + "/aws/sagemaker"),
            session.client("sagemaker", endpoint_url=moto))


class TestSsmShapes:
    def test_get_parameter_history_paging_and_errors_agree(self, both: dict[str, Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
        ours, moto, _, _ = sessions(both, monkeypatch)
        name = f"/signoff/models/{both['model']}/dev"
        value = ours.get_parameter(Name=f"{name}:1")["Parameter"]["Value"]
        for _ in range(2):
            moto.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

        assert_same_shape(shape(ours.get_parameter(Name=name)), shape(moto.get_parameter(Name=name)))
        assert ours.get_parameter(Name=name)["Parameter"]["Version"] == moto.get_parameter(Name=name)["Parameter"]["Version"] == 2
        assert_same_shape(shape(ours.get_parameter(Name=f"{name}:1")), shape(moto.get_parameter(Name=f"{name}:1")))
        assert_same_shape(shape(ours.get_parameters(Names=[name, "/nope"])),
                          shape(moto.get_parameters(Names=[name, "/nope"])))
        assert ours.get_parameters(Names=[name, "/nope"])["InvalidParameters"] == ["/nope"]
        assert_same_shape(shape(ours.get_parameter_history(Name=name)), shape(moto.get_parameter_history(Name=name)))

        for client in (ours, moto):  # one per page, then the end
            first = client.get_parameter_history(Name=name, MaxResults=1)
            assert [p["Version"] for p in first["Parameters"]] == [1] and first["NextToken"]
            second = client.get_parameter_history(Name=name, MaxResults=1, NextToken=first["NextToken"])
            assert [p["Version"] for p in second["Parameters"]] == [2] and "NextToken" not in second
        for client in (ours, moto):
            assert error(client.get_parameter_history, Name=name, MaxResults=51) == "ValidationException"
            assert error(client.get_parameter, Name="/signoff/models/none/dev") == "ParameterNotFound"
            assert error(client.get_parameter, Name=f"{name}:9") == "ParameterVersionNotFound"
            assert error(client.get_parameters, Names=[f"/n{i}" for i in range(11)]) == "ValidationException"
            assert error(client.get_parameters_by_path, Path="/signoff", MaxResults=11) == "ValidationException"

    def test_by_path_and_describe_agree(self, both: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        ours, moto, _, _ = sessions(both, monkeypatch)
        base = f"/signoff/models/{both['model']}"
        if not moto.get_parameters(Names=[f"{base}/dev"])["Parameters"]:
            moto.put_parameter(Name=f"{base}/dev", Value="{}", Type="String")
        for client in (ours, moto):
            assert [p["Name"] for p in client.get_parameters_by_path(Path=base)["Parameters"]] == [f"{base}/dev"]
            assert client.get_parameters_by_path(Path="/signoff", Recursive=False)["Parameters"] == []
        assert_same_shape(shape(ours.get_parameters_by_path(Path=base, Recursive=True)),
                          shape(moto.get_parameters_by_path(Path=base, Recursive=True)))
        flt = [{"Key": "Name", "Option": "Equals", "Values": [f"{base}/dev"]}]
        assert_same_shape(shape(ours.describe_parameters(ParameterFilters=flt)),
                          shape(moto.describe_parameters(ParameterFilters=flt)))


class TestSageMakerShapes:
    def test_groups_and_packages_agree(self, both: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
        _, _, ours, moto = sessions(both, monkeypatch)
        group = unique("g")
        spec = {"Containers": [{"Image": "img:1", "ModelDataUrl": f"s3://m/{group}.tar.gz"}],
                "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
        results: dict[str, dict[str, Any]] = {}
        for label, client in (("ours", ours), ("moto", moto)):
            out = results[label] = {}
            out["create_group"] = client.create_model_package_group(ModelPackageGroupName=group,
                                                                     ModelPackageGroupDescription="d")
            out["describe_group"] = client.describe_model_package_group(ModelPackageGroupName=group)
            out["list_groups"] = client.list_model_package_groups(NameContains=group)
            arns = [client.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec,
                                                ModelApprovalStatus="PendingManualApproval",
                                                CustomerMetadataProperties={"k": "v"})["ModelPackageArn"]
                    for _ in range(3)]
            out["arns"] = [a.rsplit(":", 1)[1] for a in arns]
            out["describe"] = client.describe_model_package(ModelPackageName=arns[0])
            out["list"] = client.list_model_packages(ModelPackageGroupName=group)
            page = client.list_model_packages(ModelPackageGroupName=group, MaxResults=2, SortOrder="Descending")
            out["page_versions"] = [p["ModelPackageVersion"] for p in page["ModelPackageSummaryList"]]
            rest = client.list_model_packages(ModelPackageGroupName=group, MaxResults=2, SortOrder="Descending",
                                              NextToken=page["NextToken"])
            out["rest_versions"] = [p["ModelPackageVersion"] for p in rest["ModelPackageSummaryList"]]
            out["pending"] = len(client.list_model_packages(ModelPackageGroupName=group,
                                                            ModelApprovalStatus="PendingManualApproval")
                                 ["ModelPackageSummaryList"])
            out["missing_group"] = error(client.describe_model_package_group, ModelPackageGroupName=unique("g"))
        ours_r, moto_r = results["ours"], results["moto"]
        assert ours_r["arns"] == moto_r["arns"]  # model-package/<group>/<n>
        for key in ("create_group", "describe_group", "list_groups", "describe", "list"):
            assert_same_shape(shape(ours_r[key]), shape(moto_r[key]), key)
        for key in ("page_versions", "rest_versions", "pending", "missing_group"):
            assert ours_r[key] == moto_r[key], key


class TestAwsCli:
    def test_aws_ssm_get_parameter_with_endpoint_url(self, both: dict[str, Any], tmp_path: Path) -> None:
        stack: AwsStack = both["signoff"]
        key: Key = both["key"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=key.secret_access_key,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        name = f"/signoff/models/{both['model']}/dev"
        out = subprocess.run([sys.executable, "-m", "awscli", "ssm", "get-parameter", "--name", name,
                              "--endpoint-url", stack.url + "/aws/ssm", "--output", "json"],
                             capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False)
        assert out.returncode == 0, out.stderr
        parameter = json.loads(out.stdout)["Parameter"]
        assert parameter["Name"] == name and json.loads(parameter["Value"])["version"] == 2
