//! ADWIN (ADaptive WINdowing, Bifet & Gavaldà 2007), the ADWIN2 variant with an exponential
//! histogram: the window is kept as buckets of `2^level` values, at most `max_buckets` per level
//! (the oldest two are merged into the next level when a level overflows), so memory and the
//! cut scan are `O(max_buckets · log W)`.
//!
//! Every `clock` updates (once the window holds more than `grace_period` values) every boundary
//! between buckets is tested as a cut into an older part `W0` (`n0` values, mean `μ0`) and a
//! newer part `W1`: a change is detected when
//! `|μ0 − μ1| > √(2·m·σ²·δ′) + 2/3·δ′·m`, with `δ′ = ln(2·ln|W| / δ)`,
//! `m = 1/(n0 − ℓ + 1) + 1/(n1 − ℓ + 1)`, `σ²` the window's variance and `ℓ` the minimum
//! sub-window length; the oldest bucket is then dropped and the scan repeats.
//!
//! Parameters and arithmetic follow river's `drift.ADWIN` (delta 0.002, clock 32, 5 buckets per
//! level, minimum sub-window 5, grace period 10), including its choice that the update after a
//! detection starts a fresh window; `tests/adwin_river.rs` checks the detections index by index
//! against river on the same streams.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// ADWIN's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdwinConfig {
    /// Confidence of the cut test (smaller = fewer, later detections).
    pub delta: f64,
    /// Test for a cut every `clock` updates.
    pub clock: u32,
    /// Buckets kept per level before the oldest two merge.
    pub max_buckets: usize,
    /// Neither side of a cut may hold fewer values.
    pub min_window: usize,
    /// No test until the window holds more values than this.
    pub grace_period: usize,
}

impl AdwinConfig {
    /// river's defaults with the given `delta`.
    pub fn with_delta(delta: f64) -> AdwinConfig {
        AdwinConfig {
            delta,
            clock: 32,
            max_buckets: 5,
            min_window: 5,
            grace_period: 10,
        }
    }
}

impl Default for AdwinConfig {
    /// `δ = 0.002` (features.md § 2.19, the drift level).
    fn default() -> Self {
        AdwinConfig::with_delta(0.002)
    }
}

/// One bucket: the sum of its values and their sum of squared deviations from its own mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Bucket {
    sum: f64,
    ssd: f64,
}

/// The detector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Adwin {
    cfg: AdwinConfig,
    /// `levels[i]` holds buckets of `2^i` values, oldest first.
    levels: Vec<VecDeque<Bucket>>,
    width: f64,
    sum: f64,
    /// Sum of squared deviations of the window from its mean.
    ssd: f64,
    tick: u64,
    detections: u64,
    /// The previous update detected a change: the next one starts a fresh window.
    detected: bool,
}

impl Adwin {
    pub fn new(cfg: AdwinConfig) -> Adwin {
        Adwin {
            cfg,
            levels: vec![VecDeque::with_capacity(cfg.max_buckets + 1)],
            width: 0.0,
            sum: 0.0,
            ssd: 0.0,
            tick: 0,
            detections: 0,
            detected: false,
        }
    }

    pub fn config(&self) -> &AdwinConfig {
        &self.cfg
    }

    /// Values in the current window.
    pub fn width(&self) -> usize {
        self.width as usize
    }

