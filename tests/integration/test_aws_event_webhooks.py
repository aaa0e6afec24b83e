"""Webhook targets with `format = "aws"`: signoff's events as SageMaker and SSM put them on
EventBridge, so patterns written for AWS match them unchanged (checked with signoff's own
EventBridge pattern engine, and the receiver gets exactly the AWS shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import DIGEST, make_settings, unique
from tests.fixtures.servers import WebhookReceiver

from signoff.bootstrap import bootstrap
from signoff.domain.patterns import compile_pattern
from signoff.services import approvals, registry

# As written for AWS (EventBridge console examples for SageMaker and SSM).
APPROVED_PACKAGES = {"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
                     "detail": {"ModelApprovalStatus": ["Approved"]}}
PROD_PARAMETER = {"source": ["aws.ssm"], "detail-type": ["Parameter Store Change"],
                  "detail": {"operation": ["Create", "Update"], "name": [{"prefix": "/signoff/models/"}]}}


def test_a_registration_and_an_approval_arrive_in_aws_shape(tmp_path: Path, webhook_receiver: WebhookReceiver) -> None:
    rule = {"name": "to-eventbridge", "pattern": {"source": ["signoff"]},
            "targets": [{"type": "webhook", "url": webhook_receiver.url, "format": "aws"}]}
    ctx = bootstrap(make_settings(tmp_path, rules=[rule], aws={"account_id": "123456789012", "region": "eu-west-1"}))
    try:
        model = unique()
        registry.register(uow=ctx.uow(), workflow=ctx.workflow, model=model, artifact_uri="s3://b/m.tar.gz",
                          digest=DIGEST,
                          actor="dana")
        request = approvals.find_open_request(uow=ctx.uow(), workflow=ctx.workflow, model=model, version=1, env="dev")
        approvals.decide(uow=ctx.uow(), workflow=ctx.workflow, request_id=request.id, actor="rita", verdict="approve",
                         comment="ok")
        received = [r.json() for r in webhook_receiver.wait_for(3)]
    finally:
        ctx.close()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in received:
        assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                              "detail"}
        assert (event["account"], event["region"]) == ("123456789012", "eu-west-1")
        by_type.setdefault(event["detail-type"], []).append(event)
    pending, approved = by_type["SageMaker Model Package State Change"]
    assert pending["detail"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert approved["detail"]["ModelApprovalStatus"] == "Approved"
    assert approved["resources"] == [f"arn:aws:sagemaker:eu-west-1:123456789012:model-package/{model}/1"]
    assert approved["detail"]["ModelLifeCycle"] == {"Stage": "dev", "StageStatus": "Approved"}
    (parameter,) = by_type["Parameter Store Change"]
    assert parameter["detail"] == {"operation": "Create", "name": f"/signoff/models/{model}/dev", "type": "String",
                                   "description": ""}
    assert compile_pattern(APPROVED_PACKAGES).matches(approved)
    assert not compile_pattern(APPROVED_PACKAGES).matches(pending)
    assert compile_pattern(PROD_PARAMETER).matches(parameter)
    assert len({e["id"] for e in received}) == 3
