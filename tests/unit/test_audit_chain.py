"""The hash chain detects edits, deletions and reordering."""

from __future__ import annotations

from datetime import UTC, datetime

from signoff.domain.audit import GENESIS, AuditEntry, seal, verify_chain


def chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    prev = GENESIS
    for i in range(1, n + 1):
        e = seal(AuditEntry(i, datetime(2026, 1, 1, tzinfo=UTC), "rita", "version.approved", f"models/m/versions/{i}",
                            "m", None, {"env": "dev", "n": i}), prev)
        prev = e.hash
        out.append(e)
    return out


class TestVerifyChain:
    def test_an_untouched_chain_verifies(self) -> None:
        report = verify_chain(chain(5))
        assert report.ok and report.checked == 5

    def test_an_edited_entry_is_named(self) -> None:
        entries = chain(5)
        entries[2].after = {"env": "prod", "n": 3}
        report = verify_chain(entries)
        assert not report.ok and report.first_broken == 3

    def test_a_deleted_entry_breaks_the_link_after_it(self) -> None:
        entries = chain(5)
        del entries[1]
        report = verify_chain(entries)
        assert not report.ok and report.first_broken == 3

    def test_a_rehashed_edit_still_breaks_the_next_link(self) -> None:
        entries = chain(4)
        entries[1].actor = "mallory"
        seal(entries[1], entries[0].hash)
        report = verify_chain(entries)
        assert not report.ok and report.first_broken == 3
