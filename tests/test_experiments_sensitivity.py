"""Sensitivity pipeline: known Sobol' indices of the Ishigami function through the same code path
as the model (design, seeds, runs, storage, replicate means, noise, SALib analysis), Morris
against SALib, and the table contract on a tiny model study."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from SALib.analyze import morris as salib_morris

from experiments import ISHIGAMI, MODEL, load_experiment, run_sensitivity
from experiments.cli import leading_factors
from experiments.designs import DesignSettings, morris
from experiments.evaluators import Evaluator, ishigami_indices
from experiments.sensitivity import CONVERGENCE_COLUMNS, INDEX_COLUMNS, NOISE_COLUMNS, _flag, _rows, morris_indices

ISHIGAMI_FILE = """
name: ishigami
factors:
  x1: {low: -3.141592653589793, high: 3.141592653589793}
  x2: {low: -3.141592653589793, high: 3.141592653589793}
  x3: {low: -3.141592653589793, high: 3.141592653589793}
design: {type: sobol, n: 512, second_order: true}
replications: 2
outcomes: [y]
"""
FLAGS = {"", "undefined", "incomplete", "negative", "above_one", "noise_level", "above_total", "unstable",
         "not_converged"}


@pytest.fixture(scope="module")
def ishigami_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ishigami") / "ishigami.yaml"
    path.write_text(ISHIGAMI_FILE, encoding="utf-8")
    return path


def check_contract(tables: dict[str, pd.DataFrame]) -> None:
    indices, noise, convergence = (tables[f"sensitivity_{name}"] for name in ("indices", "noise", "convergence"))
    assert list(indices.columns) == INDEX_COLUMNS
    assert list(noise.columns) == NOISE_COLUMNS
    assert list(convergence.columns) == CONVERGENCE_COLUMNS
    assert set(flag for text in indices["flag"] for flag in text.split(",")) <= FLAGS
    assert len(convergence) == len(indices)
    np.testing.assert_allclose(convergence["abs_change"],
                               (convergence["estimate_full"] - convergence["estimate_half"]).abs())


def test_sobol_recovers_the_ishigami_indices(ishigami_file, tmp_path):
    results = run_sensitivity(ishigami_file, out=tmp_path / "out", workers=1, evaluator=ISHIGAMI, progress=False)
    check_contract(results.tables)
    indices = results.tables["sensitivity_indices"].set_index(["index", "factor"])
    for index, exact in ishigami_indices().items():
        for factor, value in exact.items():
            row = indices.loc[(index, factor)]
            assert abs(row["estimate"] - value) < 0.1, (index, factor, row["estimate"], value)
            assert row["low"] - 0.05 < value < row["high"] + 0.05
            assert row["n"] == 512
    exact_s2 = ishigami_indices()["ST"]["x3"]  # x3 acts only with x1: S2(x1, x3) = ST(x3)
    assert abs(indices.loc[("S2", "x1|x3"), "estimate"] - exact_s2) < 0.15
    assert abs(indices.loc[("S2", "x1|x2"), "estimate"]) < 0.15
    share = results.tables["sensitivity_noise"].set_index("outcome").loc["y"]
    assert 0.001 < share["noise_share"] < 0.05 and share["replications"] == 2  # noise var 0.25/2 of ~13.8
    manifest = results.manifest
    assert manifest["kind"] == "sensitivity" and manifest["method"] == "sobol" and manifest["outcomes"] == ["y"]
    assert manifest["factors"][0] == {"name": "x1", "distribution": "uniform", "low": -math.pi, "high": math.pi}
    runs = results.runs()
    assert len(runs) == 512 * 8 * 2 and not runs.duplicated(["point", "replication"]).any()


NOISY_FILE = """
name: noisy_ishigami
factors:
  x1: {low: -3.141592653589793, high: 3.141592653589793}
  x2: {low: -3.141592653589793, high: 3.141592653589793}
  x3: {low: -3.141592653589793, high: 3.141592653589793}
  inert: {low: 0, high: 1}
