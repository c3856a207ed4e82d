#!/usr/bin/env python3
"""Independent golden values for bqx-eval (tests/golden.rs).

Plain loops, numpy and scipy, written from the definitions in spec/evaluation.md and
spec/features.md, not from the Rust code. Regenerate with:

    pip install numpy scipy
    python3 crates/bqx-eval/tests/golden/gen_golden.py > crates/bqx-eval/tests/golden/golden.json

The output is deterministic (fixed seed, fixed float formatting by json.dumps).
"""

import json
import math

import numpy as np
from scipy import stats

rng = np.random.default_rng(20240601)

# --- closes: a random walk around 1.1 (EURUSD-like) ---------------------------------------
n_close = 400
closes = 1.1 * np.exp(np.cumsum(rng.normal(0.0, 0.0015, n_close)))
closes = [float(round(c, 6)) for c in closes]

W, H = 20, 7


def bqx_return(r, w, t):
    if t < w:
        return math.nan
    return sum((r[t - i] - r[t]) / r[t] for i in range(1, w + 1))


bqx_target = []
for t in range(n_close):
    bqx_target.append(bqx_return(closes, W, t + H) if t + H < n_close else math.nan)

future_vol = []
for t in range(n_close):
    if t + H >= n_close:
        future_vol.append(math.nan)
        continue
    lr = [math.log(closes[j] / closes[j - 1]) for j in range(t + 1, t + H + 1)]
    future_vol.append(float(np.std(lr, ddof=1)))

future_log_return = [
    math.log(closes[t + H] / closes[t]) if t + H < n_close else math.nan for t in range(n_close)
]
finite_flr = [x for x in future_log_return if not math.isnan(x)]
regime_cuts = [float(np.quantile(finite_flr, q)) for q in (0.10, 0.30, 0.70, 0.90)]

# --- regression / direction metrics ---------------------------------------------------------
n = 250
actual = rng.normal(0.0, 1.0, n)
predicted = 0.4 * actual + rng.normal(0.0, 0.9, n)
# ties for the rank correlation, exact zeros for the direction rule, NaN rows to skip
predicted = np.round(predicted, 1)
actual = np.round(actual, 2)
actual[[3, 50, 90]] = 0.0
predicted[[10, 11]] = 0.0
predicted[[5, 77]] = np.nan
actual[[8, 120]] = np.nan
train_mean = 0.15

ok = ~(np.isnan(predicted) | np.isnan(actual))
p, y = predicted[ok], actual[ok]
sse = float(np.sum((p - y) ** 2))
regression = {
    "n": int(ok.sum()),
    "r2_vs_zero": 1.0 - sse / float(np.sum(y ** 2)),
    "r2_vs_train_mean": 1.0 - sse / float(np.sum((y - train_mean) ** 2)),
    "mae": float(np.mean(np.abs(p - y))),
    "rmse": math.sqrt(sse / len(y)),
    "ic": float(stats.spearmanr(p, y).statistic),
    "std_ratio": float(np.std(p, ddof=1) / np.std(y, ddof=1)),
    "mean_error": float(np.mean(p - y)),
}

nz = y != 0.0
hits = int(np.sum(((p > 0) & (y > 0)) | ((p < 0) & (y < 0))))  # y = 0 never hits
dn = int(nz.sum())
z = stats.norm.ppf(0.975)
phat = hits / dn
den = 1 + z * z / dn
center = (phat + z * z / (2 * dn)) / den
half = z * math.sqrt(phat * (1 - phat) / dn + z * z / (4 * dn * dn)) / den
direction = {"n": dn, "hits": hits, "accuracy": phat, "wilson_lo": center - half,
             "wilson_hi": center + half}

