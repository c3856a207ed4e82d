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

/// Rolling first and second moments of a pair of series `(x, y)` over the last `w` rows, where
/// a row may be missing (`NaN` in either series).
///
/// **NaN rule:** a statistic is defined only when the window is full *and* holds no missing
/// row ([`MaskedCov::ready`]); a missing row therefore blanks the statistics for the next `w`
/// rows and nothing is carried forward or skipped. The sums run over the present rows only, so
/// a missing row never poisons them; they are shifted by a reference `(cx, cy)` and recomputed
/// exactly from the window, shifted by its mean, every `w` pushes (the `ShiftedSums` scheme).
/// A univariate use pushes `y = 0`.
#[derive(Debug, Clone)]
pub(crate) struct MaskedCov {
    xs: Ring,
    ys: Ring,
    missing: usize,
    cx: f64,
    cy: f64,
    sx: f64,
    sy: f64,
    sxx: f64,
    syy: f64,
    sxy: f64,
    since_anchor: usize,
    /// Lengths of the runs of identical present values ending at the newest row (0 after a
    /// missing row): a run of `w` is a constant window, detected exactly.
    run_x: usize,
    run_y: usize,
}

/// Sample statistics of a full window without missing rows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CovStats {
    /// `x(t) − mean(x)` for the newest row.
    pub(crate) dx_last: f64,
    /// The window mean of x.
    pub(crate) mean_x: f64,
    /// Sample variances and covariance (ddof = 1), variances clamped at 0.
    pub(crate) var_x: f64,
    pub(crate) var_y: f64,
    pub(crate) cov: f64,
    /// A constant window: all values identical, or the variance at rounding level.
    pub(crate) flat_x: bool,
    pub(crate) flat_y: bool,
}

impl MaskedCov {
    pub(crate) fn new(w: usize) -> MaskedCov {
        assert!(w >= 2, "a rolling variance needs at least 2 rows");
        MaskedCov {
            xs: Ring::new(w),
            ys: Ring::new(w),
            missing: 0,
            cx: 0.0,
            cy: 0.0,
            sx: 0.0,
            sy: 0.0,
            sxx: 0.0,
            syy: 0.0,
            sxy: 0.0,
            since_anchor: 0,
            run_x: 0,
            run_y: 0,
        }
    }

    fn present(&self) -> usize {
        self.xs.len() - self.missing
    }

    fn add(&mut self, x: f64, y: f64, sign: f64) {
        let (dx, dy) = (x - self.cx, y - self.cy);
        self.sx += sign * dx;
        self.sy += sign * dy;
        self.sxx += sign * dx * dx;
        self.syy += sign * dy * dy;
        self.sxy += sign * dx * dy;
    }

