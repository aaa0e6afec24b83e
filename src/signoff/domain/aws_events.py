"""signoff's CloudEvents in the shape AWS services put on EventBridge.

A webhook target with `format = "aws"` posts these instead of the CloudEvent, so rules and
consumers written for SageMaker's and SSM's events (`{"source": ["aws.sagemaker"],
"detail-type": ["SageMaker Model Package State Change"], "detail": {"ModelApprovalStatus":
["Approved"]}}`) match signoff's events unchanged. A version's approval is both a model package
state change and a parameter store change, as it would be at AWS; events AWS has no counterpart
for map to nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signoff.domain import events

PACKAGE_CHANGE = "SageMaker Model Package State Change"
PARAMETER_CHANGE = "Parameter Store Change"
_NAMESPACE = uuid.UUID("6f1c3a52-5a43-4f5e-9d3c-3f1e2b4a7c10")


@dataclass(frozen=True)
class AwsPlace:
    """Where signoff stands as AWS: region and account in ARNs, and the first environment (whose
    status is a model package's ModelApprovalStatus)."""

    region: str = "us-east-1"
    account: str = "000000000000"
    first_env: str = "dev"


def _epoch_ms(time: str) -> int:
    return int(datetime.fromisoformat(time).timestamp() * 1000)


def _envelope(event: dict[str, Any], index: int, source: str, detail_type: str, resource: str,
              detail: dict[str, Any], place: AwsPlace) -> dict[str, Any]:
    return {
        "version": "0",
        # Stable per (event, index): a redelivery carries the same id, as EventBridge's retries do.
        "id": str(uuid.uuid5(_NAMESPACE, f"{event.get('id')}/{index}")),
        "detail-type": detail_type,
        "source": source,
        "account": place.account,
        "time": str(event.get("time", "")).split(".")[0].removesuffix("Z").removesuffix("+00:00") + "Z",
        "region": place.region,
        "resources": [resource],
        "detail": detail,
    }


def _package(event: dict[str, Any], data: dict[str, Any], status: str, stage: str, stage_status: str,
             place: AwsPlace) -> tuple[str, str, str, dict[str, Any]]:
    arn = f"arn:aws:sagemaker:{place.region}:{place.account}:model-package/{data['model']}/{data['version']}"
    detail = {
        "ModelPackageGroupName": data["model"],
        "ModelPackageName": data["model"],
        "ModelPackageVersion": data["version"],
        "ModelPackageArn": arn,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": status,
        "ModelLifeCycle": {"Stage": stage, "StageStatus": stage_status},
        "LastModifiedTime": _epoch_ms(str(event.get("time"))),
        "CreatedBy": {"UserProfileName": data.get("registered_by") or ""},
    }
    if data.get("artifact_uri"):
        detail["InferenceSpecification"] = {"Containers": [{"ModelDataUrl": data["artifact_uri"]}]}
    return "aws.sagemaker", PACKAGE_CHANGE, arn, detail


def _parameter(data: dict[str, Any], place: AwsPlace) -> tuple[str, str, str, dict[str, Any]]:
    name = data["parameter"]
    operation = "Create" if data.get("parameter_version") == 1 else "Update"
    return ("aws.ssm", PARAMETER_CHANGE, f"arn:aws:ssm:{place.region}:{place.account}:parameter{name}",
            {"operation": operation, "name": name, "type": "String", "description": ""})


def to_aws(event: dict[str, Any], place: AwsPlace) -> list[dict[str, Any]]:
    """The AWS-shaped events for one CloudEvent (none when AWS has no counterpart)."""
    kind, data = event.get("type"), event.get("data") or {}
    parts: list[tuple[str, str, str, dict[str, Any]]] = []
    if kind == events.REGISTERED:
        pending = "PendingManualApproval"
        parts.append(_package(event, data, pending, data.get("first_env") or place.first_env, pending, place))
    elif kind == events.VERSION_APPROVED:
        parts.append(_package(event, data, "Approved", data["env"], "Approved", place))
    elif kind == events.VERSION_REJECTED:
        first = data["env"] == place.first_env
        parts.append(_package(event, data, "Rejected" if first else "Approved", data["env"], "Rejected", place))
    if data.get("parameter") and kind in (events.VERSION_APPROVED, events.VERSION_REVOKED, events.ROLLED_BACK):
        parts.append(_parameter(data, place))
    return [_envelope(event, i, *part, place=place) for i, part in enumerate(parts)]
