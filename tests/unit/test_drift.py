"""Drift between a reference profile and a batch profile: PSI, KS, thresholds (seeded data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from signoff.domain.drift import MIN_ROWS, assess, categorical_psi, profile_columns, psi
from signoff.services.drift import ks_pvalue


def table(n: int, seed: int, *, shift: dict[str, float] | None = None, scale: dict[str, float] | None = None,
          colours: tuple[float, float, float] = (0.5, 0.3, 0.2)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cols = {
        "age": rng.normal(40, 10, n),
        "income": rng.lognormal(10, 0.5, n),
        "score": rng.uniform(0, 1, n),
        "visits": rng.poisson(3, n),
        "tenure": rng.exponential(2, n),
        "colour": rng.choice(["red", "green", "blue"], size=n, p=list(colours)),
    }
    for name, delta in (shift or {}).items():
        cols[name] = cols[name] + delta
    for name, factor in (scale or {}).items():
        cols[name] = cols[name] * factor
    return cols


def check(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> list[str]:
    result = assess(profile_columns(reference, seed=1), profile_columns(current, seed=2),
                    psi_threshold=0.2, ks_pvalue=0.01, ks=ks_pvalue)
    return result.drifted


class TestPopulationStabilityIndex:
    def test_is_zero_for_identical_distributions(self) -> None:
        assert psi([0.25] * 4, [0.25] * 4) == pytest.approx(0.0)

    def test_grows_with_the_shift(self) -> None:
        small = psi([0.25] * 4, [0.2, 0.25, 0.25, 0.3])
        large = psi([0.25] * 4, [0.05, 0.15, 0.3, 0.5])
        assert 0 < small < 0.1
        assert large > 0.2

    def test_an_empty_bin_costs_a_finite_amount(self) -> None:
        assert np.isfinite(psi([0.5, 0.5, 0.0], [0.0, 0.5, 0.5]))

    def test_categorical_compares_shares_of_each_category_including_new_ones(self) -> None:
        same = categorical_psi({"counts": {"a": 50, "b": 50}}, {"counts": {"a": 500, "b": 500}})
        new = categorical_psi({"counts": {"a": 50, "b": 50}}, {"counts": {"a": 40, "b": 40, "c": 20}})
        assert same == pytest.approx(0.0)
        assert new is not None and new > 0.2


class TestProfiles:
    def test_are_json_and_deterministic_for_a_seed(self) -> None:
        data = table(3000, seed=0)
        first, second = profile_columns(data, seed=7), profile_columns(data, seed=7)
        assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
        assert first["features"]["age"]["kind"] == "numeric"
        assert first["features"]["colour"]["kind"] == "categorical"
        assert len(first["features"]["age"]["sample"]) == 1000
        assert sum(first["features"]["age"]["proportions"]) == pytest.approx(1.0, abs=1e-4)

    def test_missing_values_are_counted_not_profiled(self) -> None:
        profile = profile_columns({"x": np.array([1.0, np.nan, 3.0, np.inf])})
        assert profile["features"]["x"]["missing"] == 2
        assert profile["features"]["x"]["count"] == 4


class TestDetectingDrift:
    def test_a_sample_from_the_same_distribution_raises_no_alarm(self) -> None:
        assert check(table(5000, seed=10), table(2000, seed=11)) == []

    def test_several_same_distribution_batches_raise_no_alarm(self) -> None:
        reference = table(5000, seed=20)
        for seed in range(21, 26):
            assert check(reference, table(1500, seed=seed)) == [], seed

    def test_shifted_features_are_flagged_and_only_those(self) -> None:
        current = table(2000, seed=31, shift={"age": 6.0}, scale={"tenure": 1.8}, colours=(0.2, 0.3, 0.5))
        assert check(table(5000, seed=30), current) == ["age", "tenure", "colour"]

    def test_each_flag_carries_its_scores_and_reasons(self) -> None:
        result = assess(profile_columns(table(5000, seed=40)), profile_columns(table(2000, seed=41, shift={"age": 6.0})),
                        psi_threshold=0.2, ks_pvalue=0.01, ks=ks_pvalue)
        age = result.to_dict()["features"]["age"]
        assert age["drifted"] and age["psi"] > 0.2 and age["ks_pvalue"] < 0.01 / 5
        assert any(r.startswith("PSI") for r in age["reasons"])
        assert result.ks_threshold == pytest.approx(0.01 / 5)  # five numeric features: Bonferroni

    def test_a_small_mean_shift_is_caught_by_ks_even_below_the_psi_threshold(self) -> None:
        result = assess(profile_columns(table(5000, seed=50)), profile_columns(table(2000, seed=51, shift={"age": 2.5})),
                        psi_threshold=0.2, ks_pvalue=0.01, ks=ks_pvalue)
        age = result.features["age"]
        assert age.drifted and age.psi is not None and age.psi < 0.2
        assert age.reasons[0].startswith("KS p-value")

    def test_without_a_ks_test_only_psi_decides(self) -> None:
        result = assess(profile_columns(table(5000, seed=50)), profile_columns(table(2000, seed=51, shift={"age": 2.5})),
                        psi_threshold=0.2, ks_pvalue=0.01, ks=None)
        assert result.drifted == []

    def test_too_few_rows_are_not_assessed(self) -> None:
        result = assess(profile_columns(table(5000, seed=60)), profile_columns(table(MIN_ROWS - 1, seed=61)),
                        psi_threshold=0.2, ks_pvalue=0.01, ks=ks_pvalue)
        assert result.drifted == [] and result.skipped is not None

    def test_a_feature_that_changed_type_is_drift_and_a_missing_one_is_listed(self) -> None:
        reference = profile_columns(table(3000, seed=70))
        current_cols = table(1000, seed=71)
        current_cols["visits"] = np.array([str(v) for v in current_cols["visits"]])
        del current_cols["score"]
        result = assess(reference, profile_columns(current_cols), psi_threshold=0.2, ks_pvalue=0.01, ks=ks_pvalue)
        assert result.drifted == ["visits"]
        assert result.missing_features == ["score"]
