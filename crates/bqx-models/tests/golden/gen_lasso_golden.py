#!/usr/bin/env python3
"""Independent reference values for bqx_models::lasso.

scikit-learn's `Lasso(alpha, fit_intercept=True, max_iter=100000, tol=1e-12,
selection="cyclic")` on seeded problems: iid, Toeplitz-correlated, factor-correlated with a
constant column and mixed scales, near-collinear, forex-scale targets; per problem several
alphas given as fractions of alpha_max = max|Xc^T yc| / n, one of them above alpha_max.

Writes lasso.json next to this script (inputs included; the inputs are rounded to 8
significant digits *before* fitting, so the JSON holds exactly the data sklearn saw).
Checked by tests/lasso_golden.rs. Seeded: re-running reproduces the file with the same
package versions.

Run (from the repository root), in a throwaway virtualenv:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install numpy scikit-learn
    /tmp/refvenv/bin/python crates/bqx-models/tests/golden/gen_lasso_golden.py

Versions used for the committed lasso.json: Python 3.11, numpy 2.4.6, scipy 1.17.1,
scikit-learn 1.9.1.
"""

import json
import os
import sys
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lasso.json")
MAX_ITER = 100_000
TOL = 1e-12


def r8(a):
    """Round to 8 significant digits (what the JSON stores)."""
    return np.array([float(f"{v:.8g}") for v in np.ravel(a)]).reshape(np.shape(a))


def problem(name, note, x, y, fracs):
    x = r8(x)
    y = r8(y)
    n, p = x.shape
    xc = x - x.mean(axis=0)
    yc = y - y.mean()
    alpha_max = float(np.max(np.abs(xc.T @ yc)) / n)
    fits = []
    for frac in fracs:
        alpha = float(f"{frac * alpha_max:.12g}")
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            m = Lasso(
                alpha=alpha,
                fit_intercept=True,
                max_iter=MAX_ITER,
                tol=TOL,
                selection="cyclic",
            ).fit(x, y)
        fits.append(
            {
                "alpha": alpha,
                "alpha_over_max": frac,
                "coef": [float(v) for v in m.coef_],
                "intercept": float(m.intercept_),
                "n_iter": int(m.n_iter_),
                "dual_gap": float(m.dual_gap_),
                "n_nonzero": int(np.count_nonzero(m.coef_)),
            }
        )
    return {
        "name": name,
        "note": note,
        "rows": n,
        "cols": p,
        "alpha_max": alpha_max,
        "x": [float(v) for v in x.ravel()],  # row-major
        "y": [float(v) for v in y],
        "fits": fits,
    }


def main():
    rng = np.random.default_rng(20240217)
    probs = []

    # 1. Small, independent columns.
    n, p = 200, 5
    x = rng.standard_normal((n, p))
    y = x @ np.array([1.5, -2.0, 0.0, 0.5, 0.0]) + 0.7 + rng.standard_normal(n)
    probs.append(problem("iid_n200_p5", "iid N(0,1) columns", x, y, [1.1, 0.5, 0.1, 0.01, 1e-4]))

    # 2. Toeplitz correlation rho^|i-j|, rho = 0.9; sparse truth.
    n, p = 500, 20
    cov = 0.9 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    x = rng.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
    beta = np.zeros(p)
    beta[[0, 3, 4, 11, 19]] = [2.0, -1.0, 1.0, 0.5, -0.8]
    y = x @ beta + rng.standard_normal(n)
    probs.append(
        problem("toeplitz_rho0.9_n500_p20", "corr 0.9^|i-j|", x, y, [1.5, 0.5, 0.1, 0.01, 0.001])
    )

    # 3. Factor model, mixed scales and offsets, one constant column.
    def factor_design(n, p, k, const_col):
        f = rng.standard_normal((n, k))
        load = rng.standard_normal((k, p))
        x = f @ load + 0.5 * rng.standard_normal((n, p))
        x = x * 10.0 ** rng.uniform(-3, 1, size=p) + rng.uniform(-2, 2, size=p)
        x[:, const_col] = 3.7
        return x

    n, p = 1000, 20
    x = factor_design(n, p, 3, 7)
    xs = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    y = xs[:, 0] - 0.5 * xs[:, 5] + 0.3 * xs[:, 12] + rng.standard_normal(n)
    probs.append(
        problem(
            "factor_const_n1000_p20",
            "3-factor correlated columns, scales 1e-3..10, offsets, column 7 constant",
            x,
            y,
            [2.0, 0.3, 0.05, 0.005],
        )
    )
    n, p = 400, 60
    x = factor_design(n, p, 5, 30)
    xs = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    y = xs[:, :10] @ rng.uniform(-1, 1, 10) + 2.0 * rng.standard_normal(n)
    probs.append(
        problem(
            "factor_const_n400_p60",
            "5-factor correlated columns, scales 1e-3..10, offsets, column 30 constant",
            x,
            y,
            [1.01, 0.5, 0.1, 0.02],
        )
    )

    # 4. Near-collinear pair (corr ~ 0.99).
    n, p = 300, 10
    x = rng.standard_normal((n, p))
    x[:, 1] = x[:, 0] + 0.14 * rng.standard_normal(n)
    y = 1.0 * x[:, 0] + 0.5 * x[:, 1] - 0.4 * x[:, 6] + rng.standard_normal(n)
    probs.append(
        problem("near_collinear_n300_p10", "columns 0 and 1 correlated ~0.99", x, y, [0.3, 0.05, 0.005])
    )

    # 5. Forex scale: returns ~1e-4 target, lagged-return-like features.
    n, p = 600, 12
    x = 1e-4 * rng.standard_t(4, (n, p))
    y = x[:, 2] * 0.3 - x[:, 8] * 0.2 + 1e-4 * rng.standard_t(4, n) + 2e-6
    probs.append(
        problem("forex_scale_n600_p12", "t(4) returns * 1e-4", x, y, [1.2, 0.4, 0.08, 0.01])
    )

    doc = {
        "generator": "gen_lasso_golden.py",
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "max_iter": MAX_ITER,
        "tol": TOL,
        "problems": probs,
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
    for pr in probs:
        print(pr["name"], [(f["alpha_over_max"], f["n_nonzero"], f["n_iter"]) for f in pr["fits"]])


if __name__ == "__main__":
    main()
