#!/usr/bin/env python3
"""Independent reference values for bqx_features::{granger_tests, bh_qvalues, f_sf}.

Computed with statsmodels / scipy (nothing of the Rust code is reused):

* granger: `statsmodels.tsa.stattools.grangercausalitytests(np.column_stack([y, x]), max_lag)`
  and its `ssr_ftest` entry `(F, p, df_denom, df_num)` for every order 1..=max_lag
  (does x Granger-cause y); `n_obs = n - lag`.
* bh: `statsmodels.stats.multitest.multipletests(p, method="fdr_bh")[1]`.
* f_sf: `scipy.stats.f.sf(f, d1, d2)`.

Writes granger.json next to this script (inputs included, so the Rust test
tests/granger_golden.rs needs nothing else). Seeded: re-running reproduces the file
byte for byte with the same package versions.

Run (from the repository root), in a throwaway virtualenv:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install numpy scipy statsmodels
    /tmp/refvenv/bin/python crates/bqx-features/tests/golden/gen_granger_golden.py

Versions used for the committed granger.json: Python 3.11, numpy 2.4.6, scipy 1.17.1,
statsmodels 0.15.0 (pandas 3.1.1).
"""

import json
import os
import sys

import numpy as np
import scipy
import scipy.stats
import statsmodels
from statsmodels.stats.multitest import multipletests
from statsmodels.tsa.stattools import grangercausalitytests

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "granger.json")


def granger_case(name, y, x, max_lag, note):
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    assert y.shape == x.shape and y.ndim == 1
    res = grangercausalitytests(np.column_stack([y, x]), max_lag)
    tests = []
    for lag in range(1, max_lag + 1):
        f, p, df_den, df_num = res[lag][0]["ssr_ftest"]
        assert float(df_den) == int(df_den)
        tests.append(
            {
                "lag": lag,
                "f": float(f),
                "p": float(p),
                "df_num": int(df_num),
                "df_den": int(df_den),
                "n_obs": int(res[lag][1][1].nobs),
            }
        )
        assert tests[-1]["n_obs"] == len(y) - lag
    return {
        "name": name,
        "note": note,
        "max_lag": max_lag,
        "y": [float(v) for v in y],
        "x": [float(v) for v in x],
        "tests": tests,
    }


def lagged(x, k):
    """x shifted k steps later (zeros before the start)."""
    out = np.zeros_like(x)
    out[k:] = x[:-k]
    return out


def granger_cases(rng):
    cases = []

    # 1. Planted lead: y_t = 0.4 x_{t-3} + noise, n = 2000, orders 1..15, and the reverse
    #    direction (nothing planted) on the same pair.
    n = 2000
    x = rng.standard_normal(n)
    y = 0.4 * lagged(x, 3) + rng.standard_normal(n)
    cases.append(granger_case("lead3_n2000", y, x, 15, "y_t = 0.4 x_{t-3} + e_t"))
    cases.append(granger_case("lead3_reverse_n2000", x, y, 15, "reverse of lead3: x on y"))

    # 2. Independent noise, n = 2000, orders 1..15.
    cases.append(
        granger_case(
            "independent_n2000",
            rng.standard_normal(n),
            rng.standard_normal(n),
            15,
            "independent N(0,1)",
        )
    )

    # 3. Heavy tails: Student t(3) returns at a forex scale (1e-4), weak lead at lag 1,
    #    y with its own AR(1) term.
    xt = 1e-4 * rng.standard_t(3, n)
    et = 1e-4 * rng.standard_t(3, n)
    yt = np.zeros(n)
    for t in range(n):
        yt[t] = (0.2 * yt[t - 1] + 0.1 * xt[t - 1] if t > 0 else 0.0) + et[t]
    cases.append(
        granger_case(
            "student_t3_scale1e-4_n2000", yt, xt, 15, "t(3) returns * 1e-4, AR(1) y, weak lag-1 lead"
        )
    )

    # 4. Near the minimum length 3K+2.
    for k in (1, 2, 5):
        m = 3 * k + 2
        cases.append(
            granger_case(
                f"minimum_length_k{k}_n{m}",
                rng.standard_normal(m),
                rng.standard_normal(m),
                k,
                "n = 3*max_lag + 2 (smallest accepted length)",
            )
        )
    cases.append(
        granger_case(
            "short_k15_n60", rng.standard_normal(60), rng.standard_normal(60), 15, "short, max_lag 15"
        )
    )

    # 5. Small max_lag 1..5 on medium series of various shapes.
    n = 500
    # AR(2) follower with a lag-2 lead.
    x = rng.standard_normal(n)
    e = rng.standard_normal(n)
    y = np.zeros(n)
    for t in range(n):
        y[t] = e[t]
        if t >= 1:
            y[t] += 0.5 * y[t - 1]
        if t >= 2:
            y[t] += -0.3 * y[t - 2] + 0.25 * x[t - 2]
    cases.append(granger_case("ar2_lead2_n500_k1", y, x, 1, "AR(2) y, lag-2 lead; order 1 only"))
    cases.append(granger_case("ar2_lead2_n500_k3", y, x, 3, "AR(2) y, lag-2 lead"))
    # Offset series (mean 1.1, sd 1e-3): centring must keep the fit accurate.
    cases.append(
        granger_case(
            "offset_mean1.1_n500_k4",
            1.1 + 1e-3 * rng.standard_normal(n),
            1.1 + 1e-3 * rng.standard_normal(n),
            4,
            "iid, mean 1.1, sd 1e-3",
        )
    )
    # Volatility clustering (GARCH(1,1)-like) returns, follower with a lag-1 lead.
    h = np.empty(n)
    r = np.empty(n)
    h[0], r[0] = 1.0, rng.standard_normal()
    for t in range(1, n):
        h[t] = 0.05 + 0.1 * r[t - 1] ** 2 + 0.85 * h[t - 1]
        r[t] = np.sqrt(h[t]) * rng.standard_normal()
    yg = 0.15 * lagged(r, 1) + rng.standard_normal(n)
    cases.append(granger_case("garch_lead1_n500_k5", yg, r, 5, "GARCH-like x, lag-1 lead"))
    # Random-walk levels (near unit root: ill-conditioned lag regressions).
    cases.append(
        granger_case(
            "random_walk_levels_n500_k2",
            1.1 + np.cumsum(1e-3 * rng.standard_normal(n)),
            1.1 + np.cumsum(1e-3 * rng.standard_normal(n)),
            2,
            "random-walk price levels (unit root), not returns",
        )
    )
    return cases