design: {type: sobol, n: 512, second_order: false}
replications: 2
outcomes: [y]
"""
NOISY_SD = 3.0  # a replicate mean's noise variance 9 / 2 against the function's 13.8: a noise share near 0.25


def noisy_ishigami(spec) -> pd.DataFrame:
    """The Ishigami function with loud replication noise and a fourth input it ignores."""
    values = dict(spec.tags)
    x1, x2, x3 = (float(values[name]) for name in ("x1", "x2", "x3"))
    noise = np.random.default_rng([spec.seed, *np.array([x1, x2, x3, float(values["inert"])]).view(np.uint64)])
    y = math.sin(x1) + 7.0 * math.sin(x2) ** 2 + 0.1 * x3 ** 4 * math.sin(x1) + noise.normal(0.0, NOISY_SD)
    return pd.DataFrame([{"scenario": spec.scenario.name, "seed": spec.seed, "scale": "analytic", **values,
                          "year": 1, "phase": "policy", "y": y}])


NOISY_ISHIGAMI = Evaluator("noisy_ishigami", ("y",), lambda scenario, values, where: (scenario, dict(values)),
                           lambda scenario, name, where: 0.0, noisy_ishigami, False)


def test_sobol_indices_of_a_noisy_model_are_corrected_for_the_noise(tmp_path):
    """Uncorrected, the inert input would show ST near the noise share (0.25) with an interval
    excluding 0, x3's ST would read about 0.47 and x2's S1 about 0.36."""
    path = tmp_path / "noisy.yaml"
    path.write_text(NOISY_FILE, encoding="utf-8")
    results = run_sensitivity(path, out=tmp_path / "out", workers=1, evaluator=NOISY_ISHIGAMI, progress=False)
    check_contract(results.tables)
    indices = results.tables["sensitivity_indices"].set_index(["index", "factor"])
    share = results.tables["sensitivity_noise"].set_index("outcome").loc["y", "noise_share"]
    assert 0.15 < share < 0.35
    inert = indices.loc[("ST", "inert")]
    assert abs(inert["estimate"]) < 0.05 and inert["low"] < 0.02
    assert abs(indices.loc[("S1", "inert"), "estimate"]) < 0.05
    exact = ishigami_indices()
    for index, factor in (("ST", "x1"), ("ST", "x2"), ("ST", "x3"), ("S1", "x1"), ("S1", "x2")):
        assert abs(indices.loc[(index, factor), "estimate"] - exact[index][factor]) < 0.08, (index, factor)


def test_morris_flags_a_factor_whose_effect_is_within_the_noise(tmp_path):
    path = tmp_path / "noisy.yaml"
    path.write_text(NOISY_FILE, encoding="utf-8")
    results = run_sensitivity(path, method="morris", n=40, out=tmp_path / "out", workers=1,
                              evaluator=NOISY_ISHIGAMI, progress=False)
    flags = results.tables["sensitivity_indices"].set_index(["index", "factor"])["flag"]
    assert "noise_level" in flags[("mu_star", "inert")]
    assert "noise_level" not in flags[("mu_star", "x2")]


def test_morris_matches_salib_on_the_replicate_means(ishigami_file, tmp_path):
    """mu* is SALib's; sigma is SALib's with the means' noise variance in an elementary effect,
    2 v / delta^2 (delta = 4 / 6 of the range on a 4-level grid), taken out."""
    results = run_sensitivity(ishigami_file, method="morris", n=10, out=tmp_path / "out", workers=1,
                              evaluator=ISHIGAMI, progress=False)
    check_contract(results.tables)
    experiment = load_experiment(ishigami_file, ISHIGAMI, method="morris", n=10, sensitivity=True)
    by_point = results.runs().groupby("point")["y"]
    means, noise_variance = by_point.mean().to_numpy(), (by_point.var() / by_point.count()).mean()
    expected = salib_morris.analyze({"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3},
                                    experiment.points, means, num_levels=4, seed=1)
    indices = results.tables["sensitivity_indices"].set_index(["index", "factor"])["estimate"]
    np.testing.assert_allclose(indices["mu_star"].to_numpy(), expected["mu_star"], rtol=1e-9)
    sigma = np.sqrt(np.maximum(expected["sigma"] ** 2 - 2 * noise_variance / (4 / 6) ** 2, 0))
    np.testing.assert_allclose(indices["sigma"].to_numpy(), sigma, rtol=1e-9)
    assert results.manifest["method"] == "morris" and results.manifest["design"]["n"] == 10


def test_morris_of_a_linear_function_is_exact():
    """mu* = slope x range and sigma = 0, with tight intervals and no flags."""
    problem = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [0.0, 2.0]]}
    settings = DesignSettings("morris", n=6, seed=3)
    points = morris(problem, settings)
    rows = morris_indices(problem, points, (3 * points[:, 0] - points[:, 1])[:, None], settings, seed=1)
    found = {(row["index"], row["factor"]): row for row in rows}
    for factor, expected in (("a", 3.0), ("b", 2.0)):
        assert found["mu_star", factor]["estimate"] == pytest.approx(expected)
        assert found["sigma", factor]["estimate"] == pytest.approx(0.0, abs=1e-9)
        assert found["mu_star", factor]["low"] == pytest.approx(expected)
        assert found["mu_star", factor]["flag"] == ""


def test_model_morris_study_writes_the_table_contract(tmp_path):
    results = run_sensitivity("morris_screening", factors=["merge_rate", "remote_share", "behaviour.detection_base"],
                              n=4, replications=2, scale="county", years=1, workers=2,
                              out=tmp_path / "out", progress=False)
    check_contract(results.tables)
    indices = results.tables["sensitivity_indices"]
    experiment = load_experiment("morris_screening", MODEL, sensitivity=True)
    assert set(indices["outcome"]) == set(experiment.outcomes) and set(indices["index"]) == {"mu_star", "sigma"}
    assert set(indices["factor"]) == {"merge_rate", "remote_share", "behaviour.detection_base"}
    assert indices["n"].le(4).all() and indices["method"].eq("morris").all()
    assert indices["n"].dtype == np.int64 and results.tables["sensitivity_noise"]["replications"].eq(2).all()
    for name, table in results.tables.items():
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "tables" / f"{name}.parquet"), table)
    detection = next(f for f in results.manifest["factors"] if f["name"] == "behaviour.detection_base")
    assert detection["relative"] == 0.3 and detection["low"] < detection["high"]


def test_flags_name_weak_estimates():
    assert _flag(-0.1, -0.15, -0.05, -0.1, 1.0, True, False) == "negative"
    assert _flag(-0.03, -0.08, 0.02, -0.02, 1.0, True, False) == ""  # an index near 0 whose interval spans it
    assert _flag(1.37, 1.3, 1.44, 1.35, 1.0, True, False) == "above_one"
    assert _flag(0.98, 0.9, 1.05, 0.97, 1.0, True, False) == ""
    assert _flag(0.05, 0.03, 0.07, 0.05, 1.0, False, False, noise_floor=0.06) == "noise_level"
    assert _flag(1.37, 1.3, 1.44, 1.35, 1.0, False, False) == ""  # Morris mu* has no upper bound
    assert _flag(0.4, 0.1, 0.7, 0.38, 1.0, True, False) == "unstable"
    assert _flag(0.4, 0.35, 0.45, 0.2, 1.0, True, False) == "not_converged"
    assert _flag(0.4, 0.35, 0.45, 0.38, 1.0, True, True) == "incomplete"
    assert _flag(math.nan, math.nan, math.nan, math.nan, 1.0, True, False) == "undefined"
    assert _flag(0.4, 0.35, 0.45, 0.38, 1.0, True, False) == ""


def test_a_first_order_index_above_its_total_is_flagged():
    rows = _rows("sobol", "S1", ["a", "b"], [0.5, 0.2], [0.45, 0.15], [0.55, 0.25], [0.5, 0.2], 64, 64, scale=1.0,
                 signed=True, above_total=np.array([True, False]))
    assert [row["flag"] for row in rows] == ["above_total", ""]


def test_printed_leading_factors_skip_effects_that_are_only_rounding():
    indices = pd.DataFrame({"outcome": ["a", "a", "a", "b", "b", "c"], "factor": ["x", "y", "z", "x", "y", "x"],
                            "index": "ST", "estimate": [0.5, 1e-31, 0.2, 1e-31, 0.0, float("nan")], "flag": ""})
    noise = pd.DataFrame({"outcome": ["a", "b", "c"], "noise_share": [0.1, float("nan"), 1.0]})
    lines = leading_factors(indices, noise).splitlines()
    assert lines[:2] == ["a (noise 10%, ST): x 0.5; z 0.2", "b (noise n/a): no factor moves it"]
    assert lines[2].startswith("c (noise 100%): no index") and "replication noise" in lines[2]
