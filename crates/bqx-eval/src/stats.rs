//! Small, dependency-free statistics used by the other modules: moments, quantiles, ranks,
//! correlations and the standard normal distribution.
//!
//! Conventions (they match numpy/scipy defaults, which the golden test relies on):
//! - `std_dev` is the sample standard deviation (ddof = 1);
//! - `quantile` interpolates linearly between order statistics (numpy's default, Hyndman–Fan
//!   type 7);
//! - `skewness` and `kurtosis` are the biased moment estimators (`scipy.stats.skew`,
//!   `scipy.stats.kurtosis(fisher=False)`): kurtosis is **not** excess kurtosis (3 for a normal).

/// Arithmetic mean; `NaN` for an empty slice.
pub fn mean(x: &[f64]) -> f64 {
    if x.is_empty() {
        return f64::NAN;
    }
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1), two-pass; `NaN` for fewer than 2 values.
pub fn std_dev(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return f64::NAN;
    }
    let m = mean(x);
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (x.len() - 1) as f64).sqrt()
}

/// Biased sample skewness `m3 / m2^1.5`; `NaN` for fewer than 2 values or zero variance.
pub fn skewness(x: &[f64]) -> f64 {
    let (m2, m3, _) = central_moments(x);
    if m2.is_nan() || m2 <= 0.0 {
        return f64::NAN;
    }
    m3 / m2.powf(1.5)
}

/// Biased sample kurtosis `m4 / m2²` (normal = 3, not excess); `NaN` for fewer than 2 values or
/// zero variance.
pub fn kurtosis(x: &[f64]) -> f64 {
    let (m2, _, m4) = central_moments(x);
    if m2.is_nan() || m2 <= 0.0 {
        return f64::NAN;
    }
    m4 / (m2 * m2)
}

fn central_moments(x: &[f64]) -> (f64, f64, f64) {
    if x.len() < 2 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let m = mean(x);
    let n = x.len() as f64;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &v in x {
        let d = v - m;
        let d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
    }
    (m2 / n, m3 / n, m4 / n)
}

/// Quantile `q ∈ [0, 1]` of an ascending slice, linear interpolation (numpy's default).
/// `NaN` for an empty slice.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let q = q.clamp(0.0, 1.0);
    let pos = q * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = pos - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * frac
}

/// Quantile `q ∈ [0, 1]` of the finite values of `x` (non-finite values are ignored).
pub fn quantile(x: &[f64], q: f64) -> f64 {
    let mut v: Vec<f64> = x.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

/// 1-based ranks; tied values get the average of the ranks they span (`scipy.stats.rankdata`).
/// The input must not contain `NaN`.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]).then(a.cmp(&b)));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && x[idx[j]] == x[idx[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j share their average.
        let avg = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = avg;
        }
        i = j;
    }
    ranks
}

/// Pearson correlation; `NaN` when either side is constant or has fewer than 2 values.
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return f64::NAN;
    }
    let (ma, mb) = (mean(&a[..n]), mean(&b[..n]));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (da, db) = (a[i] - ma, b[i] - mb);
        sab += da * db;
        saa += da * da;
        sbb += db * db;
    }
    if saa <= 0.0 || sbb <= 0.0 {
        return f64::NAN;
    }
    sab / (saa * sbb).sqrt()
}

/// Spearman rank correlation (Pearson correlation of average ranks, so ties are handled as in
/// `scipy.stats.spearmanr`). The inputs must not contain `NaN`.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&average_ranks(a), &average_ranks(b))
}

/// `erfc(x)` to ~1e-15 relative accuracy: a positive-term series for |x| < 2.5 and a continued
/// fraction beyond.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    const FRAC_2_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
    if x < 2.5 {
        // erf(x) = 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)): all terms positive.
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        let mut k = 0.0;
        loop {
            k += 1.0;
            term *= 2.0 * x2 / (2.0 * k + 1.0);
            sum += term;
            if term < 1e-17 * sum || k > 200.0 {
                break;
            }
        }
        1.0 - FRAC_2_SQRT_PI * (-x2).exp() * sum
    } else {
        if x > 27.0 {
            return 0.0;
        }
        // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), evaluated backwards.
        let mut f = x;
        for k in (1..=120).rev() {
            f = x + (k as f64 / 2.0) / f;
        }
        (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
    }
}

/// Standard normal cumulative distribution function Φ(x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile Φ⁻¹(p) (Acklam's rational approximation refined by one Halley step
/// on [`normal_cdf`]). `−∞` at 0, `+∞` at 1, `NaN` outside [0, 1].
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || p.is_nan() {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const P_LOW: f64 = 0.02425;
    let x = if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_distribution_matches_reference_values() {
        // Reference values: scipy.stats.norm.cdf / ppf.
        let cdf = [
            (0.0, 0.5),
            (1.0, 0.841_344_746_068_542_9),
            (1.96, 0.975_002_104_851_779_5),
            (-2.5, 0.006_209_665_325_776_132),
            (-5.0, 2.866_515_718_791_933e-7),
            (3.7, 0.999_892_200_266_522_6),
        ];
        for (x, want) in cdf {
            let got = normal_cdf(x);
            assert!(
                ((got - want) / want).abs() < 1e-12,
                "Φ({x}) = {got}, want {want}"
            );
        }
        for p in [1e-10, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999_999] {
            let x = normal_quantile(p);
            assert!(
                ((normal_cdf(x) - p) / p).abs() < 1e-12,
                "Φ(Φ⁻¹({p})) != {p}"
            );
        }
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0]),
            vec![4.0, 1.0, 4.0, 2.0, 4.0]
        );
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let x = [4.0, 1.0, 3.0, 2.0, f64::NAN];
        assert_eq!(quantile(&x, 0.5), 2.5);
        assert_eq!(quantile(&x, 0.0), 1.0);
        assert_eq!(quantile(&x, 1.0), 4.0);
        assert!((quantile(&x, 0.1) - 1.3).abs() < 1e-15);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn moments_of_a_small_vector() {
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(mean(&x), 4.0);
        assert!((std_dev(&x) - 3.535_533_905_932_737_6).abs() < 1e-14);
        // m2 = 10, m3 = 36, m4 = 278.8 → skew = 36 / 10^1.5, kurt = 278.8 / 100.
        assert!((skewness(&x) - 36.0 / 10f64.powf(1.5)).abs() < 1e-12);
        assert!((kurtosis(&x) - 2.788).abs() < 1e-12);
    }
}