    fn zero(&mut self) {
        (self.sx, self.sy, self.sxx, self.syy, self.sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    }

    pub(crate) fn push(&mut self, x: f64, y: f64) {
        let ok = !(x.is_nan() || y.is_nan());
        let (x, y) = if ok { (x, y) } else { (f64::NAN, f64::NAN) };
        let same = |ring: &Ring, v: f64| ring.len() > 0 && ring.back(0) == v;
        self.run_x = if same(&self.xs, x) {
            self.run_x + 1
        } else {
            usize::from(ok)
        };
        self.run_y = if same(&self.ys, y) {
            self.run_y + 1
        } else {
            usize::from(ok)
        };
        if self.xs.is_full() {
            let (ox, oy) = (self.xs.get(0), self.ys.get(0));
            if ox.is_nan() {
                self.missing -= 1;
            } else {
                self.add(ox, oy, -1.0);
            }
        }
        self.xs.push(x);
        self.ys.push(y);
        if ok {
            // present() counts the new row already: 1 means the window had no present row.
            if self.present() == 1 {
                (self.cx, self.cy) = (x, y);
                self.zero();
            }
            self.add(x, y, 1.0);
        } else {
            self.missing += 1;
            if self.present() == 0 {
                self.zero();
            }
        }
        self.since_anchor += 1;
        if self.xs.is_full() && self.since_anchor >= self.xs.cap() {
            self.reanchor();
        }
    }

    /// Recomputes the sums exactly from the present rows, shifted by their mean.
    fn reanchor(&mut self) {
        self.since_anchor = 0;
        let n = self.present();
        if n == 0 {
            self.zero();
            return;
        }
        let (c0x, c0y) = (self.cx, self.cy);
        let (mut mx, mut my) = (0.0, 0.0);
        for k in 0..self.xs.len() {
            let x = self.xs.get(k);
            if !x.is_nan() {
                mx += x - c0x;
                my += self.ys.get(k) - c0y;
            }
        }
        self.cx = c0x + mx / n as f64;
        self.cy = c0y + my / n as f64;
        self.zero();
        for k in 0..self.xs.len() {
            let x = self.xs.get(k);
            if !x.is_nan() {
                self.add(x, self.ys.get(k), 1.0);
            }
        }
    }

    /// The window is full and has no missing row.
    pub(crate) fn ready(&self) -> bool {
        self.xs.is_full() && self.missing == 0
    }

    /// The statistics, when [`MaskedCov::ready`].
    pub(crate) fn stats(&self) -> Option<CovStats> {
        if !self.ready() {
            return None;
        }
        let n = self.xs.len() as f64;
        let (mx, my) = (self.sx / n, self.sy / n);
        let m2x = (self.sxx / n - mx * mx).max(0.0);
        let m2y = (self.syy / n - my * my).max(0.0);
        let k = n / (n - 1.0);
        Some(CovStats {
            dx_last: (self.xs.back(0) - self.cx) - mx,
            mean_x: self.cx + mx,
            var_x: m2x * k,
            var_y: m2y * k,
            cov: (self.sxy / n - mx * my) * k,
            flat_x: self.run_x >= self.xs.cap() || m2x <= 1e-12 * (self.sxx / n),
            flat_y: self.run_y >= self.ys.cap() || m2y <= 1e-12 * (self.syy / n),
        })
    }

    pub(crate) fn clear(&mut self) {
        self.xs.clear();
        self.ys.clear();
        self.missing = 0;
        (self.cx, self.cy) = (0.0, 0.0);
        self.zero();
        self.since_anchor = 0;
        (self.run_x, self.run_y) = (0, 0);
    }
}

impl CovStats {
    /// The z-score of the newest x, `(x(t) − mean) / std` (0 on a constant window, or when the
    /// std is at most `abs_floor`).
    pub(crate) fn zscore_x(&self, abs_floor: f64) -> f64 {
        let sd = self.var_x.sqrt();
        if self.flat_x || sd <= abs_floor {
            0.0
        } else {
            self.dx_last / sd
        }
    }
}

/// Rolling percentile rank of the newest value among the last `w` values, `NaN` unless the
/// window is full without missing values. `O(w)` per query.
///
/// `pct = (L + (E − 1)/2) / (w − 1)`, with `L` the number of window values strictly below the
/// newest and `E` the number equal to it (itself included): the average rank of the newest
/// value (ties share their mean rank, pandas' `method="average"`), mapped from `1..w` to
/// `0..1`. Strictly lowest → 0, strictly highest → 1, a constant window → 0.5.
#[derive(Debug, Clone)]
pub(crate) struct RollingRank {
    ring: Ring,
    missing: usize,
}

impl RollingRank {
    pub(crate) fn new(w: usize) -> RollingRank {
        assert!(w >= 2);
        RollingRank {
            ring: Ring::new(w),
            missing: 0,
        }
    }

    /// Pushes `v` (`NaN` = missing) and returns the percentile rank of `v` in the window.
    pub(crate) fn push(&mut self, v: f64) -> f64 {
        if let Some(old) = self.ring.push(v)
            && old.is_nan()
        {
            self.missing -= 1;
        }
        if v.is_nan() {
            self.missing += 1;
        }
        if !self.ring.is_full() || self.missing > 0 {
            return f64::NAN;
        }
        let (mut less, mut equal) = (0usize, 0usize);
        for x in self.ring.iter() {
            if x < v {
                less += 1;
            } else if x == v {
                equal += 1;
            }
        }
        (less as f64 + (equal as f64 - 1.0) / 2.0) / (self.ring.cap() as f64 - 1.0)
    }

    pub(crate) fn clear(&mut self) {
        self.ring.clear();
        self.missing = 0;
    }
}
