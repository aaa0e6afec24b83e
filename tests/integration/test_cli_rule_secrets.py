"""`signoff rules add/list/show` never print the secrets of a target, whatever the output format."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.test_cli import Cli

PLANTED = ("pw-s3cret-31", "tok-s3cret-32", "hdr-s3cret-33", "hmac-s3cret-34", "slk-s3cret-35")
HOOK = {"type": "webhook", "url": "https://deploy:pw-s3cret-31@example.com/h?token=tok-s3cret-32",
        "headers": {"Authorization": "Bearer hdr-s3cret-33"}, "secret": "hmac-s3cret-34"}
SLACK = {"type": "slack", "url": "https://hooks.slack.com/services/T1/B2/slk-s3cret-35"}


def test_rules_commands_print_targets_redacted(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    outputs = []
    added = cli("rules", "add", "deploy", "--pattern", '{"type": ["signoff.version.approved"]}',
                "--target", json.dumps(HOOK), "--target", json.dumps(SLACK), "--as", "dana")
    assert added.returncode == 0, added.stderr
    outputs.append(added.stdout + added.stderr)
    for args in (("rules", "list"), ("rules", "list", "--json"), ("rules", "show", "deploy"),
                 ("rules", "show", "deploy", "--json"), ("audit", "--limit", "500", "--json")):
        out = cli(*args)
        assert out.returncode == 0, (args, out.stderr)
        outputs.append(out.stdout + out.stderr)
    shown = json.loads(outputs[4])["targets"]
    assert shown[0]["url"] == "https://deploy:***@example.com/h?token=***" and shown[1]["url"].endswith("/services/***")
    for text in outputs:
        assert not [s for s in PLANTED if s in text], text
