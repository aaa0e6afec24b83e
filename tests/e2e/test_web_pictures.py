"""Pictures in the web UI over real HTTP: live over time, metric trends, drift on the review page
and in the promotion email, two versions compared, and the one decision form.

The drift story is the demo's: version 1's reference profile is its training data; the batch
reported in dev carries ten features whose unit changed (values ×1000), so they drift and the
review page and the test approvers' email show which, by how much, and how their distribution moved.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import numpy as np

from signoff.domain.drift import profile_columns
from signoff.sdk._embedded import EmbeddedClient
from tests.conftest import DIGEST, artifact_file, unique
from tests.e2e.test_browser import OUTPUT
from tests.fixtures.web import Stack, stack  # noqa: F401

FEATURES = [f"{kind} {name}" for kind in ("mean", "worst", "se")
            for name in ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                         "concave points", "symmetry", "fractal dimension")]
UNIT_CHANGED = [f for f in FEATURES if f.startswith("worst ")]


def _columns(seed: int, rows: int, scaled: list[str]) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {f: rng.normal(10 + i, 1 + i / 10, rows) * (1000 if f in scaled else 1) for i, f in enumerate(FEATURES)}


def build_drift_story(stack: Stack) -> dict[str, Any]:
    """v1 live in dev; its dev batch drifted (ten features changed unit), which opened the test
    request; v2 was approved in dev and rolled back; v3 rejected in dev. Returns names and ids."""
    model = unique("cancer")
    c = {u: EmbeddedClient(actor=u, context=stack.ctx) for u in ("dana", "rita", "ron")}
    reference = profile_columns(_columns(1, 2000, []), seed=1)

    def register(n: int, **metrics: float) -> None:
        # real bytes: a rollback checks them again before making a version live once more
        c["dana"].register(model, artifact_file(stack.ctx.settings.home, f"{model}-{n}.joblib"), metrics=metrics,
                           run_id=f"run-00{n}", code_commit=f"c0ffee{n}", dataset_hash=f"extract-{n}",
                           flavor="sklearn", owner_group="data-science", reference=reference,
                           metadata={"algorithm": "LogisticRegression", "C": 1.0 / n})

    register(1, accuracy=0.951, f1=0.958, roc_auc=0.991)
    first = c["dana"].open_request(model, 1, "dev").id
    stack.clock.advance(hours=3)
    c["rita"].approve(model, 1, "dev", comment="baseline")
    stack.clock.advance(hours=20)
    batch = profile_columns(_columns(2, 600, UNIT_CHANGED), seed=2)
    c["dana"].report_inference(model, 1, "dev", metrics={"accuracy": 0.912, "f1": 0.921, "roc_auc": 0.97},
                               rows=600, profile=batch)
    drift_request = c["dana"].open_request(model, 1, "test").id
    stack.clock.advance(hours=5)
    register(2, accuracy=0.962, f1=0.966, roc_auc=0.993)
    c["ron"].approve(model, 2, "dev")
    stack.clock.advance(hours=30)
    c["rita"].rollback(model, "dev", reason="v2 mislabels the new extract")
    stack.clock.advance(hours=4)
    register(3, accuracy=0.88, f1=0.86, roc_auc=0.94)
    c["rita"].reject(model, 3, "dev", comment="accuracy regressed")
    stack.clock.advance(hours=2)
    return {"model": model, "drift_request": drift_request, "first_request": first}


def signed_in(stack: Stack, user: str) -> Any:
    visitor = stack.visitor()
    visitor.sign_in(user)
    return visitor


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


class TestTheModelPage:
    def test_shows_which_version_was_live_when_and_the_metric_trends(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        page = signed_in(stack, "dana").get(f"/models/{story['model']}")
        assert page.status_code == 200
        html = page.text
        assert 'id="live-timeline"' in html and 'role="img"' in html
        assert html.count('class="seg k-approval"') == 2 and html.count('class="seg k-rollback"') == 1
        table = text_of(html[html.index("live-table"):html.index("</table>", html.index("live-table"))])
        assert "dev v1 2026-11-27" in table and "rolled back (was v2)" in table
        assert "v2 mislabels the new extract" in table and "test nothing live yet" in table
        # one trend chart per metric, the training series and dev's inference series, v1 marked live in dev
        for n, metric in enumerate(["accuracy", "f1", "roc_auc"], start=1):
            assert f'id="trend-{n}"' in html and f"{metric} across versions" in html
        assert "live: dev" in html and "inference in dev (latest report)" in html
        assert "stopped in dev" in text_of(html)  # v3 was rejected there

    def test_links_to_the_comparison_of_two_versions(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        visitor = signed_in(stack, "dana")
        assert f'href="/models/{story["model"]}/compare"' in visitor.get(f"/models/{story['model']}").text
        page = visitor.get(f"/models/{story['model']}/compare")  # the newest against the one before
        assert page.status_code == 200
        text = text_of(page.text)
        assert "v2 v3" in text
        assert "training accuracy 0.962 0.88 -0.082" in text
        assert "code commit c0ffee2 c0ffee3 changed" in text and "flavor sklearn sklearn same" in text
        assert "metadata.C 0.5 0.3333333333333333 changed" in text
        chosen = text_of(visitor.get(f"/models/{story['model']}/compare?a=1&b=3").text)
        assert "inference in dev accuracy 0.912 —" in chosen
        assert visitor.get(f"/models/{story['model']}/compare?a=1&b=99").status_code == 404


class TestDriftOnTheReviewPage:
    def test_names_the_drifted_features_with_scores_thresholds_and_distributions(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        page = signed_in(stack, "ron").get(f"/requests/{story['drift_request']}")
        assert page.status_code == 200
        html, text = page.text, text_of(page.text)
        assert "10 of 30 features drifted:" in text
        assert all(f in text for f in UNIT_CHANGED)
        assert 'id="drift-scores"' in html and "PSI threshold 0.2" in html
        # one distribution per drifted feature, each with its table
        assert len(re.findall(r'<svg [^>]*id="dist-\d+"', html)) == 10 and html.count("as a table</summary>") >= 11
        assert "worst radius as a table" in text
        # the batch piles into the reference's top bin: 100% of it against about 10%
        top = re.search(r"Largest gain: (≥ [0-9.]+) holds (\d+)% of this batch against (\d+)% of the reference",
                        unescape(html))
        assert top and int(top.group(2)) == 100 and 9 <= int(top.group(3)) <= 11

    def test_the_promotion_email_carries_the_drift(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        stack.smtp.wait_for(1)
        mails = [m for m in stack.mails_to("ron@example.com")
                 if f"promote {story['model']} v1 to test" in str(m["Subject"])]
        assert mails, [str(m["Subject"]) for m in stack.mails_to("ron@example.com")]
        html = mails[-1].get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        plain = mails[-1].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        assert "10 of 30 features drifted" in html and "10 of 30 features drifted" in plain
        assert "PSI threshold 0.2" in html and "worst area" in html and "worst area" in plain
        assert "<svg" not in html  # mail clients drop SVG: the bars are table cells
        OUTPUT.mkdir(exist_ok=True)
        (OUTPUT / "mail-promotion-drift.html").write_text(html)  # for people to look at


class TestTheDecisionForm:
    def test_one_comment_box_two_buttons_and_what_approving_does(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        model = story["model"]
        EmbeddedClient(actor="dana", context=stack.ctx).register(
            model, f"s3://models/{model}-4.joblib", digest=DIGEST, metrics={"accuracy": 0.97})
        rid = EmbeddedClient(actor="dana", context=stack.ctx).open_request(model, 4, "dev").id
        html = signed_in(stack, "ron").get(f"/requests/{rid}").text
        form = html[html.index('<form method="post" action="/requests/'):]
        form = form[:form.index("</form>")]
        assert form.count("<textarea") == 1 and 'value="approve"' in form and 'value="reject"' in form
        # the candidate against the version live in dev, at a glance, beside the evidence table
        assert 'id="vs-live"' in html and "v4 (this) against v1 (live), metric by metric" in html
        text = text_of(html)
        assert "If you approve v4 becomes live in dev, replacing v1. The test approvers (ml-reviewers) are asked next, " \
               "once an inference report from dev arrives." in text
        assert "If you reject v4 is rejected in dev and it stops there and cannot go on to test, uat, prod; " \
               "dana (who registered it) is told by email, with your comment." in text

    def test_a_rejection_without_a_comment_is_refused_next_to_the_box(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        ron = signed_in(stack, "ron")
        before = stack.snapshot()
        response = ron.decide(story["drift_request"], "reject", "  ")
        assert response.status_code == 400
        help_text = re.search(r'<p id="comment-help" class="field-help field-error" role="alert">([^<]+)</p>', response.text)
        assert help_text and "a rejection needs a comment" in help_text.group(1)
        assert 'aria-invalid="true"' in response.text and 'aria-describedby="comment-help"' in response.text
        assert stack.snapshot() == before

    def test_after_deciding_the_page_says_what_happened(self, stack: Stack) -> None:  # noqa: F811
        story = build_drift_story(stack)
        ron = signed_in(stack, "ron")
        done = ron.decide(story["drift_request"], "approve", "drift is the unit change; metrics hold")
        assert done.status_code == 303
        page = text_of(ron.get(done.headers["location"]).text)
        assert "Your approval is recorded. v1 is live in test now. The uat approvers (uat-approvers) are asked next" in page
        rita = signed_in(stack, "rita")
        model = story["model"]
        EmbeddedClient(actor="dana", context=stack.ctx).register(model, f"s3://models/{model}-4.joblib", digest=DIGEST)
        rid = EmbeddedClient(actor="dana", context=stack.ctx).open_request(model, 4, "dev").id
        rejected = rita.decide(rid, "reject", "no reference profile")
        page = text_of(rita.get(rejected.headers["location"]).text)
        assert "Your rejection is recorded. v4 was rejected in dev by rita: it stops there and cannot go on to test, uat, prod." in page
