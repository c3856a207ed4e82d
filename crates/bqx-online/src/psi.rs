//! Population stability index of a feature against its training distribution.
//!
//! The reference is fitted on training rows only: `bins` quantile edges of the training values
//! and the share of training values in each bin. Online, the last `window` values are binned by
//! the same edges and `PSI = Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ)` over the bins, with shares floored at
//! [`PSI_FLOOR`] so that an empty bin gives a large but finite value. Common reading: below
//! 0.1 stable, 0.1–0.25 a moderate shift, above 0.25 a major shift.
//!
//! Those readings assume independent values; consecutive values of a rolling feature are not,
//! so a window of them wanders far more than a sample of the same size would. The reference is
//! therefore **calibrated** on the training values themselves ([`PsiReference::calibrate`]):
//! the PSI of every non-overlapping training window of the monitored length against the
//! reference. A live window is unusual only when it is further from training than the training
//! windows were.

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
    /// Median and largest PSI of the non-overlapping training windows (0 before
    /// [`PsiReference::calibrate`]).
    #[serde(default)]
    pub train_median: f64,
    #[serde(default)]
    pub train_max: f64,
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
            train_median: 0.0,
            train_max: 0.0,
        })
    }

    /// Records the median and largest PSI of the non-overlapping `window`-long runs of the
    /// finite training values against this reference (none when shorter than one window).
    pub fn calibrate(mut self, values: &[f64], window: usize) -> PsiReference {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let mut psis: Vec<f64> = v
            .chunks_exact(window.max(1))
            .map(|c| {
                let mut m = PsiMonitor::new(self.clone(), c.len());
                for &x in c {
                    m.update(x);
                }
                m.psi()
            })
            .collect();
        psis.sort_by(f64::total_cmp);
        if let Some(&max) = psis.last() {
            self.train_max = max;
            self.train_median = psis[psis.len() / 2];
        }
        self
    }

    pub fn bins(&self) -> usize {
        self.expected.len()
    }
}

fn bin_of(edges: &[f64], x: f64) -> usize {
    edges.partition_point(|&e| e < x)
}

/// Blocks a monitor's window is kept in.
pub const PSI_BLOCKS: usize = 20;

/// PSI over a sliding window of the most recent values, kept as bin counts of
/// [`PSI_BLOCKS`] blocks of `window / PSI_BLOCKS` values (plus the block being filled) rather
/// than the values themselves: the window slides a block at a time, and the state a checkpoint
/// stores is a few hundred counts whatever the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PsiMonitor {
    reference: PsiReference,
    block_len: usize,
    /// Complete blocks, oldest first: bin counts.
    blocks: VecDeque<Vec<u32>>,
    /// The block being filled.
    current: Vec<u32>,
    current_len: usize,
    /// Counts of the complete blocks and the current one.
    counts: Vec<u32>,
    n: usize,
}

impl PsiMonitor {
    pub fn new(reference: PsiReference, window: usize) -> PsiMonitor {
        let bins = reference.bins();
        PsiMonitor {
            reference,
            block_len: (window / PSI_BLOCKS).max(1),
            blocks: VecDeque::with_capacity(PSI_BLOCKS + 1),
            current: vec![0; bins],
            current_len: 0,
            counts: vec![0; bins],
            n: 0,
        }
    }

    /// Adds a value (a non-finite value is skipped).
    pub fn update(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        let b = bin_of(&self.reference.edges, x);
        self.current[b] += 1;
        self.current_len += 1;
        self.counts[b] += 1;
        self.n += 1;
        if self.current_len == self.block_len {
            let bins = self.current.len();
            let full = std::mem::replace(&mut self.current, vec![0; bins]);
            self.current_len = 0;
            self.blocks.push_back(full);
            if self.blocks.len() > PSI_BLOCKS {
                let old = self
                    .blocks
                    .pop_front()
                    .expect("more than PSI_BLOCKS blocks");
                for (c, o) in self.counts.iter_mut().zip(&old) {
                    *c -= o;
                    self.n -= *o as usize;
                }
            }
        }
    }

    /// The training distribution.
    pub fn reference(&self) -> &PsiReference {
        &self.reference
    }

    /// Values in the window.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether the window holds its [`PSI_BLOCKS`] complete blocks (PSI on a part-filled
    /// window is noisy).
    pub fn is_full(&self) -> bool {
        self.blocks.len() == PSI_BLOCKS
    }

    /// The PSI of the window against the reference (0 for an empty window).
    pub fn psi(&self) -> f64 {
        let n = self.n;
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
    fn calibration_records_how_far_training_windows_wander() {
        // A slow sine: each 500-value window covers a small part of the range, so windows are
        // far from the whole (large PSI), unlike shuffled values.
        let slow: Vec<f64> = (0..5000).map(|i| (i as f64 / 800.0).sin()).collect();
        let r = PsiReference::fit(&slow, 10).unwrap().calibrate(&slow, 500);
        assert!(r.train_max > 1.0, "{}", r.train_max);
        assert!(r.train_median <= r.train_max);
        let mixed: Vec<f64> = (0..5000).map(|i| ((i * 7919) % 5000) as f64).collect();
        let q = PsiReference::fit(&mixed, 10)
            .unwrap()
            .calibrate(&mixed, 500);
        assert!(q.train_max < 0.05, "{}", q.train_max);
    }

    #[test]
    fn the_window_slides_a_block_at_a_time() {
        let train: Vec<f64> = (0..1000).map(f64::from).collect();
        let r = PsiReference::fit(&train, 10).unwrap();
        let mut m = PsiMonitor::new(r, 200);
        for i in 0..200 {
            m.update(f64::from(i));
        }
        assert!(m.is_full());
        assert_eq!(m.len(), 200);
        // Ten more values: the oldest block (10 values) leaves once the new block is complete.
        for i in 0..9 {
            m.update(f64::from(900 + i));
            assert_eq!(m.len(), 201 + i as usize);
        }
        m.update(909.0);
        assert_eq!(m.len(), 200);
        assert!(m.psi() > 0.5);
        let copy: PsiMonitor = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(copy.psi(), m.psi());
    }

    #[test]
    fn constant_or_short_training_values_give_no_reference() {
        assert!(PsiReference::fit(&[1.0; 100], 10).is_none());
        assert!(PsiReference::fit(&[1.0, 2.0], 10).is_none());
    }
}
