"""The demo's people: the data scientist registers, other people approve."""

from __future__ import annotations

from signoff.demo.cast import DEMO_ENVIRONMENTS, DEMO_USERS


def data_scientists() -> list[str]:
    return [name for name, spec in DEMO_USERS.items() if spec["role"] == "data scientist"]


class TestDemoPeople:
    def test_there_is_a_data_scientist(self) -> None:
        assert data_scientists() == ["dana"]

    def test_the_data_scientist_approves_in_no_environment(self) -> None:
        for name in data_scientists():
            groups = set(DEMO_USERS[name]["groups"])
            approves_in = [env for env in DEMO_ENVIRONMENTS["order"]
                           if groups & set(DEMO_ENVIRONMENTS[env]["approvers"])]
            assert approves_in == [], f"{name} approves in {approves_in}"

    def test_every_environment_still_has_an_approver_among_the_demo_people(self) -> None:
        groups = {g for spec in DEMO_USERS.values() for g in spec["groups"]}
        for env in DEMO_ENVIRONMENTS["order"]:
            assert groups & set(DEMO_ENVIRONMENTS[env]["approvers"]), env