def bh_cases(rng):
    vectors = {
        "simple": [0.01, 0.04, 0.03, 0.5, 0.9, 0.001],
        "ties": [0.02, 0.02, 0.02, 0.5, 0.5, 0.001, 0.001, 1.0],
        "tiny_and_one": [1e-300, 1e-200, 1e-16, 0.5, 1.0, 1.0, 1e-300],
        "all_one": [1.0, 1.0, 1.0],
        "single": [0.03],
        "monotone_cap": [0.9, 0.95, 0.99, 0.999],
        "uniform_405": list(rng.uniform(size=405)),
        "mixed_810": list(
            np.concatenate([rng.uniform(size=700), 10.0 ** -rng.uniform(2, 12, size=110)])[
                rng.permutation(810)
            ]
        ),
    }
    out = []
    for name, p in vectors.items():
        p = np.asarray(p, dtype=np.float64)
        q = multipletests(p, method="fdr_bh")[1]
        out.append({"name": name, "p": [float(v) for v in p], "q": [float(v) for v in q]})
    return out


def f_sf_cases():
    fs = [0.0, 1e-12, 1e-3, 0.5, 1.0, 2.0, 3.5, 10.0, 100.0, 1e3, 1e6, 1e12]
    dfs = [
        (1, 1),
        (1, 2),
        (2, 1),
        (2, 2),
        (3, 7),
        (0.5, 0.5),
        (2.5, 11.5),
        (1, 30),
        (5, 1983),
        (15, 1969),
        (15, 44),
        (1, 1e6),
        (15, 1e6),
        (1e6, 1),
        (1e6, 1e6),
        (100, 100),
        (1000, 50),
    ]
    out = []
    for d1, d2 in dfs:
        for f in fs:
            p = float(scipy.stats.f.sf(f, d1, d2))
            out.append({"f": f, "d1": float(d1), "d2": float(d2), "p": p})
    # Around the center of wide distributions (p near 1/2) and far tails.
    for d1, d2, f in [
        (1e6, 1e6, 1.001),
        (1e6, 1e6, 0.999),
        (1e6, 1e6, 1.01),
        (15, 1e6, 1.3),
        (1, 1e6, 20.0),
        (15, 1969, 5.0),
        (15, 1969, 20.0),
        (15, 1969, 80.0),
    ]:
        out.append({"f": f, "d1": float(d1), "d2": float(d2), "p": float(scipy.stats.f.sf(f, d1, d2))})
    return out


def main():
    rng = np.random.default_rng(20240216)
    doc = {
        "generator": "gen_granger_golden.py",
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
        },
        "granger": granger_cases(rng),
        "bh": bh_cases(rng),
        "f_sf": f_sf_cases(),
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
