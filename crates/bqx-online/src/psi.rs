//! Population stability index of a feature against its training distribution.
//!
//! The reference is fitted on training rows only: `bins` quantile edges of the training values
//! and the share of training values in each bin. Online, the last `window` values are binned by
//! the same edges and `PSI = Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ)` over the bins, with shares floored at
//! [`PSI_FLOOR`] so that an empty bin gives a large but finite value. Common reading: below
//! 0.1 stable, 0.1–0.25 a moderate shift, above 0.25 a major shift.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Smallest share used in the logarithm.
pub const PSI_FLOOR: f64 = 1e-4;

/// A feature's training distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsiReference {
    /// Inner bin edges (ascending, deduplicated): bin `i` is `(edges[i-1], edges[i]]`.
    pub edges: Vec<f64>,
    /// Share of the training values in each bin (`edges.len() + 1` bins).
    pub expected: Vec<f64>,
}

impl PsiReference {
    /// Fits `bins` quantile bins on the finite training values; `None` when fewer than
    /// `2·bins` are finite or the values are constant.
    pub fn fit(values: &[f64], bins: usize) -> Option<PsiReference> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if bins < 2 || v.len() < 2 * bins {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..bins)
            .map(|i| v[(i * v.len() / bins).saturating_sub(1)])
            .collect();
        edges.dedup();
        if edges.is_empty() || v[0] == v[v.len() - 1] {
            return None;
        }
        let mut counts = vec![0usize; edges.len() + 1];
        for &x in &v {
            counts[bin_of(&edges, x)] += 1;
        }
        let n = v.len() as f64;
        Some(PsiReference {
            expected: counts.iter().map(|&c| c as f64 / n).collect(),
            edges,
        })
    }

    pub fn bins(&self) -> usize {
        self.expected.len()
    }
}

fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e < x)
}

/// PSI over a sliding window of the most recent values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PsiMonitor {
    reference: PsiReference,
    window: usize,
    recent: VecDeque<u16>,
    counts: Vec<u32>,
}

impl PsiMonitor {
    pub fn new(reference: PsiReference, window: usize) -> PsiMonitor {
        let bins = reference.bins();
        PsiMonitor {
            reference,
            window: window.max(1),
            recent: VecDeque::with_capacity(window),
            counts: vec![0; bins],
        }
    }

    /// Adds a value (a non-finite value is skipped).
    pub fn update(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        if self.recent.len() == self.window {
            let old = self.recent.pop_front().expect("full window");
            self.counts[old as usize] -= 1;
        }
        let b = bin_of(&self.reference.edges, x);
        self.recent.push_back(b as u16);
        self.counts[b] += 1;
    }

    /// Values in the window.
    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }

    /// Whether the window is full (PSI on a part-filled window is noisy).
    pub fn is_full(&self) -> bool {
        self.recent.len() == self.window
    }

    /// The PSI of the window against the reference (0 for an empty window).
    pub fn psi(&self) -> f64 {
        let n = self.recent.len();
        if n == 0 {
            return 0.0;
        }
        self.counts
            .iter()
            .zip(&self.reference.expected)
            .map(|(&c, &e)| {
                let a = (c as f64 / n as f64).max(PSI_FLOOR);
                let e = e.max(PSI_FLOOR);
                (a - e) * (a / e).ln()
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_distribution_is_near_zero_and_a_shift_is_large() {
        let train: Vec<f64> = (0..10_000).map(|i| ((i * 7919) % 10_000) as f64).collect();
        let r = PsiReference::fit(&train, 10).unwrap();
        assert_eq!(r.bins(), 10);
        for e in &r.expected {
            assert!((e - 0.1).abs() < 1e-9);
        }
        let mut m = PsiMonitor::new(r.clone(), 1000);
        for i in 0..1000 {
            m.update(((i * 7919) % 10_000) as f64);
        }
        assert!(m.psi() < 0.02, "{}", m.psi());
        let mut s = PsiMonitor::new(r, 1000);
        for i in 0..1000 {
            s.update(5000.0 + (i * 5) as f64);
        }
        // Half the bins hold 20 % each, half are empty (floored): 5·(0.1·ln 2) + 5·(0.1·ln 1000).
        let expect = 5.0 * 0.1 * 2f64.ln() + 5.0 * (0.1 - PSI_FLOOR) * (0.1 / PSI_FLOOR).ln();
        assert!((s.psi() - expect).abs() < 1e-9, "{} vs {expect}", s.psi());
    }

    #[test]
    fn constant_or_short_training_values_give_no_reference() {
        assert!(PsiReference::fit(&[1.0; 100], 10).is_none());
        assert!(PsiReference::fit(&[1.0, 2.0], 10).is_none());
    }
}
