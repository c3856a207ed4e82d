#!/usr/bin/env python3
"""Golden values for bqx-features, computed directly from the definitions in
spec/features.md -- plain per-row loops, np.polyfit for REG, np.cov for covariances --
independently of the Rust running-sum code.

Writes tests/golden/{synthetic,ecb_eurusd}.json (the standard per-pair set):
  {"name", "closes": [...], "rows": [row indices], "features": {name: [value at each row | null]}}
tests/golden/microstructure.json (spread/volume features on a synthetic series with spread and
tick volume, including unknown values and constant stretches), and
tests/golden/{panel_synthetic,panel_ecb}.json (cross-sectional features on a 28-pair panel):
  {"name", "ts", "closes": {pair: [close | null]}, "fit_range": [start, end],
   "usd_params": {...}, "rows": [...], "features": {pair: {name: [value | null]}}}
Values are rounded to 12 significant digits (the Rust test's tolerances are far looser).

Run:  python3 crates/bqx-features/tests/golden/gen_golden.py   (needs numpy, pandas)
"""
import io
import json
import math
import os
import zipfile

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ECB_ZIP = os.path.join(HERE, "..", "..", "..", "..", "data", "ecb", "eurofxref-hist.zip")

BQX_WINDOWS = [15, 30, 45, 60, 75]
REG_WINDOWS = [60, 90, 150, 240, 390, 630]
MOM_WINDOWS = [20, 50, 120]
METRICS = ["quad_term", "lin_term", "const_term", "prediction", "residual", "r2", "rmse"]
TERMS = ["quad", "lin", "const", "residual"]
PAIRS = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
NAN = float("nan")


def bqx_features(r):
    n = len(r)
    f = {}
    for w in BQX_WINDOWS:
        cols = {k: np.full(n, NAN) for k in ["return", "endpoint", "max", "min", "avg", "stdev"]}
        for t in range(w, n):
            win = r[t - w:t]  # rows t-W .. t-1
            rt = r[t]
            cols["return"][t] = sum((r[t - i] - rt) / rt for i in range(1, w + 1))
            cols["endpoint"][t] = (r[t - w] - rt) / rt
            cols["max"][t] = (win.max() - rt) / rt
            cols["min"][t] = (win.min() - rt) / rt
            cols["avg"][t] = (win.mean() - rt) / rt
            cols["stdev"][t] = win.std(ddof=1) / rt
        for k, v in cols.items():
            f[f"bqx_{k}_{w}"] = v
    w = 75
    f["bqx_agg_return"] = f["bqx_return_75"].copy()
    f["bqx_agg_max"] = f["bqx_max_75"].copy()
    f["bqx_agg_min"] = f["bqx_min_75"].copy()
    f["bqx_agg_avg"] = f["bqx_avg_75"].copy()
    f["bqx_agg_stdev"] = f["bqx_stdev_75"].copy()
    rng_ = np.full(n, NAN)
    vol = np.full(n, NAN)
    for t in range(w, n):
        win = r[t - w:t]
        rng_[t] = (win.max() - win.min()) / r[t]
        vol[t] = win.std(ddof=1) / win.mean()
    f["bqx_agg_range"] = rng_
    f["bqx_agg_volatility"] = vol
    return f


def bqx15(r):
    n = len(r)
    out = np.full(n, NAN)
    for t in range(15, n):
        out[t] = sum((r[t - i] - r[t]) / r[t] for i in range(1, 16))
    return out


