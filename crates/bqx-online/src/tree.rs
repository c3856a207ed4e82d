//! A Hoeffding tree regressor: an incremental regression tree that splits a leaf once the
//! Hoeffding bound says its best split is better than the runner-up with high confidence
//! (Domingos & Hulten 2000; the regression form of Ikonomovska et al.'s FIMT-DD with mean
//! leaves).
//!
//! Each leaf keeps the count, mean and variance of the targets it has seen and, per input, a
//! histogram observer: the inputs are standardized, so fixed bins over `[−3, 3]` (plus the two
//! tails) hold the count, sum and sum of squares of the targets falling in each. Every
//! `grace_period` targets the leaf scores the split at every bin edge by its variance reduction
//! `VR = var(parent) − Σ (nᵢ/n)·var(childᵢ)` (river's criterion); with `r` the ratio of the best
//! split of another input to the best, it splits when `r < 1 − ε` or `ε < τ` (a tie), where
//! `ε = √(R²·ln(1/δ) / (2n))` and `R = 1` (r lies in [0, 1]). Splitting stops at `max_depth` or
//! `max_leaves`; a leaf that can no longer split drops its histograms. A leaf predicts the mean
//! of its targets.

use serde::{Deserialize, Serialize};

/// Hyper-parameters (river's HoeffdingTreeRegressor defaults where they exist).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TreeConfig {
    /// Targets a leaf sees between two split attempts.
    pub grace_period: u32,
    /// Confidence of the Hoeffding bound (1 − δ).
    pub delta: f64,
    /// Tie threshold τ.
    pub tau: f64,
    pub max_depth: u32,
    pub max_leaves: u32,
    /// Histogram bins over [−3, 3] per input (plus two tail bins).
    pub bins: u32,
    /// A split leaves at least this share of the leaf's targets on each side.
    pub min_branch_share: f64,
}

impl Default for TreeConfig {
    fn default() -> Self {
        TreeConfig {
            grace_period: 200,
            delta: 1e-7,
            tau: 0.05,
            max_depth: 12,
            max_leaves: 1024,
            bins: 64,
            min_branch_share: 0.01,
        }
    }
}

/// Running count, mean and sum of squared deviations (Welford); stored as `[n, mean, m2]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 3]", into = "[f64; 3]")]
struct Moments {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn push(&mut self, y: f64) {
        self.n += 1.0;
        let d = y - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (y - self.mean);
    }

    fn var(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            (self.m2 / self.n).max(0.0)
        }
    }
}

/// Count, sum and sum of squares: cheap to add and subtract; stored as `[n, s, s2]` (a
/// checkpoint holds thousands of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 3]", into = "[f64; 3]")]
struct Sums {
    n: f64,
    s: f64,
    s2: f64,
}

impl From<[f64; 3]> for Sums {
    fn from([n, s, s2]: [f64; 3]) -> Sums {
        Sums { n, s, s2 }
    }
}

impl From<Sums> for [f64; 3] {
    fn from(v: Sums) -> [f64; 3] {
        [v.n, v.s, v.s2]
    }
}

impl From<[f64; 3]> for Moments {
    fn from([n, mean, m2]: [f64; 3]) -> Moments {
        Moments { n, mean, m2 }
    }
}

impl From<Moments> for [f64; 3] {
    fn from(v: Moments) -> [f64; 3] {
        [v.n, v.mean, v.m2]
    }
}

impl Sums {
    fn var(&self) -> f64 {
        if self.n < 2.0 {
            0.0
        } else {
            let m = self.s / self.n;
            (self.s2 / self.n - m * m).max(0.0)
        }
    }

    fn minus(&self, o: &Sums) -> Sums {
        Sums {
            n: self.n - o.n,
            s: self.s - o.s,
            s2: self.s2 - o.s2,
        }
    }

