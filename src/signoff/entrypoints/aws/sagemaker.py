"""A SageMaker Model Registry subset: a model package group is a signoff model, a versioned
model package is one of its versions.

`ModelApprovalStatus` is the version's status in the first environment; `ModelLifeCycle` the
furthest environment it has reached and its status there. Registering takes no approval with
it, and `UpdateModelPackage(ModelApprovalStatus=Approved|Rejected)` is a decision by the key's
user on the open request of the first environment, through `approvals.decide` with every check
of the policy: a pipeline's key is refused (AccessDeniedException), an approver's key decides.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from signoff.adapters.identity import decision_groups
from signoff.domain.models import Lineage, Model, ModelVersion, Stage
from signoff.entrypoints.aws import paging
from signoff.entrypoints.aws.errors import AwsError, validation
from signoff.entrypoints.aws.protocol import Call, Service
from signoff.errors import AlreadyExists, InvalidTransition, NotFound
from signoff.services import approvals, registry

META_KEY = "sagemaker"  # where a version keeps what SageMaker callers sent with it
# Carried over verbatim from CreateModelPackage and given back by DescribeModelPackage.
CARRIED = ("ModelPackageDescription", "InferenceSpecification", "ModelMetrics", "MetadataProperties",
           "CustomerMetadataProperties", "DriftCheckBaselines", "Domain", "Task", "SamplePayloadUrl",
           "AdditionalInferenceSpecifications", "SourceUri", "ClientToken")
# The artifact digest a SageMaker caller states, as a CustomerMetadataProperties key: SageMaker's
# own fields hold S3 ETags (MD5 or multipart), not a sha256 of the bytes. Read at registration into
# the version's digest (fixed for life), given back by DescribeModelPackage from that digest.
DIGEST_KEY = "signoff:digest"
LIST_MAX = 100
IDEMPOTENCY_WINDOW = 100  # the newest versions of a group a repeated ClientToken is looked for in
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def _group_arn(call: Call, name: str) -> str:
    return f"arn:aws:sagemaker:{call.region}:{call.account}:model-package-group/{name}"


def _package_arn(call: Call, name: str, number: int) -> str:
    return f"arn:aws:sagemaker:{call.region}:{call.account}:model-package/{name}/{number}"


def _group_name(call: Call, key: str = "ModelPackageGroupName") -> str:
    value = call.params.get(key)
    if not isinstance(value, str) or not value:
        raise validation(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to satisfy "
                         "constraint: Member must not be null")
    prefix = _group_arn(call, "")
    return value.removeprefix(prefix)


def _model(call: Call, name: str) -> Model:
    try:
        return registry.get_model(uow=call.ctx.uow(), model=name)
    except NotFound:
        raise validation(f"ModelPackageGroup {_group_arn(call, name)} does not exist.") from None


def _group(call: Call, model: Model) -> dict[str, Any]:
    return {
        "ModelPackageGroupName": model.name, "ModelPackageGroupArn": _group_arn(call, model.name),
        "ModelPackageGroupDescription": model.description, "CreationTime": model.created_at,
        "ModelPackageGroupStatus": "Completed",
    }


def create_model_package_group(call: Call) -> dict[str, Any]:
    call.require("sagemaker", "register")
    name = _group_name(call)
    if not _GROUP_NAME.fullmatch(name) or name != name.lower():
        raise validation(f"1 validation error detected: Value '{name}' at 'modelPackageGroupName' failed to satisfy "
                         "constraint: signoff model names are lower case: a-z, 0-9 and '-'")
    tags = {t["Key"]: t.get("Value", "") for t in call.params.get("Tags") or [] if isinstance(t, dict) and "Key" in t}
    try:
        registry.create_model(uow=call.ctx.uow(), name=name, actor=call.principal.name, tags=tags,
                              description=str(call.params.get("ModelPackageGroupDescription") or ""))
    except AlreadyExists:
        raise validation(f"Model Package Group already exists: {_group_arn(call, name)}") from None
    return {"ModelPackageGroupArn": _group_arn(call, name)}


def describe_model_package_group(call: Call) -> dict[str, Any]:
    call.require("sagemaker", "resolve", "register", "report", "decide")
    model = _model(call, _group_name(call))
    return {**_group(call, model), "CreatedBy": {"UserProfileName": model.created_by}}


def _all_models(call: Call) -> list[Model]:
    out: list[Model] = []
    after = None
    while True:
        page = registry.list_models(uow=call.ctx.uow(), after=after, limit=500)
        out.extend(page)
        if len(page) < 500:
            return out
        after = page[-1].name


def _time(call: Call, key: str) -> datetime | None:
    value = call.params.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    raise validation(f"{key} must be a timestamp")


def _page(call: Call, items: list[dict[str, Any]], sort_keys: dict[str, str], default_sort: str) -> tuple[list[dict[str, Any]], str | None]:
    sort_by = call.params.get("SortBy") or default_sort
    order = call.params.get("SortOrder") or "Ascending"
    if sort_by not in sort_keys:
        raise validation(f"1 validation error detected: Value '{sort_by}' at 'sortBy' failed to satisfy constraint: "
                         f"Member must satisfy enum value set: [{', '.join(sort_keys)}]")
    if order not in ("Ascending", "Descending"):
        raise validation(f"1 validation error detected: Value '{order}' at 'sortOrder' failed to satisfy constraint: "
                         "Member must satisfy enum value set: [Ascending, Descending]")
    limit = call.params.get("MaxResults", LIST_MAX)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= LIST_MAX:
        raise validation(f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: "
                         f"Member must have value less than or equal to {LIST_MAX}")
    key = sort_keys[sort_by]
    items.sort(key=lambda i: (i[key], i.get("ModelPackageVersion", 0)), reverse=order == "Descending")
    offset = paging.offset(call.params)
    more = offset + limit < len(items)
    return items[offset:offset + limit], paging.token(offset + limit) if more else None


def _filtered_by_time(call: Call, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    after, before = _time(call, "CreationTimeAfter"), _time(call, "CreationTimeBefore")
    contains = call.params.get("NameContains")
    return [i for i in items if (after is None or i["CreationTime"] > after)
            and (before is None or i["CreationTime"] < before)
            and (not contains or contains in i.get("ModelPackageName", i.get("ModelPackageGroupName", "")))]


def list_model_package_groups(call: Call) -> dict[str, Any]:
    call.require("sagemaker", "resolve", "register", "report", "decide")
    items = _filtered_by_time(call, [_group(call, m) for m in _all_models(call)])
    page, token = _page(call, items, {"Name": "ModelPackageGroupName", "CreationTime": "CreationTime"}, "CreationTime")
    out: dict[str, Any] = {"ModelPackageGroupSummaryList": page}
    if token:
        out["NextToken"] = token
    return out


def _model_data_url(params: dict[str, Any]) -> str | None:
    containers = (params.get("InferenceSpecification") or {}).get("Containers") or []
    for container in containers:
        if isinstance(container, dict) and container.get("ModelDataUrl"):
            return str(container["ModelDataUrl"])
    source = params.get("SourceUri")
    return str(source) if source else None


def create_model_package(call: Call) -> dict[str, Any]:
    call.require("sagemaker", "register")
    p = call.params
    if p.get("ModelPackageName") and not p.get("ModelPackageGroupName"):
        raise validation("signoff keeps versioned model packages only: give ModelPackageGroupName")
    name = _group_name(call)
    status = p.get("ModelApprovalStatus") or Stage.PENDING.value
    if status != Stage.PENDING.value:
        raise validation(f"ModelApprovalStatus must be {Stage.PENDING.value} when a model package is created: in "
                         "signoff a version is approved by its environment's approvers, not by its registrant")
    artifact = _model_data_url(p)
    if not artifact:
        raise validation("a model package needs its model data: InferenceSpecification.Containers[].ModelDataUrl "
                         "or SourceUri")
    _model(call, name)  # SageMaker needs the group first; so does this door (a typo is not a new model)
    token = p.get("ClientToken")
    if token:
        # botocore fills ClientToken in (idempotencyToken) and keeps it across its retries: a retry
        # after a lost answer gets the version the first attempt registered, not a second one.
        recent = registry.list_versions(uow=call.ctx.uow(), workflow=call.ctx.workflow, model=name,
                                        limit=IDEMPOTENCY_WINDOW)
        for earlier in recent:
            if (earlier.metadata.get(META_KEY) or {}).get("ClientToken") == token:
                return {"ModelPackageArn": _package_arn(call, name, earlier.number)}
    props = p.get("MetadataProperties") or {}
    carried = {k: p[k] for k in CARRIED if k in p}
    customer = dict(carried.get("CustomerMetadataProperties") or {})
    digest = customer.pop(DIGEST_KEY, None)
    if DIGEST_KEY in (carried.get("CustomerMetadataProperties") or {}):
        carried["CustomerMetadataProperties"] = customer  # kept as the version's digest, not as metadata
    version = registry.register(
        uow=call.ctx.uow(), workflow=call.ctx.workflow, model=name, artifact_uri=artifact, actor=call.principal.name,
        digest=registry.check_digest(digest), metadata={META_KEY: carried},
        lineage=Lineage(run_id=props.get("GeneratedBy"), code_commit=props.get("CommitId")),
    ).version
    return {"ModelPackageArn": _package_arn(call, name, version.number)}


def _parse_package(call: Call, key: str) -> tuple[str, int]:
    value = call.params.get(key)
    if not isinstance(value, str) or not value:
        raise validation(f"1 validation error detected: Value null at '{key[0].lower() + key[1:]}' failed to satisfy "
                         "constraint: Member must not be null")
    prefix = f"arn:aws:sagemaker:{call.region}:{call.account}:model-package/"
    rest = value.removeprefix(prefix)
    group, _, number = rest.rpartition("/")
    if not group or not number.isdigit() or len(number) > 9:
        raise validation(f"Model package {value} not found (signoff names versioned packages by their ARN or "
                         "'group/version')")
    return group, int(number)


def _version(call: Call, group: str, number: int) -> ModelVersion:
    try:
        return registry.get_version(uow=call.ctx.uow(), workflow=call.ctx.workflow, model=group, version=number)
    except NotFound:
        raise validation(f"Model package {_package_arn(call, group, number)} not found") from None


def _approval_status(call: Call, version: ModelVersion) -> str:
    stage = version.stages.get(call.ctx.workflow.first, Stage.PENDING)
    return Stage.REJECTED.value if stage is Stage.REVOKED else stage.value  # SageMaker has no Revoked


def _life_cycle(call: Call, version: ModelVersion) -> dict[str, str]:
    order = call.ctx.workflow.order
    reached = [env for env in order if version.stages.get(env, Stage.PENDING) is not Stage.PENDING]
    env = reached[-1] if reached else order[0]
    stage = version.stages.get(env, Stage.PENDING)
    live = "live" if env in version.live_in else "not live"
    return {"Stage": env, "StageStatus": stage.value, "StageDescription": f"{stage.value} in {env} ({live})"}


def _summary(call: Call, version: ModelVersion) -> dict[str, Any]:
    carried = version.metadata.get(META_KEY) or {}
    return {
        "ModelPackageName": version.model, "ModelPackageGroupName": version.model,
        "ModelPackageVersion": version.number, "ModelPackageArn": _package_arn(call, version.model, version.number),
        "ModelPackageDescription": carried.get("ModelPackageDescription", ""), "CreationTime": version.registered_at,
        "ModelPackageStatus": "Completed", "ModelApprovalStatus": _approval_status(call, version),
    }


def describe(call: Call, version: ModelVersion) -> dict[str, Any]:
    carried = dict(version.metadata.get(META_KEY) or {})
    carried.pop("ClientToken", None)
    modified = carried.pop("LastModifiedTime", None)
    out = {
        **_summary(call, version),
        "InferenceSpecification": carried.pop("InferenceSpecification", None)
        or {"Containers": [{"Image": "", "ModelDataUrl": version.artifact_uri}], "SupportedContentTypes": [],
            "SupportedResponseMIMETypes": []},
        **{k: v for k, v in carried.items() if k not in ("ModelPackageDescription",)},
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "CertifyForMarketplace": False,
        "CreatedBy": {"UserProfileName": version.registered_by},
        "LastModifiedTime": datetime.fromtimestamp(modified, UTC) if modified else version.registered_at,
        "ModelLifeCycle": _life_cycle(call, version),
    }
    out["CustomerMetadataProperties"] = dict(out.get("CustomerMetadataProperties") or {})
    if version.digest:
        out["CustomerMetadataProperties"][DIGEST_KEY] = version.digest
    return out


def describe_model_package(call: Call) -> dict[str, Any]:
    call.require("sagemaker", "resolve", "register", "report", "decide")
    group, number = _parse_package(call, "ModelPackageName")
    return describe(call, _version(call, group, number))


def _all_versions(call: Call, group: str) -> list[ModelVersion]:
    out: list[ModelVersion] = []
    before = None
    while True:
        page = registry.list_versions(uow=call.ctx.uow(), workflow=call.ctx.workflow, model=group, before=before,
                                      limit=500)
        out.extend(page)
        if len(page) < 500:
            return out
        before = page[-1].number


def list_model_packages(call: Call) -> dict[str, Any]:
    call.require("sagemaker", "resolve", "register", "report", "decide")
    kind = call.params.get("ModelPackageType") or "Both"
    if kind not in ("Versioned", "Unversioned", "Both"):
        raise validation(f"1 validation error detected: Value '{kind}' at 'modelPackageType' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [Both, Unversioned, Versioned]")
    status = call.params.get("ModelApprovalStatus")
    if status is not None and status not in ("Approved", "Rejected", "PendingManualApproval"):
        raise validation(f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]")
    if call.params.get("ModelPackageGroupName"):
        name = _group_name(call)
        _model(call, name)
        versions = _all_versions(call, name)
    else:
        versions = [v for m in _all_models(call) for v in _all_versions(call, m.name)]
    items = [_summary(call, v) for v in versions] if kind != "Unversioned" else []
    items = [i for i in _filtered_by_time(call, items) if status is None or i["ModelApprovalStatus"] == status]
    page, token = _page(call, items, {"Name": "ModelPackageName", "CreationTime": "CreationTime"}, "CreationTime")
    out: dict[str, Any] = {"ModelPackageSummaryList": page}
    if token:
        out["NextToken"] = token
    return out


def _decide(call: Call, group: str, number: int, status: str, comment: str) -> None:
    call.require("sagemaker", "decide")
    version = _version(call, group, number)
    first = call.ctx.workflow.first
    current = version.stages.get(first, Stage.PENDING)
    if current.value == status:
        return  # as at SageMaker, setting the status it already has changes nothing
    try:
        request = approvals.find_open_request(uow=call.ctx.uow(), workflow=call.ctx.workflow, model=group,
                                              version=number, env=first)
    except InvalidTransition as exc:
        raise AwsError("ConflictException", exc.message) from None
    assert request.id is not None  # a stored request
    approvals.decide(uow=call.ctx.uow(), workflow=call.ctx.workflow, request_id=request.id, actor=call.principal.name,
                     verdict="approve" if status == "Approved" else "reject", comment=comment,
                     groups=decision_groups(call.ctx, call.principal.name))


def update_model_package(call: Call) -> dict[str, Any]:
    group, number = _parse_package(call, "ModelPackageArn")
    p = call.params
    for refused in ("InferenceSpecification", "SourceUri", "ModelCard", "ModelLifeCycle"):
        if refused in p:
            raise validation(f"{refused} cannot be updated through signoff: register a new version (the artifact a "
                             "version was approved for never changes), and environments move by approval")
    status = p.get("ModelApprovalStatus")
    if status is not None and status not in ("Approved", "Rejected", "PendingManualApproval"):
        raise validation(f"1 validation error detected: Value '{status}' at 'modelApprovalStatus' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [Approved, Rejected, PendingManualApproval]")
    to_set = p.get("CustomerMetadataProperties") or {}
    to_remove = p.get("CustomerMetadataPropertiesToRemove") or []
    if DIGEST_KEY in to_set or DIGEST_KEY in to_remove:
        raise validation(f"{DIGEST_KEY} cannot be updated: it is the digest of the artifact the version was "
                         "registered with, which never changes (register a new version)")
    extra = p.get("AdditionalInferenceSpecificationsToAdd") or []
    metadata_change = bool(to_set or to_remove or extra or "ApprovalDescription" in p)
    if metadata_change or status is None:
        call.require("sagemaker", "register", "decide")
    version = _version(call, group, number)
    if status == "PendingManualApproval" and version.stages.get(call.ctx.workflow.first) is not Stage.PENDING:
        raise AwsError("ConflictException", "a decided version cannot go back to PendingManualApproval; "
                       "revoke or roll back in signoff")
    if status in ("Approved", "Rejected"):
        _decide(call, group, number, status, str(p.get("ApprovalDescription") or ""))
    if metadata_change:
        stamp = datetime.now(UTC).timestamp()

        def change(meta: dict[str, Any]) -> dict[str, Any]:
            carried = dict(meta.get(META_KEY) or {})
            props = {**(carried.get("CustomerMetadataProperties") or {}), **to_set}
            for key in to_remove:
                props.pop(key, None)
            carried["CustomerMetadataProperties"] = props
            if extra:
                carried["AdditionalInferenceSpecifications"] = [*(carried.get("AdditionalInferenceSpecifications")
                                                                   or []), *extra]
            if "ApprovalDescription" in p:
                carried["ApprovalDescription"] = str(p["ApprovalDescription"])
            carried["LastModifiedTime"] = stamp
            return {**meta, META_KEY: carried}

        registry.update_metadata(uow=call.ctx.uow(), workflow=call.ctx.workflow, model=group, version=number,
                                 actor=call.principal.name, change=change)
    return {"ModelPackageArn": _package_arn(call, group, number)}


SERVICE = Service(
    signing_name="sagemaker",
    target_prefix="SageMaker",
    not_found="ResourceNotFound",
    operations={
        "CreateModelPackageGroup": create_model_package_group,
        "DescribeModelPackageGroup": describe_model_package_group,
        "ListModelPackageGroups": list_model_package_groups,
        "CreateModelPackage": create_model_package,
        "DescribeModelPackage": describe_model_package,
        "ListModelPackages": list_model_packages,
        "UpdateModelPackage": update_model_package,
    },
)
