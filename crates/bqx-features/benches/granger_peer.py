#!/usr/bin/env python3
"""Peer benchmark: statsmodels Granger tests, 27 leaders -> 1 follower, orders 1..15.

Times `statsmodels.tsa.stattools.grangercausalitytests(np.column_stack([y, x_i]),
maxlag=15)` for 27 seeded random leader series x_i against one follower y of N rows
(the ssr F-test and the other three tests statsmodels always computes), and prints the
wall-clock seconds. Compared in BENCHMARKS.md with bqx_features' Granger scan over the
same shape.

Usage:

    python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install numpy scipy statsmodels
    /tmp/refvenv/bin/python crates/bqx-features/benches/granger_peer.py [N] [--repeat R]

N defaults to 200000 rows; R (default 1) repeats the whole scan and reports the best time.
`--write FILE` also writes the series (little-endian f64: the follower, then the 27 leaders)
for the Rust side, which prints the same checksum:

    cargo run --release --example granger_scan -p bqx-features -- FILE
Single-threaded as far as statsmodels goes (numpy's BLAS may use threads; set
OPENBLAS_NUM_THREADS=1 for a strictly single-core figure).
"""

import argparse
import inspect
import platform
import time

import numpy as np
import statsmodels
from statsmodels.tsa.stattools import grangercausalitytests

LEADERS = 27
MAX_LAG = 15
SEED = 20240216


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="?", type=int, default=200_000, help="rows per series")
    ap.add_argument("--repeat", type=int, default=1, help="repetitions (best time reported)")
    ap.add_argument("--write", help="write the series here for the Rust side")
    args = ap.parse_args()

    rng = np.random.default_rng(SEED)
    y = rng.standard_normal(args.rows)
    leaders = [rng.standard_normal(args.rows) for _ in range(LEADERS)]
    if args.write:
        np.concatenate([y] + leaders).astype("<f8").tofile(args.write)
    # `verbose` was deprecated in statsmodels 0.14 and removed in 0.15.
    kwargs = {}
    if "verbose" in inspect.signature(grangercausalitytests).parameters:
        kwargs["verbose"] = False

    best = float("inf")
    checksum = 0.0
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        checksum = 0.0
        for x in leaders:
            res = grangercausalitytests(np.column_stack([y, x]), maxlag=MAX_LAG, **kwargs)
            checksum += sum(res[lag][0]["ssr_ftest"][0] for lag in range(1, MAX_LAG + 1))
        best = min(best, time.perf_counter() - t0)

    print(
        f"statsmodels {statsmodels.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}: {LEADERS} leaders -> 1 follower, "
        f"n = {args.rows}, maxlag = {MAX_LAG} ({LEADERS * MAX_LAG} tests)"
    )
    print(f"sum of F (checksum): {checksum:.6f}")
    print(f"seconds: {best:.3f}")


if __name__ == "__main__":
    main()
