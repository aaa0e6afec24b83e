"""Who and what the demo is about: its users, its environments and the model it registers.

Shared by the scripted story (`signoff demo`) and the demo server (`signoff server --demo`), so
both show the same people with the same rights.
"""

from __future__ import annotations

from typing import Any

DEMO_USERS: dict[str, dict[str, Any]] = {
    "dana": {"groups": ["data-science"], "email": "dana@example.com", "role": "data scientist"},
    "rita": {"groups": ["ml-reviewers"], "email": "rita@example.com", "role": "dev/test approver"},
    "uma": {"groups": ["uat-approvers"], "email": "uma@example.com", "role": "uat approver"},
    "paula": {"groups": ["ml-leads"], "email": "paula@example.com", "role": "prod approver (ML lead)"},
    "pete": {"groups": ["risk-office"], "email": "pete@example.com", "role": "prod approver (risk office)"},
    "erin": {"groups": ["emergency"], "email": "erin@example.com", "role": "on-call engineer (emergency group)"},
}

DEMO_ENVIRONMENTS: dict[str, Any] = {
    "order": ["dev", "test", "uat", "prod"],
    "dev": {"approvers": ["ml-reviewers"]},
    "test": {"approvers": ["ml-reviewers"], "gates": ["accuracy >= 0.9", "f1 >= live.f1 - 0.02"]},
    "uat": {"approvers": ["uat-approvers"], "gates": ["accuracy >= 0.9"]},
    "prod": {
        "approvers": ["ml-leads", "risk-office"],
        "quorum": "each-group",
        "distinct_from_previous_stage": True,
        "gates": ["accuracy >= 0.9"],
    },
}

MODEL = "cancer-classifier"
