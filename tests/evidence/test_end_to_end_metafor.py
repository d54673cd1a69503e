"""End to end against R: the shipped trials, through evidence.analyse, pooled as metafor pools them.

``tests/stats/reference/export_shipped.py`` wrote each outcome's analysis-ready effects to
``tests/stats/reference/inputs/``; ``make_reference.R`` pooled them with metafor under every estimator, with
and without Knapp-Hartung. Here the store must still give exactly those effects (a data change that moves
them fails until R is re-run), and ``evidence.analyse`` on the store must give metafor's answer.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from evidence import FilterSpec, analyse, effects

REFERENCE = Path(__file__).resolve().parents[1] / "stats" / "reference"
_spec = importlib.util.spec_from_file_location("export_shipped", REFERENCE / "export_shipped.py")
export_shipped = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(export_shipped)

METHODS = ("FE", "DL", "REML", "PM", "ML", "HE", "SJ")
ITERATIVE = ("REML", "ML", "PM")


@lru_cache(maxsize=1)
def metafor_records() -> dict[str, dict]:
    with open(REFERENCE / "metafor_reference.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return {r["id"]: r["value"] for r in data["records"] if r["id"].split("|")[1].startswith("input:shipped_")}


def _close(ours: float, theirs: float, rel: float, floor: float = 1e-9) -> bool:
    if theirs is None:
        return math.isnan(ours)
    return math.isclose(ours, theirs, rel_tol=rel, abs_tol=floor)


@pytest.mark.parametrize("outcome", list(export_shipped.OUTCOMES))
def test_store_still_gives_the_effects_metafor_pooled(outcome):
    with open(export_shipped.input_path(outcome), newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    eff = effects(FilterSpec(outcome=outcome))
    assert list(eff["study_id"]) == [r["study_id"] for r in rows], \
        "the shipped data changed: re-run export_shipped.py and make_reference.R"
    np.testing.assert_allclose(eff["yi"].to_numpy(float), [float(r["yi"]) for r in rows], rtol=1e-12)
    np.testing.assert_allclose(eff["vi"].to_numpy(float), [float(r["vi"]) for r in rows], rtol=1e-12)


@pytest.mark.parametrize("hk", [False, True], ids=["z", "knha"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("outcome", list(export_shipped.OUTCOMES))
def test_analyse_on_the_store_gives_metafors_pooled_result(outcome, method, hk):
    name = f"input:{export_shipped.input_path(outcome).stem}"
    ref = metafor_records()[f"pool|{name}|{method}|{'knha' if hk else 'z'}"]
    pooled = analyse(FilterSpec(outcome=outcome), method=method, hartung_knapp=hk).pooled
    rel = 1e-5 if method in ITERATIVE else 1e-6
    assert pooled.k == ref["k"]
    for ours, field in ((pooled.estimate, "estimate"), (pooled.se, "se"), (pooled.ci_low, "ci_low"),
                        (pooled.ci_high, "ci_high"), (pooled.p_value, "p_value"), (pooled.q, "q"),
                        (pooled.tau2, "tau2")):
        assert _close(ours, ref[field], rel), (field, ours, ref[field])
    assert _close(pooled.i2, ref["i2"], rel, floor=1e-6)
    if "tau2_ci" in ref:  # metafor gives no Q-profile interval for the fixed-effect model
        assert _close(pooled.tau2_ci[0], ref["tau2_ci"][0], 1e-5) and _close(pooled.tau2_ci[1], ref["tau2_ci"][1], 1e-5)
    assert _close(pooled.pi_low, ref["pi"][0], rel) and _close(pooled.pi_high, ref["pi"][1], rel)
