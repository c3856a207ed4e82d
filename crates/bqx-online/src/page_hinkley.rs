//! The Page–Hinkley test for a change in the mean of a stream, in both directions.
//!
//! With `x̄ₙ` the running mean, the two cumulative sums
//! `Uₙ = α·Uₙ₋₁ + (xₙ − x̄ₙ) − δ` and `Lₙ = α·Lₙ₋₁ + (xₙ − x̄ₙ) + δ` are compared with their
//! extremes so far: an increase is detected when `Uₙ − min U > λ`, a decrease when
//! `max L − Lₙ > λ`, once `min_instances` values have been seen. Parameters and arithmetic
//! follow river's `drift.PageHinkley` (min_instances 30, δ 0.005, λ 50, α 1 − 10⁻⁴), including
//! the fresh start after a detection; `tests/adwin_river.rs` checks detections index by index
//! against river. The online loop feeds it errors divided by their training scale, so λ is in
//! units of the typical error.

use serde::{Deserialize, Serialize};

/// Page–Hinkley's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PageHinkleyConfig {
    pub min_instances: u64,
    /// Magnitude of changes that are tolerated.
    pub delta: f64,
    /// Detection threshold λ.
    pub threshold: f64,
    /// Forgetting factor of the cumulative sums.
    pub alpha: f64,
}

impl Default for PageHinkleyConfig {
    fn default() -> Self {
        PageHinkleyConfig {
            min_instances: 30,
            delta: 0.005,
            threshold: 50.0,
            alpha: 1.0 - 0.0001,
        }
    }
}

/// The detector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageHinkley {
    cfg: PageHinkleyConfig,
    n: u64,
    mean: f64,
    up: f64,
    down: f64,
    /// `None` until the first value (river starts it at +∞).
    min_up: Option<f64>,
    /// river starts it at −1.
    max_down: f64,
    detections: u64,
    detected: bool,
}

impl PageHinkley {
    pub fn new(cfg: PageHinkleyConfig) -> PageHinkley {
        PageHinkley {
            cfg,
            n: 0,
            mean: 0.0,
            up: 0.0,
            down: 0.0,
            min_up: None,
            max_down: -1.0,
            detections: 0,
            detected: false,
        }
    }

    /// The larger of the two test statistics (what is compared with the threshold).
    pub fn statistic(&self) -> f64 {
        let up = self.up - self.min_up.unwrap_or(self.up);
        let down = self.max_down - self.down;
        up.max(down)
    }

    pub fn config(&self) -> &PageHinkleyConfig {
        &self.cfg
    }

    pub fn detections(&self) -> u64 {
        self.detections
    }

    /// Adds `x`; `true` when a change is detected at this value.
    pub fn update(&mut self, x: f64) -> bool {
        if self.detected {
            let detections = self.detections;
            *self = PageHinkley::new(self.cfg);
            self.detections = detections;
        }
        self.n += 1;
        self.mean += (1.0 / self.n as f64) * (x - self.mean);
        let dev = x - self.mean;
        self.up = self.cfg.alpha * self.up + dev - self.cfg.delta;
        self.down = self.cfg.alpha * self.down + dev + self.cfg.delta;
        if self.min_up.is_none_or(|m| self.up < m) {
            self.min_up = Some(self.up);
        }
        if self.down > self.max_down {
            self.max_down = self.down;
        }
        self.detected = self.n >= self.cfg.min_instances
            && (self.up - self.min_up.expect("set above") > self.cfg.threshold
                || self.max_down - self.down > self.cfg.threshold);
        if self.detected {
            self.detections += 1;
        }
        self.detected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_an_increase_of_the_mean_and_not_a_constant() {
        let mut ph = PageHinkley::new(PageHinkleyConfig::default());
        for _ in 0..10_000 {
            assert!(!ph.update(1.0));
        }
        let at = (0..1000)
            .find(|_| ph.update(3.0))
            .expect("a jump of 2 is detected");
        // The sum grows by about 2 per value: λ = 50 is crossed after ~25 values.
        assert!((20..40).contains(&at), "{at}");
    }
}
