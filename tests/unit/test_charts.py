"""The SVG chart builders: well-formed, named for assistive technology, and drawing what they are given."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from signoff.entrypoints.web import charts

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.get("role") == "img"
    title, desc = root.find("s:title", NS), root.find("s:desc", NS)
    assert title is not None and title.text and desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return root


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


class TestNiceRange:
    def test_covers_the_values_with_round_ticks(self) -> None:
        lo, hi, ticks = charts.nice_range([0.912, 0.957])
        assert lo <= 0.912 and hi >= 0.957 and ticks[0] == lo and ticks[-1] == hi
        assert 3 <= len(ticks) <= 7

    def test_a_single_value_gets_a_band_around_it(self) -> None:
        lo, hi, _ = charts.nice_range([5.0])
        assert lo < 5.0 < hi

    @pytest.mark.parametrize("value, text", [(0.0, "0"), (0.95312, "0.9531"), (1234567.0, "1.2e+06"), (0.00012, "0.00012")])
    def test_numbers_read_short(self, value: float, text: str) -> None:
        assert charts.number(value) == text


class TestTimeline:
    def lanes(self) -> list[dict[str, object]]:
        seg = lambda v, kind, start, end: {"version": v, "kind": kind, "start": T0 + timedelta(days=start),  # noqa: E731
                                           "end": None if end is None else T0 + timedelta(days=end), "actor": "rita"}
        return [{"env": "dev", "segments": [seg(1, "approval", 0, 3), seg(2, "approval", 3, 5), seg(1, "rollback", 5, None)]},
                {"env": "prod", "segments": [seg(3, "break_glass", 4, None)]},
                {"env": "uat", "segments": []}]

    def test_one_segment_per_period_with_moves_marked(self) -> None:
        root = parsed(charts.timeline(self.lanes(), start=T0, end=T0 + timedelta(days=10), chart_id="tl"))
        groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if "seg" in (g.get("class") or "")]
        assert [g.get("class") for g in groups] == ["seg k-approval", "seg k-approval", "seg k-rollback",
                                                    "seg k-break_glass"]
        marks = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g") if "mark" in (g.get("class") or "")]
        assert marks == ["mark m-rollback", "mark m-break_glass"]
        assert "nothing live yet" in texts(root)  # uat
        assert "4 periods" in root.find("s:desc", NS).text  # type: ignore[union-attr]

    def test_segments_are_placed_by_time(self) -> None:
        root = parsed(charts.timeline(self.lanes(), start=T0, end=T0 + timedelta(days=10), chart_id="tl", width=972))
        rects = [g.find("s:rect", NS) for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "seg k-approval"]
        # the plot is 972 - 72 - 16 = 884 px wide for 10 days: v1 covers days 0-3
        assert float(rects[0].get("x")) == pytest.approx(72)  # type: ignore[union-attr]
        assert float(rects[0].get("width")) == pytest.approx(884 * 0.3, abs=0.1)  # type: ignore[union-attr]


class TestTrend:
    def test_series_points_and_the_live_version(self) -> None:
        svg = charts.trend("accuracy", versions=[1, 2, 3, 4],
                           series=[{"label": "training", "values": {1: 0.94, 2: 0.96, 3: 0.88, 4: 0.97}},
                                   {"label": "inference in dev", "values": {1: 0.938, 2: 0.957}}],
                           live={"dev": 2, "test": 1}, chart_id="m1")
        root = parsed(svg)
        series = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if (g.get("class") or "").startswith("series")]
        assert [len(list(g)) - 1 for g in series] == [4, 2]  # polyline + one marker per value
        assert "live: dev" in texts(root) and "live: test" in texts(root)
        desc = root.find("s:desc", NS).text  # type: ignore[union-attr]
        assert "training: 4 versions, v4 = 0.97" in desc and "v2 live in dev" in desc

    def test_higher_values_are_drawn_higher(self) -> None:
        root = parsed(charts.trend("f1", versions=[1, 2], series=[{"label": "training", "values": {1: 0.5, 2: 0.9}}],
                                   live={}, chart_id="m2"))
        pts = [c for c in root.iter("{http://www.w3.org/2000/svg}circle")]
        assert float(pts[1].get("cy")) < float(pts[0].get("cy"))  # type: ignore[arg-type]

    def test_no_values_says_so(self) -> None:
        root = parsed(charts.trend("f1", versions=[1], series=[], live={}, chart_id="m3"))
        assert "no values" in texts(root)


class TestPairsAndDrift:
    def test_paired_bars_leave_out_rows_without_both_values(self) -> None:
        root = parsed(charts.paired_bars([{"name": "accuracy", "a": 0.96, "b": 0.94}, {"name": "new", "a": 1.0, "b": None}],
                                         a_label="v3", b_label="v2", chart_id="p"))
        assert len(root.findall(".//s:rect", NS)) == 3  # two bars and the change
        assert root.find("s:desc", NS).text == "accuracy: v3 0.96, v2 0.94 (+2.1%)"  # type: ignore[union-attr]
        assert "▲ +2.1%" in texts(root)

    def test_a_drop_is_drawn_left_of_zero_and_says_so(self) -> None:
        root = parsed(charts.paired_bars([{"name": "f1", "a": 0.9, "b": 1.0}, {"name": "auc", "a": 0.99, "b": 0.98}],
                                         a_label="v3", b_label="v2", chart_id="p"))
        down = [r for r in root.findall(".//s:rect", NS) if r.get("class") == "bar-down"]
        up = [r for r in root.findall(".//s:rect", NS) if r.get("class") == "bar-up"]
        assert len(down) == 1 and len(up) == 1
        assert float(down[0].get("x")) + float(down[0].get("width")) == pytest.approx(float(up[0].get("x")))  # type: ignore[arg-type]
        assert "▼ −10%" in texts(root)

    def test_drift_marks_drifted_features_and_draws_the_threshold(self) -> None:
        features = [{"name": "worst radius", "psi": 9.5, "ks_pvalue": 0.0, "drifted": True},
                    {"name": "mean <texture>", "psi": 0.01, "ks_pvalue": 0.6, "drifted": False}]
        root = parsed(charts.drift_scores(features, psi_threshold=0.2, ks_threshold=0.001, chart_id="d", width=560))
        line = root.find("s:line", NS)
        assert line is not None and line.get("class") == "threshold"
        # the axis is capped at 5 × the threshold: the huge PSI is clipped and says so
        assert float(line.get("x1")) == pytest.approx(182 + 0.2 / 1.0 * 230)  # type: ignore[arg-type]
        labels = texts(root)
        assert ["✗", "worst radius", "› 9.5", "✗ ≈ 0"] == labels[2:6]  # the mark, name, clipped PSI, KS p
        assert "mean <texture>" in labels
        assert "1 of 2 features drifted: worst radius" in root.find("s:desc", NS).text  # type: ignore[union-attr]

    def test_distribution_has_two_bars_per_bin(self) -> None:
        bins = [{"label": f"bin {i}", "reference": 0.1, "current": 0.0} for i in range(9)]
        bins.append({"label": "≥ 25.1", "reference": 0.1, "current": 1.0})
        root = parsed(charts.distribution("worst area", bins, chart_id="x"))
        assert len(root.findall(".//s:rect", NS)) == 20
        assert "≥ 25.1 holds 100% of this batch against 10%" in root.find("s:desc", NS).text  # type: ignore[union-attr]