    fn plus(&self, o: &Sums) -> Sums {
        Sums {
            n: self.n + o.n,
            s: self.s + o.s,
            s2: self.s2 + o.s2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Node {
    Leaf {
        depth: u32,
        stats: Moments,
        seen_at_last_try: f64,
        /// `inputs × (bins + 2)` target sums per histogram bin, input-major.
        hist: Vec<Sums>,
    },
    Split {
        input: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
}

/// The tree; nodes live in one arena (index 0 is the root).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoeffdingTree {
    cfg: TreeConfig,
    inputs: usize,
    nodes: Vec<Node>,
    leaves: u32,
    updates: u64,
}

const RANGE: f64 = 3.0;

impl TreeConfig {
    /// The online loop's member: a small tree (16 bins, depth ≤ 6, ≤ 32 leaves), so that its
    /// state stays small in every checkpoint.
    pub fn member() -> TreeConfig {
        TreeConfig {
            bins: 16,
            max_depth: 6,
            max_leaves: 32,
            ..TreeConfig::default()
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.grace_period == 0 || self.bins < 2 || self.max_leaves < 1 {
            return Err("tree: grace_period ≥ 1, bins ≥ 2 and max_leaves ≥ 1".into());
        }
        let delta_ok = self.delta > 0.0 && self.delta < 1.0;
        if !delta_ok || !(0.0..0.5).contains(&self.min_branch_share) {
            return Err("tree: delta in (0, 1) and min_branch_share in [0, 0.5)".into());
        }
        Ok(())
    }
}

impl Default for HoeffdingTree {
    /// A tree without inputs (a placeholder).
    fn default() -> HoeffdingTree {
        HoeffdingTree::new(0, TreeConfig::member())
    }
}

impl HoeffdingTree {
    pub fn new(inputs: usize, cfg: TreeConfig) -> HoeffdingTree {
        let mut t = HoeffdingTree {
            cfg,
            inputs,
            nodes: Vec::new(),
            leaves: 1,
            updates: 0,
        };
        t.nodes.push(t.leaf(0));
        t
    }

    /// A new leaf; at the depth limit it keeps no histograms (it will never split).
    fn leaf(&self, depth: u32) -> Node {
        let bins = if depth < self.cfg.max_depth {
            self.inputs * (self.cfg.bins as usize + 2)
        } else {
            0
        };
        Node::Leaf {
            depth,
            stats: Moments::default(),
            seen_at_last_try: 0.0,
            hist: vec![Sums::default(); bins],
        }
    }

    pub fn leaves(&self) -> u32 {
        self.leaves
    }

    pub fn updates(&self) -> u64 {
        self.updates
    }

    /// The bin of a standardized value: 0 below −3, `bins + 1` above 3.
    fn bin(&self, z: f64) -> usize {
        let b = self.cfg.bins as f64;
        if z < -RANGE {
            0
        } else if z >= RANGE {
            self.cfg.bins as usize + 1
        } else {
            1 + (((z + RANGE) / (2.0 * RANGE) * b) as usize).min(self.cfg.bins as usize - 1)
        }
    }

    /// The upper edge of bin `k` (the split threshold "≤ edge goes left").
    fn edge(&self, k: usize) -> f64 {
        -RANGE + 2.0 * RANGE * k as f64 / self.cfg.bins as f64
    }

    fn find_leaf(&self, x: &[f64]) -> usize {
        let mut i = 0;
        while let Node::Split {
            input,
            threshold,
            left,
            right,
        } = &self.nodes[i]
        {
            i = if x[*input] <= *threshold {
                *left
            } else {
                *right
            };
        }
        i
    }

    /// The mean target of the leaf `x` falls in (0 before any target).
    pub fn predict(&self, x: &[f64]) -> f64 {
        match &self.nodes[self.find_leaf(x)] {
            Node::Leaf { stats, .. } => stats.mean,
            Node::Split { .. } => unreachable!("find_leaf ends at a leaf"),
        }
    }

    /// Learns `(x, y)`; a non-finite input or target is ignored (`false`).
    pub fn update(&mut self, x: &[f64], y: f64) -> bool {
        if !y.is_finite() || x.len() != self.inputs || x.iter().any(|v| !v.is_finite()) {
            return false;
        }
        self.updates += 1;
        let li = self.find_leaf(x);
        let bins: Vec<usize> = x.iter().map(|&z| self.bin(z)).collect();
        let width = self.cfg.bins as usize + 2;
        let Node::Leaf {
            stats,
            seen_at_last_try,
            hist,
            depth,
        } = &mut self.nodes[li]
        else {
            unreachable!("find_leaf ends at a leaf")
        };
        stats.push(y);
        if hist.is_empty() {
            return true;
        }
        for (j, &b) in bins.iter().enumerate() {
            let h = &mut hist[j * width + b];
            h.n += 1.0;
            h.s += y;
            h.s2 += y * y;
        }
        let due = stats.n - *seen_at_last_try >= f64::from(self.cfg.grace_period);
        let can_grow = *depth < self.cfg.max_depth && self.leaves < self.cfg.max_leaves;
        if due && can_grow {
            *seen_at_last_try = stats.n;
            let depth = *depth;
            if let Some((input, k)) = self.best_split(li) {
                let threshold = self.edge(k);
                let (l, r) = (self.nodes.len(), self.nodes.len() + 1);
                let mut left = self.leaf(depth + 1);
                let mut right = self.leaf(depth + 1);
                // The children start from the parent's histogram sides, so their means are
                // the parent's targets on each side of the split, not zero.
                if let (
                    Node::Leaf { hist, .. },
                    Node::Leaf { stats: ls, .. },
                    Node::Leaf { stats: rs, .. },
                ) = (&self.nodes[li], &mut left, &mut right)
                {
                    let h = &hist[input * width..(input + 1) * width];
                    let below = h[..=k].iter().fold(Sums::default(), |a, b| a.plus(b));
                    let all = h.iter().fold(Sums::default(), |a, b| a.plus(b));
                    let above = all.minus(&below);
                    *ls = Moments {
                        n: below.n,
                        mean: below.s / below.n,
                        m2: below.s2 - below.s * below.s / below.n,
                    };
                    *rs = Moments {
                        n: above.n,
                        mean: above.s / above.n,
                        m2: above.s2 - above.s * above.s / above.n,
                    };
                }
                self.nodes.push(left);
                self.nodes.push(right);
                self.nodes[li] = Node::Split {
                    input,
                    threshold,
                    left: l,
                    right: r,
                };
                self.leaves += 1;
                if self.leaves >= self.cfg.max_leaves {
                    // Full: no leaf will split again, so none needs its histograms (this keeps
                    // a checkpoint of the tree small).
                    for n in &mut self.nodes {
                        if let Node::Leaf { hist, .. } = n {
                            *hist = Vec::new();
                        }
                    }
                }
            }
        }
        true
    }

    /// The input and bin edge of the leaf's best split when the Hoeffding bound allows it.
    fn best_split(&self, li: usize) -> Option<(usize, usize)> {
        let Node::Leaf { stats, hist, .. } = &self.nodes[li] else {
            return None;
        };
        let width = self.cfg.bins as usize + 2;
        let n = stats.n;
        let parent = stats.var();
        if parent <= 0.0 {
            return None;
        }
        let min_side = self.cfg.min_branch_share * n;
        // Best variance reduction per input (the runner-up is another input's best).
        let mut cands: Vec<(f64, usize, usize)> = Vec::new();
        for j in 0..self.inputs {
            let h = &hist[j * width..(j + 1) * width];
            let all = h.iter().fold(Sums::default(), |a, b| a.plus(b));
            let mut below = Sums::default();
            let mut best: Option<(f64, usize)> = None;
            for (k, b) in h.iter().enumerate().take(width - 1) {
                below = below.plus(b);
                let above = all.minus(&below);
                if below.n < min_side || above.n < min_side {
                    continue;
                }
                let vr = parent - (below.n / n) * below.var() - (above.n / n) * above.var();
                if best.is_none_or(|(s, _)| vr > s) {
                    best = Some((vr, k));
                }
            }
            if let Some((vr, k)) = best {
                cands.push((vr, j, k));
            }
        }
        cands.sort_by(|a, b| b.0.total_cmp(&a.0));
        let (best, input, k) = *cands.first()?;
        if best <= 0.0 {
            return None;
        }
        let second = cands.get(1).map_or(0.0, |c| c.0.max(0.0));
        let ratio = second / best;
        let eps = ((1.0 / self.cfg.delta).ln() / (2.0 * n)).sqrt();
        (ratio < 1.0 - eps || eps < self.cfg.tau).then_some((input, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
    }

    #[test]
    fn learns_a_step_in_one_input_and_ignores_the_noise_input() {
        let mut t = HoeffdingTree::new(2, TreeConfig::default());
        let mut s = 7;
        for _ in 0..20_000 {
            let x = [lcg(&mut s) * 2.5, lcg(&mut s) * 2.5];
            let y = if x[0] > 0.5 { 2.0 } else { -1.0 } + 0.1 * lcg(&mut s);
            assert!(t.update(&x, y));
        }
        assert!(t.leaves() >= 2);
        let Node::Split {
            input, threshold, ..
        } = &t.nodes[0]
        else {
            panic!("the root split");
        };
        assert_eq!(*input, 0);
        assert!((threshold - 0.5).abs() <= 0.25 + 1e-12, "{threshold}");
        assert!((t.predict(&[2.0, 0.0]) - 2.0).abs() < 0.1);
        assert!((t.predict(&[-2.0, 0.0]) + 1.0).abs() < 0.1);
    }

    #[test]
    fn a_pure_noise_target_does_not_grow_the_tree_much_and_state_round_trips() {
        let mut t = HoeffdingTree::new(3, TreeConfig::default());
        let mut s = 3;
        for _ in 0..20_000 {
            let x = [lcg(&mut s), lcg(&mut s), lcg(&mut s)];
            t.update(&x, lcg(&mut s));
        }
        assert!(t.leaves() <= 8, "{} leaves on noise", t.leaves());
        let copy: HoeffdingTree =
            serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(copy, t);
        assert!(!t.update(&[f64::NAN, 0.0, 0.0], 1.0));
    }
}
