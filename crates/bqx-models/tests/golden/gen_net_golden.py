"""Independent forward passes of the stage networks (numpy, float64) for tests/networks.rs.

Writes net_forward.json: random float32 weights (PyTorch names and shapes), a scaler, target
scalings, inputs, and the evaluation-mode outputs of

* the multi-task network: trunk blocks Linear -> BatchNorm(running stats) -> ReLU, heads
  Linear -> ReLU -> Linear; BQX and volatility outputs de-standardized, regime softmax;
* the autoencoder: encoder blocks Linear -> BatchNorm -> ReLU, a linear bottleneck, the
  decoder mirrored to a linear output; embeddings and standardized reconstructions.

Run from a throwaway virtualenv with numpy:  python gen_net_golden.py > net_forward.json
"""
import json
import sys

import numpy as np

EPS = 1e-5
rng = np.random.default_rng(20261207)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def tensor(shape, scale=0.5):
    return f32(rng.uniform(-scale, scale, size=shape))


def block(prefix, fan_in, fan_out, bn, out):
    out[f"{prefix}.weight"] = tensor((fan_out, fan_in))
    out[f"{prefix}.bias"] = tensor((fan_out,), 0.1)
    if bn:
        out[f"{prefix}.bn.weight"] = f32(rng.uniform(0.5, 1.5, size=fan_out))
        out[f"{prefix}.bn.bias"] = tensor((fan_out,), 0.2)
        out[f"{prefix}.bn.running_mean"] = tensor((fan_out,), 0.3)
        out[f"{prefix}.bn.running_var"] = f32(rng.uniform(0.5, 2.0, size=fan_out))


def run_block(t, prefix, h, bn, act):
    w = t[f"{prefix}.weight"].astype(np.float64)
    b = t[f"{prefix}.bias"].astype(np.float64)
    h = h @ w.T + b
    if bn:
        g = t[f"{prefix}.bn.weight"].astype(np.float64)
        beta = t[f"{prefix}.bn.bias"].astype(np.float64)
        rm = t[f"{prefix}.bn.running_mean"].astype(np.float64)
        rv = t[f"{prefix}.bn.running_var"].astype(np.float64)
        h = (h - rm) / np.sqrt(rv + EPS) * g + beta
    if act == "relu":
        h = np.maximum(h, 0.0)
    return h


def dump(t):
    return {k: {"shape": list(v.shape), "values": [float(x) for x in v.ravel()]} for k, v in t.items()}


def scaler(p):
    mean = rng.normal(0.0, 1.0, size=p)
    std = rng.uniform(0.5, 2.0, size=p)
    return mean, std


def multitask():
    p, trunk, heads, k = 7, [6, 5], (4, 3, 3), 5
    t = {}
    fan = p
    for i, w in enumerate(trunk):
        block(f"trunk.{i}", fan, w, True, t)
        fan = w
    for name, hid, out in [("bqx_head", heads[0], 1), ("vol_head", heads[1], 1), ("regime_head", heads[2], k)]:
        block(f"{name}.0", fan, hid, False, t)
        block(f"{name}.1", hid, out, False, t)
    mean, std = scaler(p)
    scalings = [[0.01, 0.5], [0.2, 0.05]]
    x = rng.normal(0.0, 1.5, size=(9, p)) * std + mean
    z = (x - mean) / std
    h = z
    for i in range(len(trunk)):
        h = run_block(t, f"trunk.{i}", h, True, "relu")
    outs = {}
    for name in ["bqx_head", "vol_head", "regime_head"]:
        o = run_block(t, f"{name}.0", h, False, "relu")
        outs[name] = run_block(t, f"{name}.1", o, False, "linear")
    bqx = outs["bqx_head"][:, 0] * scalings[0][1] + scalings[0][0]
    vol = outs["vol_head"][:, 0] * scalings[1][1] + scalings[1][0]
    logits = outs["regime_head"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return {
        "config": {"trunk": trunk, "bqx_head": heads[0], "vol_head": heads[1], "regime_head": heads[2], "n_regimes": k, "device": "cpu"},
        "n_inputs": p,
        "scaler": {"mean": list(mean), "std": list(std)},
        "scalings": scalings,
        "tensors": dump(t),
        "x": x.tolist(),
        "expected": {"bqx": list(bqx), "vol": list(vol), "regime": probs.tolist()},
    }


def autoencoder():
    p, hidden, code = 8, [6, 5], 3
    t = {}
    fan = p
    for i, w in enumerate(hidden):
        block(f"encoder.{i}", fan, w, True, t)
        fan = w
    block(f"encoder.{len(hidden)}", fan, code, False, t)
    fan = code
    for i, w in enumerate(reversed(hidden)):
        block(f"decoder.{i}", fan, w, True, t)
        fan = w
    block(f"decoder.{len(hidden)}", fan, p, False, t)
    mean, std = scaler(p)
    x = rng.normal(0.0, 1.5, size=(11, p)) * std + mean
    h = (x - mean) / std
    for i in range(len(hidden)):
        h = run_block(t, f"encoder.{i}", h, True, "relu")
    emb = run_block(t, f"encoder.{len(hidden)}", h, False, "linear")
    h = emb
    for i in range(len(hidden)):
        h = run_block(t, f"decoder.{i}", h, True, "relu")
    rec = run_block(t, f"decoder.{len(hidden)}", h, False, "linear")
    return {
        "config": {"hidden": hidden, "bottleneck": code, "device": "cpu"},
        "n_inputs": p,
        "scaler": {"mean": list(mean), "std": list(std)},
        "tensors": dump(t),
        "x": x.tolist(),
        "expected": {"embedding": emb.tolist(), "reconstruction": rec.tolist()},
    }


json.dump({"generator": "gen_net_golden.py (numpy %s, float64)" % np.__version__, "multitask": multitask(), "autoencoder": autoencoder()}, sys.stdout, indent=1)
sys.stdout.write("\n")
