"""PyTorch peer of the autoencoder throughput example (`examples/ae_throughput.rs`).

Same network, data shape and training step as `bqx_models::net::Autoencoder` with its
default config:

    802 -> [Linear -> BatchNorm1d -> ReLU -> Dropout(0.2)] x (512, 256, 128)
        -> Linear(128 -> 64)                      (linear bottleneck, no BN)
        -> [Linear -> BatchNorm1d -> ReLU -> Dropout(0.2)] x (128, 256, 512)
        -> Linear(512 -> 802)                     (linear output)

MSE loss, AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8) in two parameter groups: weight
decay 1e-2 on the weight matrices, none on biases and BatchNorm scale/shift; batch 1024,
a fresh shuffle every epoch, the last short batch kept (40,000 rows = 39 x 1024 + 64).

Data: a seeded synthetic float32 matrix of `rows x 802` of the same family as the Rust
example (16 Gaussian factors through a random loading plus Gaussian noise, per-column
offset and scale), standardized per column before training. Not bit-identical to the Rust
data; same sizes and distribution. Standardizing is outside the timed part here, while the
Rust `fit` includes its scaler pass (the example reports that pass separately) and reads,
converts and standardizes each batch from an f64 matrix inside its loop; this script
gathers each batch from a pre-standardized f32 tensor.

Only the training epochs are timed (time.perf_counter around the epoch loop); one
`loss.item()` per batch, as the Rust loop reads its loss every batch.

Run from a throwaway virtualenv (the CPU build of torch is enough; the default PyPI wheel
for x86-64 Linux pulls in the CUDA libraries but runs on the CPU as well; numpy is not
needed, torch only warns that it is missing):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu \
        || /tmp/torchvenv/bin/pip install torch
    /tmp/torchvenv/bin/python crates/bqx-models/benches/ae_peer.py --threads 2 --rows 40000 --epochs 3

Arguments: --threads N (torch.set_num_threads and set_num_interop_threads; default 2),
--rows (40000), --epochs (3), --seed (1).
"""

import argparse
import os
import time

import torch
from torch import nn

FEATURES = 802
FACTORS = 16


def synthetic(rows: int, seed: int) -> torch.Tensor:
    """Raw (unstandardized) rows as float32, generated in float64 chunks (bounds peak memory)."""
    g = torch.Generator().manual_seed(seed)
    loading = torch.randn(FACTORS, FEATURES, generator=g, dtype=torch.float64) / FACTORS**0.5
    offset = torch.rand(FEATURES, generator=g, dtype=torch.float64) * 4.0 - 2.0
    scale = torch.rand(FEATURES, generator=g, dtype=torch.float64) * 2.9 + 0.1
    out = torch.empty(rows, FEATURES, dtype=torch.float32)
    for i in range(0, rows, 8192):
        n = min(8192, rows - i)
        z = torch.randn(n, FACTORS, generator=g, dtype=torch.float64)
        noise = torch.randn(n, FEATURES, generator=g, dtype=torch.float64)
        out[i : i + n] = offset + scale * (z @ loading + 0.5 * noise)
    return out


def block(n_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU(), nn.Dropout(dropout)
    )


def autoencoder(n: int, hidden=(512, 256, 128), bottleneck: int = 64, dropout: float = 0.2):
    enc, prev = [], n
    for w in hidden:
        enc.append(block(prev, w, dropout))
        prev = w
    enc.append(nn.Linear(prev, bottleneck))
    dec, prev = [], bottleneck
    for w in reversed(hidden):
        dec.append(block(prev, w, dropout))
        prev = w
    dec.append(nn.Linear(prev, n))
    return nn.Sequential(nn.Sequential(*enc), nn.Sequential(*dec))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.threads)
    torch.manual_seed(a.seed)

    t = time.perf_counter()
    x = synthetic(a.rows, a.seed)
    mean, std = x.mean(0), x.std(0, unbiased=False)
    x = ((x - mean) / std).contiguous()
    gen_s = time.perf_counter() - t

    model = autoencoder(FEATURES)
    decay = [p for name, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for name, p in model.named_parameters() if p.dim() != 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": 1e-2},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
    )
    loss_fn = nn.MSELoss()
    batch = 1024

    print(
        f"workload: {a.rows} rows x {FEATURES} features, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}), "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"data generated in {gen_s:.2f} s"
    )
    model.train()
    losses = []
    t0 = time.perf_counter()
    for _epoch in range(a.epochs):
        perm = torch.randperm(a.rows)
        total = 0.0
        for i in range(0, a.rows, batch):
            idx = perm[i : i + batch]
            if len(idx) < 2:  # BatchNorm needs >= 2 rows (ours folds such a row back)
                continue
            xb = x.index_select(0, idx)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / a.rows)
    secs = time.perf_counter() - t0

    samples = a.rows * a.epochs
    print(f"rows: {a.rows}")
    print(f"epochs: {a.epochs}")
    print(f"train seconds: {secs:.3f}")
    print(f"throughput: {samples / secs:.0f} samples/s")
    for e, l in enumerate(losses, 1):
        print(f"epoch {e}: train MSE {l:.5f}")
    print(f"final train MSE: {losses[-1]:.5f}")


if __name__ == "__main__":
    main()
