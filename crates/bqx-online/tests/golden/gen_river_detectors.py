"""Reference detections of river's ADWIN and Page-Hinkley on fixed streams.

Run from a throwaway virtualenv (river is never a dependency of the product):

    python3 -m venv /tmp/rivervenv && /tmp/rivervenv/bin/pip install river numpy
    /tmp/rivervenv/bin/python crates/bqx-online/tests/golden/gen_river_detectors.py

Writes river_detectors.json beside this script: each stream's values (rounded to 6 decimals so
that the decimal text parses to the same double in Rust and Python), the indices at which
ADWIN (delta 0.002 and 0.01, river's other defaults) and PageHinkley (river's defaults) report a
drift, and ADWIN's final window width.
"""
import json
import os

import numpy as np
import river
from river import drift


def streams():
    rng = np.random.default_rng(20261207)
    yield "null_gaussian", rng.normal(0.0, 1.0, 6000)
    yield "mean_shift", np.concatenate([rng.normal(0.0, 1.0, 2000), rng.normal(0.8, 1.0, 2000)])
    yield "abs_error_scale", np.abs(
        np.concatenate([rng.normal(0.0, 1.0, 3000), rng.normal(0.0, 2.0, 3000)])
    )
    yield "bernoulli", np.concatenate(
        [rng.integers(0, 2, 1500), rng.integers(4, 8, 1500)]
    ).astype(float)
    yield "slow_drift", rng.normal(0.0, 1.0, 8000) + np.linspace(0.0, 3.0, 8000)


def detections(det, xs):
    out = []
    for i, x in enumerate(xs):
        det.update(x)
        if det.drift_detected:
            out.append(i)
    return out


cases = []
for name, xs in streams():
    xs = [round(float(v), 6) for v in xs]
    a2 = drift.ADWIN(delta=0.002)
    a2_det = detections(a2, xs)
    cases.append(
        {
            "name": name,
            "values": xs,
            "adwin_0_002": a2_det,
            "adwin_0_002_final_width": int(a2.width),
            "adwin_0_01": detections(drift.ADWIN(delta=0.01), xs),
            "page_hinkley": detections(drift.PageHinkley(), xs),
        }
    )

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "river_detectors.json")
with open(path, "w") as f:
    json.dump({"river": river.__version__, "cases": cases}, f)
for c in cases:
    print(c["name"], len(c["adwin_0_002"]), len(c["adwin_0_01"]), len(c["page_hinkley"]))
