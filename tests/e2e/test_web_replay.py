"""Replaying a dead letter from the web page does what the API and the SDK do: with inline
dispatch the delivery runs at once, and the page it lands on shows where it stands now."""

from __future__ import annotations

from signoff.sdk._embedded import EmbeddedClient
from signoff.services import deliveries, rules
from tests.conftest import DIGEST, unique
from tests.fixtures.servers import WebhookReceiver
from tests.fixtures.web import Stack, stack  # noqa: F401


def test_a_replay_from_the_page_runs_the_delivery_at_once(stack: Stack, webhook_receiver: WebhookReceiver) -> None:
    assert stack.ctx.dispatch_inline
    webhook_receiver.respond_with([404])  # final: dead after one attempt
    rules.add_rule(uow=stack.ctx.uow(), actor="root", python_targets=(), spec={
        "name": "hook", "pattern": {"type": ["signoff.version.registered"]},
        "targets": [{"type": "webhook", "url": webhook_receiver.url}]})
    EmbeddedClient(actor="dana", context=stack.ctx).register(unique("replay"), "s3://b/m.pkl", digest=DIGEST)
    [dead] = deliveries.list_deliveries(uow=stack.ctx.read_uow(), state="dead", rule="hook")
    root = stack.visitor()
    root.sign_in("root")
    r = root.post_form("/deliveries?state=dead", f"/deliveries/{dead['id']}/replay")
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/deliveries?state=succeeded&replayed={dead['id']}"
    assert [q.status for q in webhook_receiver.requests] == [404, 200]
    after = deliveries.get_delivery(uow=stack.ctx.read_uow(), delivery_id=dead["id"])
    assert (after["state"], after["replays"]) == ("succeeded", 1)
