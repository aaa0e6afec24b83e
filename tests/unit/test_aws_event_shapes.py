"""The AWS shapes of signoff's events (pure mapping, domain/aws_events.py)."""

from __future__ import annotations

from typing import Any

from signoff.domain import events
from signoff.domain.aws_events import AwsPlace, to_aws

PLACE = AwsPlace("eu-central-1", "123456789012", "dev")


def cloud_event(kind: str, **data: Any) -> dict[str, Any]:
    return {"id": "e-1", "type": kind, "time": "2026-12-02T10:00:00.123456Z",
            "data": {"model": "churn", "version": 3, "registered_by": "dana", **data}}


class TestToAws:
    def test_a_rejection_in_a_later_environment_keeps_the_package_approved(self) -> None:
        (event,) = to_aws(cloud_event(events.VERSION_REJECTED, env="prod"), PLACE)
        assert event["detail"]["ModelApprovalStatus"] == "Approved"
        assert event["detail"]["ModelLifeCycle"] == {"Stage": "prod", "StageStatus": "Rejected"}

    def test_a_rejection_in_the_first_environment_rejects_the_package(self) -> None:
        (event,) = to_aws(cloud_event(events.VERSION_REJECTED, env="dev"), PLACE)
        assert event["detail"]["ModelApprovalStatus"] == "Rejected"

    def test_a_later_parameter_version_is_an_update(self) -> None:
        shaped = to_aws(cloud_event(events.VERSION_APPROVED, env="test", parameter="/signoff/models/churn/test",
                                    parameter_version=4), PLACE)
        assert [e["detail-type"] for e in shaped] == ["SageMaker Model Package State Change", "Parameter Store Change"]
        assert shaped[1]["detail"]["operation"] == "Update"
        assert shaped[1]["resources"] == ["arn:aws:ssm:eu-central-1:123456789012:parameter/signoff/models/churn/test"]
        assert shaped[0]["time"] == "2026-12-02T10:00:00Z"

    def test_ids_are_stable_per_event_and_index(self) -> None:
        first = to_aws(cloud_event(events.VERSION_APPROVED, env="dev", parameter="/p", parameter_version=1), PLACE)
        again = to_aws(cloud_event(events.VERSION_APPROVED, env="dev", parameter="/p", parameter_version=1), PLACE)
        assert [e["id"] for e in first] == [e["id"] for e in again] and first[0]["id"] != first[1]["id"]

    def test_events_without_an_aws_counterpart_map_to_nothing(self) -> None:
        assert to_aws(cloud_event(events.APPROVAL_REQUESTED, env="dev"), PLACE) == []
