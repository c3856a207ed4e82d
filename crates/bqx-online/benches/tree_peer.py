"""Peer for `cargo run --example tree_bench -p bqx-online -- STREAM`: river's
HoeffdingTreeRegressor (mean leaves; grace period 200, delta 1e-7, tau 0.05, as ours) on the same
rows, prequential (predict, then learn).

    python3 -m venv /tmp/rivervenv && /tmp/rivervenv/bin/pip install river numpy
    /tmp/rivervenv/bin/python crates/bqx-online/benches/tree_peer.py /tmp/tree_stream.f64
"""
import sys
import time

import numpy as np
import river
from river import tree

rows = np.fromfile(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tree_stream.f64", dtype="<f8").reshape(-1, 11)
n = len(rows)
xs = [{f"x{j}": float(v) for j, v in enumerate(r[:10])} for r in rows]
ys = rows[:, 10].tolist()
m = tree.HoeffdingTreeRegressor(grace_period=200, delta=1e-7, tau=0.05, leaf_prediction="mean")
err_all = err_last = 0.0
t = time.perf_counter()
for i, (x, y) in enumerate(zip(xs, ys)):
    e = abs(y - m.predict_one(x))
    err_all += e
    if i >= n - 50_000:
        err_last += e
    m.learn_one(x, y)
secs = time.perf_counter() - t
print(
    f"river {river.__version__} HoeffdingTreeRegressor: MAE {err_all / n:.4f} (all), "
    f"{err_last / 50_000:.4f} (last 50,000); {m.n_leaves} leaves; {n / secs:.0f} updates/s"
)