# --- trading metrics on a fixed P&L vector --------------------------------------------------
m = 300
pnl = rng.standard_t(4, m) * 0.004 + 0.0004
exposure = (rng.random(m) < 0.8).astype(float)
pnl = pnl * exposure  # flat decisions earn nothing
years = 2.5
per_year = m / years
mean = float(np.mean(pnl))
sd = float(np.std(pnl, ddof=1))
downside = math.sqrt(float(np.mean(np.minimum(pnl, 0.0) ** 2)))
cum = np.cumsum(pnl)
peak = np.maximum.accumulate(np.concatenate([[0.0], cum]))[1:]
mdd = float(np.max(peak - cum))
active = exposure > 0
sr = mean / sd
skew = float(stats.skew(pnl))
kurt = float(stats.kurtosis(pnl, fisher=False))


def psr(sr_hat, sr_star, t, g3, g4):
    return float(stats.norm.cdf((sr_hat - sr_star) * math.sqrt(t - 1)
                                / math.sqrt(1 - g3 * sr_hat + (g4 - 1) / 4 * sr_hat ** 2)))


n_trials, trials_var = 50, 0.004
gamma = 0.5772156649015329
sr0 = math.sqrt(trials_var) * ((1 - gamma) * stats.norm.ppf(1 - 1 / n_trials)
                                + gamma * stats.norm.ppf(1 - 1 / (n_trials * math.e)))
trading = {
    "mean_return": mean,
    "total_return": float(np.sum(pnl)),
    "sharpe": sr * math.sqrt(per_year),
    "sharpe_per_decision": sr,
    "sortino": mean / downside * math.sqrt(per_year),
    "max_drawdown": mdd,
    "calmar": mean * per_year / mdd,
    "hit_rate": float(np.mean(pnl[active] > 0)),
    "profit_factor": float(np.sum(pnl[pnl > 0]) / -np.sum(pnl[pnl < 0])),
    "skewness": skew,
    "kurtosis": kurt,
    "psr": psr(sr, 0.0, m, skew, kurt),
    "expected_max_sharpe": float(sr0),
    "dsr": psr(sr, sr0, m, skew, kurt),
}

# --- trading simulation on the closes ------------------------------------------------------
sim_pred = [float(x) for x in np.round(rng.normal(0.0, 1.0, n_close), 3)]
sim_pred[40] = math.nan
h, spread_pips, pip, thr_q = 5, 1.5, 0.0001, 0.5
train_abs = sorted(abs(x) for x in sim_pred[:100] if not math.isnan(x))
threshold = float(np.quantile(train_abs, thr_q))
a, b = 100, 300  # test block
rows, positions, pnls = [], [], []
prev = 0
t = a
limit = min(b, n_close - 1)
while t + h <= limit:
    pr = sim_pred[t]
    pos = 0
    if not math.isnan(pr) and pr > threshold:
        pos = -1  # positive BQX = price predicted to fall = short
    elif not math.isnan(pr) and pr < -threshold:
        pos = 1
    gross = pos * math.log(closes[t + h] / closes[t])
    cost = abs(pos - prev) * 0.5 * spread_pips * pip / closes[t]
    if t + 2 * h > limit:
        cost += abs(pos) * 0.5 * spread_pips * pip / closes[t + h]
    rows.append(t)
    positions.append(pos)
    pnls.append(gross - cost)
    prev = pos
    t += h

simulation = {"h": h, "spread_pips": spread_pips, "pip": pip, "threshold_quantile": thr_q,
              "threshold": threshold, "train_end": 100, "test_start": a, "test_end": b,
              "pred": sim_pred, "rows": rows, "positions": positions, "pnl": pnls}

out = {
    "closes": closes, "window": W, "horizon": H,
    "bqx_target": bqx_target, "future_vol": future_vol, "future_log_return": future_log_return,
    "regime_cuts": regime_cuts,
    "predicted": [float(x) for x in predicted], "actual": [float(x) for x in actual],
    "train_mean": train_mean, "regression": regression, "direction": direction,
    "pnl": [float(x) for x in pnl], "exposure": [float(x) for x in exposure], "years": years,
    "trials": {"count": n_trials, "sharpe_variance": trials_var}, "trading": trading,
    "simulation": simulation,
}


def clean(o):
    if isinstance(o, float) and math.isnan(o):
        return None
    if isinstance(o, list):
        return [clean(x) for x in o]
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    return o


print(json.dumps(clean(out), indent=1, sort_keys=True))
