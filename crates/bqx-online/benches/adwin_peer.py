"""Peer for `cargo run --example adwin_bench -p bqx-online -- STREAM`: river's ADWIN
(defaults: delta 0.002, clock 32) timed on the same stream the example wrote.

    python3 -m venv /tmp/rivervenv && /tmp/rivervenv/bin/pip install river numpy
    /tmp/rivervenv/bin/python crates/bqx-online/benches/adwin_peer.py /tmp/adwin_stream.f64
"""
import sys
import time

import numpy as np
import river
from river import drift

xs = np.fromfile(sys.argv[1] if len(sys.argv) > 1 else "/tmp/adwin_stream.f64", dtype="<f8").tolist()
best = float("inf")
for _ in range(3):
    a = drift.ADWIN()
    det = []
    t = time.perf_counter()
    for i, x in enumerate(xs):
        a.update(x)
        if a.drift_detected:
            det.append(i)
    best = min(best, time.perf_counter() - t)
print(f"river {river.__version__}: ADWIN update {best / len(xs) * 1e9:.1f} ns (best of 3, Python loop included)")
print(f"detections: {det}")