def quad_fit(y):
    w = len(y)
    x = np.arange(w, dtype=float)
    a2, a1, a0 = np.polyfit(x, y, 2)
    xe = w - 1.0
    quad, lin, const = a2 * xe * xe, a1 * xe, a0
    pred = quad + lin + const
    fitted = a2 * x * x + a1 * x + a0
    ss_res = float(np.sum((y - fitted) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 0.0 if ss_tot == 0.0 else 1.0 - ss_res / ss_tot
    return [quad, lin, const, pred, y[-1] - pred, r2, math.sqrt(ss_res / w)]


def reg_features(r, b15):
    n = len(r)
    f = {}
    idx = 100.0 * r / r[0]
    for w in REG_WINDOWS:
        rate = np.full((n, 7), NAN)
        bq = np.full((n, 7), NAN)
        for t in range(w, n):
            rate[t] = quad_fit(idx[t - w:t])  # rows t-W .. t-1
        for t in range(w + 14, n):
            bq[t] = quad_fit(b15[t - w + 1:t + 1])  # rows t-W+1 .. t
        for j, m in enumerate(METRICS):
            f[f"reg_rate_{m}_{w}"] = rate[:, j]
            f[f"reg_bqx_{m}_{w}"] = bq[:, j]
        terms = bq[:, [0, 1, 2, 4]]
        for (i, j) in PAIRS:
            c = np.full(n, NAN)
            for t in range(2 * w + 13, n):
                win = terms[t - w + 1:t + 1]
                c[t] = np.cov(win[:, i], win[:, j], ddof=1)[0, 1]
            f[f"reg_bqx_cov_{TERMS[i]}_{TERMS[j]}_{w}"] = c
    return f


def moments(v, first, dom):
    n = len(v)
    f = {}
    for w in MOM_WINDOWS:
        cols = {k: np.full(n, NAN) for k in ["mean", "std", "skew", "kurt", "min", "max", "range", "zscore"]}
        for t in range(first + w - 1, n):
            x = v[t - w + 1:t + 1]
            mu = x.mean()
            d = x - mu
            m2, m3, m4 = (d ** 2).mean(), (d ** 3).mean(), (d ** 4).mean()
            cols["mean"][t] = mu
            cols["min"][t] = x.min()
            cols["max"][t] = x.max()
            cols["range"][t] = x.max() - x.min()
            if m2 == 0.0:
                cols["std"][t] = cols["skew"][t] = cols["kurt"][t] = cols["zscore"][t] = 0.0
            else:
                sd = x.std(ddof=1)
                cols["std"][t] = sd
                cols["skew"][t] = math.sqrt(w * (w - 1)) / (w - 2) * m3 / m2 ** 1.5
                cols["kurt"][t] = (w - 1) / ((w - 2) * (w - 3)) * ((w + 1) * (m4 / m2 ** 2 - 3) + 6)
                cols["zscore"][t] = (x[-1] - mu) / sd
        for k, c in cols.items():
            f[f"mom_{dom}_{k}_{w}"] = c
    return f


BOLL_WINDOWS = [20, 50]
LAGS = [1, 2, 3, 5, 10, 15, 30, 45, 60]
MA_PERIODS = [5, 10, 20, 50, 100, 200]


def rel(dom, x, v):
    # rate domain: relative to the current value; bqx domain: plain difference.
    return (x - v) / v if dom == "rate" else x - v


def bollinger(x, first, dom):
    n = len(x)
    f = {}
    for w in BOLL_WINDOWS:
        cols = {k: np.full(n, NAN) for k in ["upper", "middle", "lower", "bandwidth", "pctb"]}
        for t in range(first + w - 1, n):
            win = x[t - w + 1:t + 1]
            m, sd, v = win.mean(), win.std(ddof=1), x[t]
            up, lo = m + 2 * sd, m - 2 * sd
            cols["upper"][t] = rel(dom, up, v)
            cols["middle"][t] = rel(dom, m, v)
            cols["lower"][t] = rel(dom, lo, v)
            cols["bandwidth"][t] = 4 * sd / m if dom == "rate" else 4 * sd
            cols["pctb"][t] = 0.5 if sd == 0 else (v - lo) / (up - lo)
        for k, c in cols.items():
            f[f"boll_{dom}_{k}_{w}"] = c
    return f


def lags(series):
    f = {}
    for name, x in series:
        for k in LAGS:
            c = np.full(len(x), NAN)
            c[k:] = x[:-k]
            f[f"lag_{name}_{k}"] = c
    return f


def moving_averages(x, first, dom):
    n = len(x)
    f = {}
    for p in MA_PERIODS:
        sma = np.full(n, NAN)
        ema = np.full(n, NAN)
        alpha = 2.0 / (p + 1)
        e = None
        for t in range(first + p - 1, n):
            sma[t] = rel(dom, x[t - p + 1:t + 1].mean(), x[t])
            if e is None:
                e = x[t - p + 1:t + 1].mean()  # seeded with the SMA of the first p values
            else:
                e = e + alpha * (x[t] - e)
            ema[t] = rel(dom, e, x[t])
        f[f"sma_{dom}_{p}"] = sma
        f[f"ema_{dom}_{p}"] = ema
    return f


class Seeded:
    """Mean of the first n inputs, then EMA (alpha = 2/(n+1)) or Wilder ((a*(n-1) + x)/n)."""

    def __init__(self, n, wilder):
        self.n, self.wilder, self.seen, self.value = n, wilder, [], NAN

    def push(self, x):
        if len(self.seen) < self.n:
            self.seen.append(x)
            if len(self.seen) == self.n:
                self.value = float(np.mean(self.seen))
        elif self.wilder:
            self.value = (self.value * (self.n - 1) + x) / self.n
        else:
            self.value = self.value + 2.0 / (self.n + 1) * (x - self.value)
        return self.value


TA = ["rsi_14", "rsi_21", "macd_line", "macd_signal", "macd_hist", "stoch_k_14", "stoch_d_3",
      "cci_20", "willr_14", "roc_12", "adx_14", "plus_di_14", "minus_di_14", "atr_14", "atr_pct_14"]


def technical(x, hi, lo, first, dom):
    n = len(x)
    rate = dom == "rate"
    cols = {k: np.full(n, NAN) for k in TA}
    rsi_s = {p: (Seeded(p, True), Seeded(p, True)) for p in (14, 21)}
    e12, e26, sig = Seeded(12, False), Seeded(26, False), Seeded(9, False)
    atr, s_tr, s_p, s_m, adx = (Seeded(14, True) for _ in range(5))
    ks = []
    for t in range(first, n):
        k = t - first
        c, h, l = x[t], hi[t], lo[t]
        if k >= 1:
            d = c - x[t - 1]
            for p in (14, 21):
                ag = rsi_s[p][0].push(max(d, 0.0))
                al = rsi_s[p][1].push(max(-d, 0.0))
                if not math.isnan(al):
                    cols[f"rsi_{p}"][t] = 100 - 100 / (1 + ag / al) if al > 0 else (100.0 if ag > 0 else 50.0)
        a, b = e12.push(c), e26.push(c)
        scale = c if rate else 1.0
        if not math.isnan(b):
            line = a - b
            s = sig.push(line)
            cols["macd_line"][t] = line / scale
            cols["macd_signal"][t] = s / scale
            cols["macd_hist"][t] = (line - s) / scale
        if k >= 13:
            hh, ll = max(hi[t - 13:t + 1]), min(lo[t - 13:t + 1])
            span = hh - ll
            sk = 100 * (c - ll) / span if span > 0 else 50.0
            cols["stoch_k_14"][t] = sk
            cols["willr_14"][t] = -100 * (hh - c) / span if span > 0 else -50.0
            ks.append(sk)
            if len(ks) >= 3:
                cols["stoch_d_3"][t] = sum(ks[-3:]) / 3
        if k >= 19:
            tp = [(hi[i] + lo[i] + x[i]) / 3 for i in range(t - 19, t + 1)]
            m = sum(tp) / 20
            md = sum(abs(v - m) for v in tp) / 20
            cols["cci_20"][t] = (tp[-1] - m) / (0.015 * md) if md > 0 else 0.0
        if k >= 12:
            cols["roc_12"][t] = 100 * (c / x[t - 12] - 1) if rate else c - x[t - 12]
        if k >= 1:
            pc, ph, pl = x[t - 1], hi[t - 1], lo[t - 1]
            tr = max(h - l, abs(h - pc), abs(l - pc))
            up, down = h - ph, pl - l
            pdm = up if (up > down and up > 0) else 0.0
            mdm = down if (down > up and down > 0) else 0.0
            av = atr.push(tr)
            cols["atr_14"][t] = av
            cols["atr_pct_14"][t] = 100 * av / c
            st, sp, sm = s_tr.push(tr), s_p.push(pdm), s_m.push(mdm)
            if not math.isnan(st):
                pdi, mdi = (100 * sp / st, 100 * sm / st) if st > 0 else (0.0, 0.0)
                cols["plus_di_14"][t] = pdi
                cols["minus_di_14"][t] = mdi
                dx = 100 * abs(pdi - mdi) / (pdi + mdi) if pdi + mdi > 0 else 0.0
                cols["adx_14"][t] = adx.push(dx)
    names = TA if rate else TA[:-1]
    return {f"ta_{dom}_{k}": cols[k] for k in names}


VOL_WINDOWS = [20, 60]


def volatility(o, h, l, c):
    n = len(c)
    f = {}
    ln2 = math.log(2)
    for w in VOL_WINDOWS:
        cols = {k: np.full(n, NAN) for k in
                ["close_to_close", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang"]}
        for t in range(w - 1, n):
            rows = range(t - w + 1, t + 1)
            hl2 = [math.log(h[i] / l[i]) ** 2 for i in rows]
            co = [math.log(c[i] / o[i]) for i in rows]
            gk = [0.5 * a - (2 * ln2 - 1) * b * b for a, b in zip(hl2, co)]
            rs = [math.log(h[i] / c[i]) * math.log(h[i] / o[i]) + math.log(l[i] / c[i]) * math.log(l[i] / o[i])
                  for i in rows]
            cols["parkinson"][t] = math.sqrt(max(np.mean(hl2), 0.0) / (4 * ln2))
            cols["garman_klass"][t] = math.sqrt(max(np.mean(gk), 0.0))
            cols["rogers_satchell"][t] = math.sqrt(max(np.mean(rs), 0.0))
            if t >= w:
                cc = [math.log(c[i] / c[i - 1]) for i in rows]
                ov = [math.log(o[i] / c[i - 1]) for i in rows]
                k = 0.34 / (1.34 + (w + 1) / (w - 1))
                cols["close_to_close"][t] = np.std(cc, ddof=1)
                cols["yang_zhang"][t] = math.sqrt(np.var(ov, ddof=1) + k * np.var(co, ddof=1)
                                                  + (1 - k) * max(np.mean(rs), 0.0))
        for k, v in cols.items():
            f[f"vol_{k}_{w}"] = v
    return f


def calendar(ts_us):
    import datetime as dt
    f = {k: [] for k in ["hour_sin", "hour_cos", "weekday_sin", "weekday_cos", "month_sin", "month_cos",
                         "session_asia", "session_europe", "session_us", "overlap_asia_europe",
                         "overlap_europe_us", "minutes_since_session_open", "hours_to_friday_close",
                         "days_to_month_end"]}
    import calendar as cal
    for us in ts_us:
        t = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=int(us))
        h = t.hour + t.minute / 60 + t.second / 3600
        wd = t.weekday()
        f["hour_sin"].append(math.sin(2 * math.pi * h / 24))
        f["hour_cos"].append(math.cos(2 * math.pi * h / 24))
        f["weekday_sin"].append(math.sin(2 * math.pi * wd / 7))
        f["weekday_cos"].append(math.cos(2 * math.pi * wd / 7))
        f["month_sin"].append(math.sin(2 * math.pi * (t.month - 1) / 12))
        f["month_cos"].append(math.cos(2 * math.pi * (t.month - 1) / 12))
        f["session_asia"].append(1.0 if 0 <= h < 9 else 0.0)
        f["session_europe"].append(1.0 if 7 <= h < 16 else 0.0)
        f["session_us"].append(1.0 if 12 <= h < 21 else 0.0)
        f["overlap_asia_europe"].append(1.0 if 7 <= h < 9 else 0.0)
        f["overlap_europe_us"].append(1.0 if 12 <= h < 16 else 0.0)
        op = 12 if h >= 12 else (7 if h >= 7 else 0)
        f["minutes_since_session_open"].append((h - op) * 60)
        monday = dt.datetime(t.year, t.month, t.day, tzinfo=dt.timezone.utc) - dt.timedelta(days=wd)
        close = monday + dt.timedelta(days=4, hours=21)
        f["hours_to_friday_close"].append(max((close - t).total_seconds() / 3600, 0.0))
        f["days_to_month_end"].append(float(cal.monthrange(t.year, t.month)[1] - t.day))
    return {f"cal_{k}": np.array(v) for k, v in f.items()}


def multires(h, l, c):
    n = len(c)
    f = {}
    for k in [5, 15]:
        ret, rng_, vol = np.full(n, NAN), np.full(n, NAN), np.full(n, NAN)
        for t in range(n):
            if t >= k:
                ret[t] = math.log(c[t] / c[t - k])
            if t >= k - 1:
                rng_[t] = (max(h[t - k + 1:t + 1]) - min(l[t - k + 1:t + 1])) / c[t]
            if t >= 20 * k:
                rs = [math.log(c[t - j * k] / c[t - (j + 1) * k]) for j in range(20)]
                vol[t] = np.std(rs, ddof=1)
        f[f"mr_return_{k}"], f[f"mr_range_{k}"], f[f"mr_vol_{k}"] = ret, rng_, vol
    return f


def all_features(r, hi=None, lo=None, op=None, ts=None):
    r = np.asarray(r, dtype=float)
    b15 = bqx15(r)
    logret = np.full(len(r), NAN)
    logret[1:] = np.log(r[1:] / r[:-1])
    f = {}
    f.update(bqx_features(r))
    f.update(reg_features(r, b15))
    f.update(moments(logret, 1, "rate"))
    f.update(moments(b15, 15, "bqx"))
    f.update(bollinger(r, 0, "rate"))
    f.update(bollinger(b15, 15, "bqx"))
    b60 = np.full(len(r), NAN)
    for t in range(60, len(r)):
        b60[t] = sum((r[t - i] - r[t]) / r[t] for i in range(1, 61))
    f.update(lags([("logret", logret), ("bqx_return_15", b15), ("bqx_return_60", b60)]))
    f.update(moving_averages(r, 0, "rate"))
    f.update(moving_averages(b15, 15, "bqx"))
    hi = r if hi is None else np.asarray(hi, dtype=float)
    lo = r if lo is None else np.asarray(lo, dtype=float)
    f.update(technical(r, hi, lo, 0, "rate"))
    f.update(technical(b15, b15, b15, 15, "bqx"))
    op = r if op is None else np.asarray(op, dtype=float)
    f.update(volatility(op, hi, lo, r))
    f.update(multires(hi, lo, r))
    f.update(calendar(ts))
    for w in REG_WINDOWS:
        f[f"dd_reg_r2_{w}"] = f[f"reg_rate_r2_{w}"] - f[f"reg_bqx_r2_{w}"]
    for w in BOLL_WINDOWS:
        f[f"dd_boll_pctb_{w}"] = f[f"boll_rate_pctb_{w}"] - f[f"boll_bqx_pctb_{w}"]
    for w in MOM_WINDOWS:
        for stat in ["skew", "kurt", "zscore"]:
            f[f"dd_mom_{stat}_{w}"] = f[f"mom_rate_{stat}_{w}"] - f[f"mom_bqx_{stat}_{w}"]
    # Cross-check one column against pandas (an independent implementation of the same thing).
    s = pd.Series(logret).rolling(50).skew().to_numpy()
    ok = ~np.isnan(f["mom_rate_skew_50"])
    assert np.allclose(s[ok], f["mom_rate_skew_50"][ok], rtol=1e-8, atol=1e-12)
    return f


def warmups():
    out = set()
    for W in BQX_WINDOWS + REG_WINDOWS:
        out.add(W)
    for W in REG_WINDOWS:
        out.add(W + 14)
        out.add(2 * W + 13)
    for W in MOM_WINDOWS + BOLL_WINDOWS + MA_PERIODS:
        out |= {W - 1, W, W + 14}
    for k in LAGS:
        out |= {k + 1, k + 15, k + 60}
    for k in [12, 13, 14, 15, 19, 21, 25, 27, 33, 100, 300]:
        out |= {k - 1, k, k + 14, k + 15}
    return out


def write(name, closes, ts, step, ohlc=None):
    closes = [float(c) for c in closes]
    f = all_features(closes, *(ohlc[1:] + ohlc[:1] if ohlc else (None, None, None)), ts=ts)
    n = len(closes)
    rows = set(range(0, n, step)) | {n - 1}
    for b in warmups():
        rows |= {b - 1, b}
    rows = sorted(x for x in rows if 0 <= x < n)

    def enc(v):
        return None if math.isnan(v) else float(f"{v:.12g}")

    doc = {
        "name": name,
        "ts": [int(v) for v in ts],
        "closes": closes,
        **({"open": ohlc[0], "high": ohlc[1], "low": ohlc[2]} if ohlc else {}),
        "rows": rows,
        "features": {k: [enc(float(v[i])) for i in rows] for k, v in f.items()},
    }
    path = os.path.join(HERE, f"{name}.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print(f"{path}: {n} rows, {len(rows)} sampled, {len(f)} features, {os.path.getsize(path)} bytes")


def main():
    # (a) deterministic random walk around a JPY-like level (~150), 1500 rows.
    rng = np.random.default_rng(7)
    steps = 0.0007 * rng.standard_normal(1500)
    closes = 150.0 * np.exp(np.cumsum(steps))
    # OHLC: open = previous close, high/low beyond the body by a random fraction.
    opens = np.concatenate([[closes[0]], closes[:-1]])
    u = rng.uniform(size=(2, len(closes)))
    highs = np.maximum(opens, closes) * (1 + 0.0004 * u[0])
    lows = np.minimum(opens, closes) * (1 - 0.0004 * u[1])
    ohlc = [[float(v) for v in a] for a in (opens, highs, lows)]
    # Hourly bars from Monday 2023-01-02 00:00 UTC, every 7th bar 13 minutes late (off-grid).
    t0 = 1_672_617_600 * 1_000_000
    ts = [t0 + i * 3_600_000_000 + (13 * 60_000_000 if i % 7 == 0 else 0) for i in range(len(closes))]
    write("synthetic", closes, ts, 14, ohlc)

    # (b) the first 800 EURUSD fixes of the ECB history (file is newest first).
    with zipfile.ZipFile(ECB_ZIP) as z:
        name = [n for n in z.namelist() if n.endswith(".csv")][0]
        df = pd.read_csv(io.BytesIO(z.read(name)))
    df.columns = [c.strip() for c in df.columns]
    df["USD"] = pd.to_numeric(df["USD"], errors="coerce")
    df = df[::-1].dropna(subset=["USD"]).iloc[:800]
    # A fix is stamped at its date, 00:00 UTC.
    dates = pd.to_datetime(df["Date"]).to_numpy().astype("datetime64[us]").astype(np.int64)
    write("ecb_eurusd", df["USD"].to_numpy(), dates, 11)


# ---------------------------------------------------------------------------------------------
# Microstructure (spread, tick volume)
# ---------------------------------------------------------------------------------------------

def rolling_z(x, w, floor=0.0):
    """z-score of x[t] over x[t-w+1..t] (ddof=1); NaN if the window holds a NaN; 0 on a
    constant window or when the std is <= floor."""
    n = len(x)
    out = np.full(n, NAN)
    for t in range(w - 1, n):
        win = x[t - w + 1:t + 1]
        if np.isnan(win).any():
            continue
        sd = win.std(ddof=1)
        if win.max() == win.min() or sd <= floor:
            out[t] = 0.0
        else:
            out[t] = (x[t] - win.mean()) / sd
    return out


def micro_features(r, spread, volume):
    n = len(r)
    b15 = bqx15(r)
    f = {}
    f["ms_spread"] = spread.copy()
    f["ms_spread_rel"] = spread / r
    f["ms_spread_z_60"] = rolling_z(spread, 60)
    f["ms_volume_z_20"] = rolling_z(volume, 20)
    f["ms_volume_z_60"] = rolling_z(volume, 60)
    f["ms_volbqx_z_60"] = f["ms_volume_z_60"] * b15
    rel = np.full(n, NAN)
    for t in range(19, n):
        win = volume[t - 19:t + 1]
        if np.isnan(win).any():
            continue
        rel[t] = 1.0 if win.max() == win.min() else volume[t] / win.mean()
    f["ms_volbqx_rel_20"] = rel * b15
    # Cross-check the z-score against pandas where the window is not constant.
    s = pd.Series(volume)
    pz = ((s - s.rolling(60).mean()) / s.rolling(60).std()).to_numpy()
    ok = ~np.isnan(f["ms_volume_z_60"]) & (f["ms_volume_z_60"] != 0.0)
    assert np.allclose(pz[ok], f["ms_volume_z_60"][ok], rtol=1e-8, atol=1e-12)
    return f


def enc(v):
    return None if math.isnan(v) else float(f"{v:.12g}")


def main_micro():
    rng = np.random.default_rng(11)
    n = 420
    closes = 1.1 * np.exp(np.cumsum(0.0005 * rng.standard_normal(n)))
    opens = np.concatenate([[closes[0]], closes[:-1]])
    u = rng.uniform(size=(2, n))
    highs = np.maximum(opens, closes) * (1 + 0.0003 * u[0])
    lows = np.minimum(opens, closes) * (1 - 0.0003 * u[1])
    spread = np.round(0.00008 + 0.00004 * rng.gamma(2.0, size=n), 6)
    spread[150:230] = 0.00015  # a fixed-spread stretch: z-score 0
    spread[[40, 300]] = NAN  # unknown spreads: NaN for the next 60 rows of the z-score
    volume = rng.poisson(120, size=n).astype(float)
    volume[200:230] = 0.0  # no ticks: z 0, relative volume 1
    volume[[90, 350]] = NAN
    f = micro_features(closes, spread, volume)
    t0 = 1_672_617_600 * 1_000_000
    ts = [t0 + i * 60_000_000 for i in range(n)]
    rows = set(range(0, n, 5)) | {n - 1}
    for b in [14, 15, 16, 18, 19, 20, 58, 59, 60, 61]:
        rows.add(b)
    for hole in [40, 90, 300, 350]:
        rows |= {hole - 1, hole, hole + 1, hole + 19, hole + 20, hole + 59, hole + 60}
    rows |= {208, 209, 210, 229, 230, 231, 249, 250}
    rows = sorted(x for x in rows if 0 <= x < n)
    nul = lambda a: [None if math.isnan(v) else float(v) for v in a]
    doc = {
        "name": "microstructure",
        "ts": ts,
        "closes": [float(v) for v in closes],
        "open": [float(v) for v in opens],
        "high": [float(v) for v in highs],
        "low": [float(v) for v in lows],
        "spread": nul(spread),
        "volume": nul(volume),
        "rows": rows,
        "features": {k: [enc(float(v[i])) for i in rows] for k, v in f.items()},
    }
    path = os.path.join(HERE, "microstructure.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print(f"{path}: {n} rows, {len(rows)} sampled, {len(f)} features, {os.path.getsize(path)} bytes")


# ---------------------------------------------------------------------------------------------
# Cross-sectional features on the 28-pair panel
# ---------------------------------------------------------------------------------------------

CCY = ["EUR", "GBP", "AUD", "NZD", "USD", "CAD", "CHF", "JPY"]  # market priority
PAIR_CCY = [(a, b) for i, a in enumerate(CCY) for b in CCY[i + 1:]]  # base = higher priority
PAIR_NAMES = [a + b for a, b in PAIR_CCY]
STR_WINDOWS = [15, 60, 240]


def pair_index(x, y):
    """Index of the pair of currencies x, y and whether x is its base."""
    for i, (a, b) in enumerate(PAIR_CCY):
        if (a, b) == (x, y):
            return i, True
        if (a, b) == (y, x):
            return i, False
    raise KeyError((x, y))


def strength_features(C):
    """C: 28 x n closes (NaN = no bar). Returns {pair: {name: array}}."""
    n = C.shape[1]
    out = {p: {} for p in PAIR_NAMES}
    for w in STR_WINDOWS:
        S = {c: np.full(n, NAN) for c in CCY}
        for t in range(w, n):
            for c in CCY:
                tot = 0.0
                for p, (a, b) in enumerate(PAIR_CCY):
                    if c in (a, b):
                        ret = math.log(C[p, t]) - math.log(C[p, t - w]) if not (
                            np.isnan(C[p, t]) or np.isnan(C[p, t - w])) else NAN
                        tot += ret if c == a else -ret
                S[c][t] = tot / 7
        for p, (a, b) in enumerate(PAIR_CCY):
            d = S[a] - S[b]
            pct = np.full(n, NAN)
            for t in range(59, n):
                win = d[t - 59:t + 1]
                if np.isnan(win).any():
                    continue
                less = int(np.sum(win < d[t]))
                equal = int(np.sum(win == d[t]))
                pct[t] = (less + (equal - 1) / 2) / 59
            # Cross-check with pandas' rolling rank (average rank of ties, pct = rank / 60).
            pr = pd.Series(d).rolling(60).rank(pct=True).to_numpy()
            ok = ~np.isnan(pct)
            assert np.allclose((pr[ok] * 60 - 1) / 59, pct[ok], rtol=0, atol=1e-12)
            o = out[PAIR_NAMES[p]]
            o[f"cs_str_base_{w}"] = S[a].copy()
            o[f"cs_str_quote_{w}"] = S[b].copy()
            o[f"cs_str_diff_{w}"] = d
            o[f"cs_str_pct_{w}"] = pct
    return out


def triangle_features(C):
    n = C.shape[1]
    L = np.log(C)
    out = {p: {} for p in PAIR_NAMES}
    for p, (b, q) in enumerate(PAIR_CCY):
        thirds = [x for x in CCY if x not in (b, q)]  # priority order
        for k, x in enumerate(thirds):
            a_, b_, c_ = sorted([b, q, x], key=CCY.index)
            ab = pair_index(a_, b_)[0]
            ac = pair_index(a_, c_)[0]
            bc = pair_index(b_, c_)[0]
            e = L[ab] - L[ac] + L[bc]
            if p == ac:
                e = -e
            # e = ln(P_pair) - ln(P_pair implied by the other two legs)
            out[PAIR_NAMES[p]][f"cs_tri_resid_{k}"] = e
            out[PAIR_NAMES[p]][f"cs_tri_z_{k}"] = rolling_z(e, 60, floor=1e-10)
        # reorder: all resid columns, then all z columns
        o = out[PAIR_NAMES[p]]
        out[PAIR_NAMES[p]] = {**{f"cs_tri_resid_{k}": o[f"cs_tri_resid_{k}"] for k in range(6)},
                              **{f"cs_tri_z_{k}": o[f"cs_tri_z_{k}"] for k in range(6)}}
    return out


USD_PAIRS = [i for i, (a, b) in enumerate(PAIR_CCY) if "USD" in (a, b)]
USD_SIGNS = [1.0 if PAIR_CCY[i][0] == "USD" else -1.0 for i in USD_PAIRS]


def usd_factor(C, start, end):
    n = C.shape[1]
    logret = np.full(C.shape, NAN)
    logret[:, 1:] = np.log(C[:, 1:] / C[:, :-1])
    X = np.array([s * logret[i] for i, s in zip(USD_PAIRS, USD_SIGNS)])  # 7 x n
    rows = [t for t in range(start + 1, end) if not np.isnan(X[:, t]).any()]
    Xt = X[:, rows]
    mu = Xt.mean(axis=1)
    cov = np.cov(Xt, ddof=1)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, v = vals[order], vecs[:, order[0]]
    if v.sum() < 0:
        v = -v
    params = {"rows_used": len(rows), "mean": [float(x) for x in mu],
              "loadings": [float(x) for x in v], "eigenvalues": [float(x) for x in vals],
              "explained": float(vals[0] / vals.sum())}
    f = np.array([float(np.dot(v, X[:, t] - mu)) for t in range(n)])
    out = {p: {"cs_usd_factor": f.copy()} for p in PAIR_NAMES}
    for p in range(28):
        y = logret[p]
        for w in [60, 240]:
            beta, corr = np.full(n, NAN), np.full(n, NAN)
            for t in range(w - 1, n):
                yw, fw = y[t - w + 1:t + 1], f[t - w + 1:t + 1]
                if np.isnan(yw).any() or np.isnan(fw).any():
                    continue
                c = np.cov(yw, fw, ddof=1)
                fconst, yconst = fw.max() == fw.min(), yw.max() == yw.min()
                beta[t] = 0.0 if fconst else c[0, 1] / c[1, 1]
                corr[t] = 0.0 if (fconst or yconst) else c[0, 1] / math.sqrt(c[0, 0] * c[1, 1])
            if p == 3:
                pc = pd.Series(y).rolling(w).corr(pd.Series(f)).to_numpy()
                ok = ~np.isnan(corr)
                assert np.allclose(pc[ok], corr[ok], rtol=1e-8, atol=1e-12)
            out[PAIR_NAMES[p]][f"cs_usd_beta_{w}"] = beta
            out[PAIR_NAMES[p]][f"cs_usd_corr_{w}"] = corr
    return params, out


def write_panel(name, C, ts, fit_range, step, extra_rows=()):
    n = C.shape[1]
    feats = {p: {} for p in PAIR_NAMES}
    for part in (strength_features(C), triangle_features(C)):
        for p in PAIR_NAMES:
            feats[p].update(part[p])
    params, usd = usd_factor(C, *fit_range)
    for p in PAIR_NAMES:
        feats[p].update(usd[p])
    rows = set(range(0, n, step)) | {n - 1} | set(extra_rows)
    for b in [0, 1, 15, 59, 60, 74, 75, 119, 239, 240, 298, 299]:
        rows |= {b - 1, b, b + 1}
    rows = sorted(x for x in rows if 0 <= x < n)
    doc = {
        "name": name,
        "ts": [int(v) for v in ts],
        "closes": {p: [None if math.isnan(v) else float(v) for v in C[i]]
                   for i, p in enumerate(PAIR_NAMES)},
        "fit_range": list(fit_range),
        "usd_params": params,
        "rows": rows,
        "features": {p: {k: [enc(float(v[i])) for i in rows] for k, v in feats[p].items()}
                     for p in PAIR_NAMES},
    }
    path = os.path.join(HERE, f"{name}.json")
    with open(path, "w") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print(f"{path}: {n} rows, {len(rows)} sampled, {len(feats['EURUSD'])} features per pair, "
          f"{os.path.getsize(path)} bytes")


def main_panel():
    # (a) Synthetic: 8 currency values (USD shared by a common factor), pair prices as ratios
    # with independent pair noise so that triangles do not close exactly; a few holes.
    rng = np.random.default_rng(23)
    n = 560
    level = np.log([1.08, 1.27, 0.66, 0.61, 1.0, 0.73, 1.13, 0.0067])
    common = 0.0004 * rng.standard_normal(n)
    steps = 0.0006 * rng.standard_normal((8, n))
    steps[4] -= common * 2.0  # USD moves against everything at once
    steps += common  # (a factor on the others)
    lv = level[:, None] + np.cumsum(steps, axis=1)
    C = np.empty((28, n))
    for p, (a, b) in enumerate(PAIR_CCY):
        C[p] = np.exp(lv[CCY.index(a)] - lv[CCY.index(b)] + 0.00002 * rng.standard_normal(n))
    C[5, 100:102] = NAN  # EURCHF: two missing bars
    C[24, 330] = NAN  # USDJPY (a USD pair, inside the fit range)
    C[19, 470] = NAN  # NZDCAD
    C[:, 20] = C[:, 19]  # a row where nothing moved
    t0 = 1_672_617_600 * 1_000_000
    ts = [t0 + i * 3_600_000_000 for i in range(n)]
    holes = [100, 101, 330, 470]
    extra = {h + d for h in holes for d in (0, 1, 15, 16, 59, 60, 61)}
    write_panel("panel_synthetic", C, ts, (10, 380), 16, extra)

    # (b) ECB: the first 640 fixes; cross rates ab = EURb/EURa as ingest derives them, rounded
    # to 6 significant digits like a quote, so that the triangle residuals are real (~1e-6)
    # instead of floating-point noise.
    with zipfile.ZipFile(ECB_ZIP) as z:
        name = [x for x in z.namelist() if x.endswith(".csv")][0]
        df = pd.read_csv(io.BytesIO(z.read(name)))
    df.columns = [c.strip() for c in df.columns]
    others = CCY[1:]
    for c in others:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df[::-1].dropna(subset=others).iloc[:640]
    eur = {c: df[c].to_numpy() for c in others}
    eur["EUR"] = np.ones(len(df))
    n = len(df)
    C = np.empty((28, n))
    for p, (a, b) in enumerate(PAIR_CCY):
        C[p] = [float(f"{v:.6g}") for v in eur[b] / eur[a]]
    dates = pd.to_datetime(df["Date"]).to_numpy().astype("datetime64[us]").astype(np.int64)
    write_panel("panel_ecb", C, dates, (0, 400), 16)


if __name__ == "__main__":
    main()
    main_micro()
    main_panel()
