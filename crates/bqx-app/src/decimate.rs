//! Server-side decimation of long series for charts: per bucket of consecutive points, keep the
//! points where each series reaches its minimum and maximum, so spikes and drawdowns survive
//! (a plain stride would drop them).

/// Indices (increasing) of at most `max_points` points of the equally long `series`: the first
/// and last point, and in each of the buckets in between, the positions of every series'
/// minimum and maximum. All indices when the series are short enough. NaN values are skipped
/// when looking for extremes.
pub fn decimate_minmax(series: &[&[f64]], max_points: usize) -> Vec<usize> {
    let n = series.first().map_or(0, |s| s.len());
    debug_assert!(series.iter().all(|s| s.len() == n));
    if n <= max_points.max(2) {
        return (0..n).collect();
    }
    let per_bucket = 2 * series.len().max(1);
    let buckets = ((max_points.saturating_sub(2)) / per_bucket).max(1);
    let width = (n - 2).div_ceil(buckets);
    let mut keep = Vec::with_capacity(max_points);
    keep.push(0);
    let mut start = 1;
    while start < n - 1 {
        let end = (start + width).min(n - 1);
        let mut picked: Vec<usize> = Vec::with_capacity(per_bucket);
        for s in series {
            let mut lo: Option<usize> = None;
            let mut hi: Option<usize> = None;
            for (i, &v) in s.iter().enumerate().take(end).skip(start) {
                if v.is_nan() {
                    continue;
                }
                if lo.is_none_or(|j| v < s[j]) {
                    lo = Some(i);
                }
                if hi.is_none_or(|j| v > s[j]) {
                    hi = Some(i);
                }
            }
            picked.extend(lo);
            picked.extend(hi);
        }
        if picked.is_empty() {
            picked.push(start);
        }
        picked.sort_unstable();
        picked.dedup();
        keep.extend(picked);
        start = end;
    }
    keep.push(n - 1);
    keep
}

/// `x[i] − max(x[..=i])`: how far each point is below its running maximum (≤ 0).
pub fn drawdown(x: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    x.iter()
        .map(|&v| {
            peak = peak.max(v);
            v - peak
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_series_are_kept_whole() {
        let x = [1.0, 2.0, 3.0];
        assert_eq!(decimate_minmax(&[&x], 10), vec![0, 1, 2]);
    }

    #[test]
    fn extremes_survive_and_the_budget_holds() {
        let mut x: Vec<f64> = (0..100_000).map(|i| (i as f64 * 0.001).sin()).collect();
        x[31_337] = 50.0;
        x[77_777] = -50.0;
        let y: Vec<f64> = (0..100_000).map(|i| i as f64).collect();
        for budget in [10, 100, 1000, 5000] {
            let keep = decimate_minmax(&[&x, &y], budget);
            assert!(keep.len() <= budget, "{} > {budget}", keep.len());
            assert!(keep.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(keep[0], 0);
            assert_eq!(*keep.last().unwrap(), 99_999);
            assert!(keep.contains(&31_337) && keep.contains(&77_777));
        }
    }

    #[test]
    fn drawdown_is_distance_below_the_running_peak() {
        assert_eq!(
            drawdown(&[0.0, 1.0, 0.5, 2.0, 1.0]),
            vec![0.0, 0.0, -0.5, 0.0, -1.0]
        );
    }
}
