//! Sliding-window building blocks shared by the kernels: a ring buffer, monotonic deques for
//! running max/min, and shifted power sums with periodic exact re-anchoring.
//!
//! Numerical scheme: every running sum is kept on values shifted by a reference `c` that is
//! reset to the window mean, with all sums recomputed exactly from the window, once every `W`
//! pushes. Between re-anchors the shifted values are small (prices ~1.1 or ~150 become
//! deviations of order of the window's spread), so `Σd² − (Σd)²/W` loses no significant digits
//! and rounding drift is bounded by `W` updates. The schedule depends only on the number of rows
//! seen, so the arithmetic is identical in batch and online use.

use std::collections::VecDeque;

/// Fixed-capacity ring buffer of the newest values.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    pub(crate) fn new(cap: usize) -> Ring {
        assert!(cap > 0, "ring capacity must be positive");
        Ring {
            buf: vec![0.0; cap],
            head: 0,
            len: 0,
        }
    }

    pub(crate) fn cap(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Pushes `v`; returns the evicted oldest value when the ring was full.
    pub(crate) fn push(&mut self, v: f64) -> Option<f64> {
        let cap = self.buf.len();
        let idx = (self.head + self.len) % cap;
        if self.len == cap {
            let old = self.buf[self.head];
            self.buf[self.head] = v;
            self.head = (self.head + 1) % cap;
            Some(old)
        } else {
            self.buf[idx] = v;
            self.len += 1;
            None
        }
    }

    /// The `k`-th oldest value (0 = oldest).
    pub(crate) fn get(&self, k: usize) -> f64 {
        debug_assert!(k < self.len);
        self.buf[(self.head + k) % self.buf.len()]
    }

    /// The `k`-th newest value (0 = newest).
    pub(crate) fn back(&self, k: usize) -> f64 {
        self.get(self.len - 1 - k)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        (0..self.len).map(move |k| self.get(k))
    }

    pub(crate) fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// Running max and min of the last `w` pushed values (monotonic deques, amortized O(1)).
#[derive(Debug, Clone)]
pub(crate) struct MaxMin {
    w: u64,
    n: u64,
    maxq: VecDeque<(u64, f64)>,
    minq: VecDeque<(u64, f64)>,
}

impl MaxMin {
    pub(crate) fn new(w: usize) -> MaxMin {
        MaxMin {
            w: w as u64,
            n: 0,
            maxq: VecDeque::with_capacity(w + 1),
            minq: VecDeque::with_capacity(w + 1),
        }
    }

    pub(crate) fn push(&mut self, v: f64) {
        let i = self.n;
        self.n += 1;
        while self.maxq.back().is_some_and(|&(_, x)| x <= v) {
            self.maxq.pop_back();
        }
        self.maxq.push_back((i, v));
        while self.minq.back().is_some_and(|&(_, x)| x >= v) {
            self.minq.pop_back();
        }
        self.minq.push_back((i, v));
        while self.maxq.front().is_some_and(|&(j, _)| j + self.w <= i) {
            self.maxq.pop_front();
        }
        while self.minq.front().is_some_and(|&(j, _)| j + self.w <= i) {
            self.minq.pop_front();
        }
    }

    pub(crate) fn max(&self) -> f64 {
        self.maxq.front().map_or(f64::NAN, |&(_, x)| x)
    }

    pub(crate) fn min(&self) -> f64 {
        self.minq.front().map_or(f64::NAN, |&(_, x)| x)
    }

    pub(crate) fn clear(&mut self) {
        self.n = 0;
        self.maxq.clear();
        self.minq.clear();
    }
}

/// Power sums `Σ(v−c)^k`, k = 1..order (order 2 or 4), over the last `w` values.
#[derive(Debug, Clone)]
pub(crate) struct ShiftedSums {
    ring: Ring,
    order: usize,
    /// The shift.
    pub(crate) c: f64,
    /// `s[k-1] = Σ (v − c)^k`.
    pub(crate) s: [f64; 4],
    since_anchor: usize,
}

impl ShiftedSums {
    pub(crate) fn new(w: usize, order: usize) -> ShiftedSums {
        assert!(order == 2 || order == 4);
        ShiftedSums {
            ring: Ring::new(w),
            order,
            c: 0.0,
            s: [0.0; 4],
            since_anchor: 0,
        }
    }

    pub(crate) fn w(&self) -> usize {
        self.ring.cap()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.ring.is_full()
    }

    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    fn add(&mut self, v: f64, sign: f64) {
        let d = v - self.c;
        let d2 = d * d;
        self.s[0] += sign * d;
        self.s[1] += sign * d2;
        if self.order == 4 {
            self.s[2] += sign * d2 * d;
            self.s[3] += sign * d2 * d2;
        }
    }

    pub(crate) fn push(&mut self, v: f64) {
        if self.ring.len() == 0 {
            self.c = v;
        }
        if let Some(old) = self.ring.push(v) {
            self.add(old, -1.0);
        }
        self.add(v, 1.0);
        self.since_anchor += 1;
        if self.ring.is_full() && self.since_anchor >= self.ring.cap() {
            self.reanchor();
        }
    }

    /// Recomputes the sums exactly from the window, shifted by its mean.
    fn reanchor(&mut self) {
        let n = self.ring.len() as f64;
        let c0 = self.c;
        let mean = c0 + self.ring.iter().map(|v| v - c0).sum::<f64>() / n;
        self.c = mean;
        self.s = [0.0; 4];
        for k in 0..self.ring.len() {
            let v = self.ring.get(k);
            self.add(v, 1.0);
        }
        self.since_anchor = 0;
    }

    /// Mean of the window.
    pub(crate) fn mean(&self) -> f64 {
        self.c + self.s[0] / self.ring.len() as f64
    }

    /// Sample variance (ddof = 1), clamped at 0.
    pub(crate) fn var_sample(&self) -> f64 {
        let n = self.ring.len() as f64;
        ((self.s[1] - self.s[0] * self.s[0] / n) / (n - 1.0)).max(0.0)
    }

    /// Central moments m2, m3, m4 (divided by n) and the degeneracy flag (variance is at
    /// rounding level: a constant window).
    pub(crate) fn central(&self) -> (f64, f64, f64, bool) {
        let n = self.ring.len() as f64;
        let mu = self.s[0] / n;
        let e2 = self.s[1] / n;
        let e3 = self.s[2] / n;
        let e4 = self.s[3] / n;
        let mu2 = mu * mu;
        let m2 = (e2 - mu2).max(0.0);
        let m3 = e3 - 3.0 * mu * e2 + 2.0 * mu2 * mu;
        let m4 = e4 - 4.0 * mu * e3 + 6.0 * mu2 * e2 - 3.0 * mu2 * mu2;
        let degenerate = m2 <= 1e-12 * e2;
        (m2, m3, m4, degenerate)
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.c = 0.0;
        self.s = [0.0; 4];
        self.since_anchor = 0;
    }
}
