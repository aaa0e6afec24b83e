"""The signed revocation list: what a deploy job checks offline next to an attestation.

Each revoked (model, version, environment) with the artifact digest, when, by whom and why, in
a DSSE envelope signed with the server key, like an audit checkpoint. `signoff verify
--revocations` trusts the list only when that signature holds against the published keys.
"""

from __future__ import annotations

from typing import Any

from signoff.domain.attestations import rfc3339
from signoff.domain.events import canonical_json
from signoff.errors import ServiceUnavailable
from signoff.sdk._attest import REVOCATION_LIST_TYPE, REVOCATIONS_PAYLOAD_TYPE
from signoff.services.ports import Signer, UnitOfWork


def revocation_list(*, uow: UnitOfWork, keys: Signer | None) -> dict[str, Any]:
    """Every revocation, signed now; returns the DSSE envelope. Raises ServiceUnavailable without a key."""
    if keys is None:
        raise ServiceUnavailable("no signing key is loaded: the revocation list cannot be signed")
    with uow:
        entries = uow.revocations.list()
        now = uow.clock.now()
    payload = {
        "type": REVOCATION_LIST_TYPE, "issued_at": rfc3339(now), "count": len(entries),
        "revocations": [{**e, "revoked_at": rfc3339(e["revoked_at"])} for e in entries],
    }
    return keys.envelope(REVOCATIONS_PAYLOAD_TYPE, canonical_json(payload).encode("utf-8"))