    /// Mean of the current window (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.sum / self.width
        }
    }

    /// Population variance of the current window (0 when empty).
    pub fn variance(&self) -> f64 {
        if self.width == 0.0 {
            0.0
        } else {
            self.ssd / self.width
        }
    }

    /// Changes detected since creation.
    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Adds `x`; `true` when a change is detected at this value.
    pub fn update(&mut self, x: f64) -> bool {
        if self.detected {
            let detections = self.detections;
            *self = Adwin::new(self.cfg);
            self.detections = detections;
        }
        self.insert(x);
        self.detected = self.detect();
        if self.detected {
            self.detections += 1;
        }
        self.detected
    }

    fn insert(&mut self, x: f64) {
        self.levels[0].push_back(Bucket { sum: x, ssd: 0.0 });
        self.width += 1.0;
        if self.width > 1.0 {
            let d = x - self.sum / (self.width - 1.0);
            self.ssd += (self.width - 1.0) * d * d / self.width;
        }
        self.sum += x;
        let mut level = 0;
        while self.levels[level].len() > self.cfg.max_buckets {
            let size = (1u64 << level) as f64;
            let a = self.levels[level].pop_front().expect("overfull level");
            let b = self.levels[level].pop_front().expect("overfull level");
            let (ma, mb) = (a.sum / size, b.sum / size);
            let merged = Bucket {
                sum: a.sum + b.sum,
                ssd: a.ssd + b.ssd + size * 0.5 * (ma - mb) * (ma - mb),
            };
            if level + 1 == self.levels.len() {
                self.levels
                    .push(VecDeque::with_capacity(self.cfg.max_buckets + 1));
            }
            self.levels[level + 1].push_back(merged);
            level += 1;
        }
    }

    /// Drops the oldest bucket.
    fn drop_oldest(&mut self) {
        let top = self.levels.len() - 1;
        let size = (1u64 << top) as f64;
        let b = self.levels[top].pop_front().expect("non-empty top level");
        self.width -= size;
        self.sum -= b.sum;
        let mu = b.sum / size;
        let mu_rest = self.sum / self.width;
        self.ssd -=
            b.ssd + size * self.width * (mu - mu_rest) * (mu - mu_rest) / (size + self.width);
        if self.levels[top].is_empty() && top > 0 {
            self.levels.pop();
        }
    }

    fn cut(&self, n0: f64, n1: f64, diff: f64) -> bool {
        let l = self.cfg.min_window as f64;
        let dp = (2.0 * self.width.ln() / self.cfg.delta).ln();
        let m = 1.0 / (n0 - l + 1.0) + 1.0 / (n1 - l + 1.0);
        let eps = (2.0 * m * (self.ssd / self.width) * dp).sqrt() + 2.0 / 3.0 * dp * m;
        diff.abs() > eps
    }

    fn detect(&mut self) -> bool {
        self.tick += 1;
        if !self.tick.is_multiple_of(u64::from(self.cfg.clock))
            || self.width <= self.cfg.grace_period as f64
        {
            return false;
        }
        let l = self.cfg.min_window as f64;
        let mut changed = false;
        'rescan: loop {
            let (mut n0, mut n1, mut s0, mut s1) = (0.0, self.width, 0.0, self.sum);
            for level in (0..self.levels.len()).rev() {
                let size = (1u64 << level) as f64;
                let len = self.levels[level].len();
                for k in 0..len {
                    let b = self.levels[level][k].sum;
                    n0 += size;
                    n1 -= size;
                    s0 += b;
                    s1 -= b;
                    if level == 0 && k + 1 == len {
                        break 'rescan;
                    }
                    if n0 >= l && n1 >= l && self.cut(n0, n1, s0 / n0 - s1 / n1) {
                        changed = true;
                        self.drop_oldest();
                        continue 'rescan;
                    }
                }
            }
            break;
        }
        changed
    }
}

/// ADWIN at two confidence levels on the same stream: the drift level (δ = 0.002) and the
/// warning level (δ = 0.01, detects earlier and more often).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdwinPair {
    pub drift: Adwin,
    pub warning: Adwin,
}

/// What [`AdwinPair::update`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Level {
    Normal,
    Warning,
    Drift,
}

impl AdwinPair {
    pub fn new(drift_delta: f64, warning_delta: f64) -> AdwinPair {
        AdwinPair {
            drift: Adwin::new(AdwinConfig::with_delta(drift_delta)),
            warning: Adwin::new(AdwinConfig::with_delta(warning_delta)),
        }
    }

    pub fn update(&mut self, x: f64) -> Level {
        let warn = self.warning.update(x);
        if self.drift.update(x) {
            Level::Drift
        } else if warn {
            Level::Warning
        } else {
            Level::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_statistics_are_exact_before_any_cut() {
        let mut a = Adwin::new(AdwinConfig::default());
        let xs: Vec<f64> = (0..200).map(|i| ((i * 37) % 11) as f64).collect();
        for &x in &xs {
            assert!(!a.update(x));
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        assert_eq!(a.width(), 200);
        assert!((a.mean() - mean).abs() < 1e-12);
        assert!(
            (a.variance() - var).abs() < 1e-9,
            "{} vs {var}",
            a.variance()
        );
        // Exponential histogram: at most max_buckets per level.
        assert!(a.levels.iter().all(|l| l.len() <= 5));
        let counted: f64 = a
            .levels
            .iter()
            .enumerate()
            .map(|(i, l)| l.len() as f64 * (1u64 << i) as f64)
            .sum();
        assert_eq!(counted, 200.0);
    }

    #[test]
    fn a_large_shift_is_detected_and_the_window_shrinks() {
        let mut a = Adwin::new(AdwinConfig::default());
        for i in 0..1000 {
            a.update(if i % 2 == 0 { 0.0 } else { 1.0 });
        }
        let mut at = None;
        for i in 0..1000 {
            if a.update(5.0) {
                at = Some(i);
                break;
            }
        }
        let at = at.expect("a shift of 10 standard deviations is detected");
        assert!(at < 64, "detected after {at} values");
        assert!(a.width() < 1000);
        assert_eq!(a.detections(), 1);
    }

    #[test]
    fn state_survives_a_serde_round_trip() {
        let mut a = Adwin::new(AdwinConfig::default());
        for i in 0..500 {
            a.update((i % 7) as f64);
        }
        let mut b: Adwin = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        for i in 0..2000 {
            let x = if i < 1000 { (i % 7) as f64 } else { 9.0 };
            assert_eq!(a.update(x), b.update(x));
        }
        assert_eq!(a.detections(), b.detections());
    }
}
