"""Domain events and their CloudEvents 1.0 envelope.

Services record events as they change state; the unit of work writes them to the outbox in
the same transaction, so an event exists exactly when its change does.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SOURCE = "signoff"

REGISTERED = "signoff.version.registered"
APPROVAL_REQUESTED = "signoff.approval.requested"
APPROVAL_DECIDED = "signoff.approval.decided"
APPROVAL_EXPIRED = "signoff.approval.expired"
APPROVAL_REMINDER = "signoff.approval.reminder"  # still open after the policy's remind_every
VERSION_APPROVED = "signoff.version.approved"
VERSION_REJECTED = "signoff.version.rejected"
VERSION_REVOKED = "signoff.version.revoked"
METADATA_UPDATED = "signoff.version.metadata_updated"
INFERENCE_COMPLETED = "signoff.inference.completed"
DRIFT_DETECTED = "signoff.drift.detected"
ROLLED_BACK = "signoff.environment.rolled_back"
BREAK_GLASS = "signoff.promotion.break_glass"
ARTIFACT_MISMATCH = "signoff.artifact.digest_mismatch"


@dataclass
class Event:
    type: str
    subject: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def envelope(self, time: datetime) -> dict[str, Any]:
        """The CloudEvents 1.0 JSON form that rules are matched against and webhooks receive."""
        return {
            "specversion": "1.0",
            "id": self.id,
            "source": SOURCE,
            "type": self.type,
            "subject": self.subject,
            "time": time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }


def canonical_json(value: Any) -> str:
    """Deterministic JSON: the audit hash chain depends on byte-identical serialisation."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
