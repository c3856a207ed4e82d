//! The fixed parameters of the synthetic market: currency start values and volatilities, the
//! factor correlation, stochastic-volatility and seasonality profiles, spreads and tick rates.

use bqx_domain::{Currency, Pair};

/// Number of currencies (factors).
pub(crate) const N: usize = 8;

/// Intrabar substeps simulated per bar.
pub(crate) const SUBSTEPS: usize = 6;

/// Trading seconds in a year: 52 weeks of 5 × 24 open hours (260 trading days).
pub(crate) const TRADING_SECS_PER_YEAR: f64 = 260.0 * 86_400.0;

/// Start value of each currency in US dollars (priority order EUR … JPY).
pub(crate) const START_USD: [f64; N] = [1.08, 1.27, 0.66, 0.61, 1.0, 0.74, 1.13, 1.0 / 150.0];

/// Annualized volatility of each currency's log value in the common numeraire. With the
/// correlation below, pair volatilities range from about 6 % (EURGBP, EURCHF, AUDNZD, USDCAD)
/// to about 12.5 % (AUDJPY, NZDJPY).
pub(crate) const VOL: [f64; N] = [0.055, 0.062, 0.080, 0.082, 0.050, 0.055, 0.062, 0.080];

/// Loadings of each currency's shock on five unit-variance common factors:
/// dollar, risk-on, safe haven, Europe, antipodean. The rest of each shock's variance is
/// idiosyncratic, so `B Bᵀ + diag(1 − ‖B_c‖²)` is a correlation matrix that is positive
/// definite by construction (every idiosyncratic share is > 0).
const LOADINGS: [[f64; 5]; N] = [
    [-0.30, 0.05, 0.00, 0.70, 0.00],  // EUR
    [-0.25, 0.25, 0.00, 0.55, 0.00],  // GBP
    [-0.25, 0.60, 0.00, 0.00, 0.55],  // AUD
    [-0.25, 0.55, 0.00, 0.00, 0.60],  // NZD
    [0.80, 0.00, 0.20, 0.00, 0.00],   // USD
    [0.30, 0.50, 0.00, 0.00, 0.00],   // CAD
    [-0.20, -0.20, 0.50, 0.60, 0.00], // CHF
    [-0.20, -0.45, 0.60, 0.00, 0.00], // JPY
];

/// Stationary standard deviation and half-life (trading seconds) of the shared log-volatility
/// component.
pub(crate) const LOGVOL_SHARED_SD: f64 = 0.30;
pub(crate) const LOGVOL_SHARED_HALF_LIFE: f64 = 5.0 * 86_400.0;
/// Stationary standard deviation and half-life of each currency's own log-volatility component.
pub(crate) const LOGVOL_OWN_SD: f64 = 0.20;
pub(crate) const LOGVOL_OWN_HALF_LIFE: f64 = 86_400.0;

/// Half-life, in years, of the weak pull of each currency's log value back to its start value
/// (keeps multi-year markets in plausible price ranges; invisible at intraday horizons).
pub(crate) const MEAN_REVERSION_HALF_LIFE_YEARS: f64 = 3.0;

/// News jumps: events per trading day across all currencies, and the share of each currency's
/// variance they carry. Only for bars short enough that a jump is a rare event in a bar.
pub(crate) const JUMPS_PER_DAY: f64 = 1.5;
pub(crate) const JUMP_VARIANCE_SHARE: f64 = 0.05;

/// Variance of a weekend gap, in trading seconds of ordinary diffusion (one hour: small).
pub(crate) const GAP_EQUIVALENT_SECS: f64 = 3_600.0;

/// The factor correlation matrix.
pub(crate) fn correlation() -> [[f64; N]; N] {
    let mut r = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..N {
            r[i][j] = if i == j {
                1.0
            } else {
                (0..5).map(|k| LOADINGS[i][k] * LOADINGS[j][k]).sum()
            };
        }
    }
    r
}

/// Lower-triangular Cholesky factor of a symmetric matrix, or `None` when it is not positive
/// definite.
pub(crate) fn cholesky(a: &[[f64; N]; N]) -> Option<[[f64; N]; N]> {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                let d = a[i][i] - s;
                if d <= 1e-12 || !d.is_finite() {
                    return None;
                }
                l[i][j] = d.sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    Some(l)
}

/// Cholesky factor of the factor correlation; panics if the constructed matrix were not
/// positive definite (it is by construction, and a unit test checks it).
pub(crate) fn correlation_cholesky() -> [[f64; N]; N] {
    cholesky(&correlation()).expect("the factor correlation matrix must be positive definite")
}

/// Relative volatility by hour of day (UTC) shared by all currencies: quiet Asian hours, the
/// London open, the London/New York overlap, a thin rollover hour. Not normalized.
const HOURLY_ACTIVITY: [f64; 24] = [
    0.75, 0.80, 0.70, 0.60, 0.55, 0.55, 0.75, // 00-06 Tokyo / Sydney
    1.25, 1.30, 1.15, 1.05, 1.00, // 07-11 London open and morning
    1.25, 1.55, 1.50, 1.35, 1.00, // 12-16 New York open, overlap, London fix
    0.80, 0.70, 0.65, 0.55, // 17-20 New York afternoon
    0.40, 0.50, 0.65, // 21-23 rollover, Wellington / Sydney open
];

fn normalize(profile: [f64; 24]) -> [f64; 24] {
    let mean_sq = profile.iter().map(|v| v * v).sum::<f64>() / 24.0;
    let k = mean_sq.sqrt();
    profile.map(|v| v / k)
}

/// The common hourly volatility multiplier, normalized so its mean square over the day is 1.
pub(crate) fn common_seasonality() -> [f64; 24] {
    normalize(HOURLY_ACTIVITY)
}

/// Per-currency hourly volatility multipliers (mean square 1 over the day): the common profile,
/// tilted up in the currency's home session (Asia-Pacific for AUD, NZD, JPY; Europe for EUR,
/// GBP, CHF; North America for USD, CAD).
pub(crate) fn currency_seasonality() -> [[f64; 24]; N] {
    let mut out = [[0.0; 24]; N];
    for c in Currency::ALL {
        let mut p = HOURLY_ACTIVITY;
        for (h, v) in p.iter_mut().enumerate() {
            let home = match c {
                Currency::AUD | Currency::NZD | Currency::JPY => !(7..22).contains(&h),
                Currency::EUR | Currency::GBP | Currency::CHF => (7..16).contains(&h),
                Currency::USD | Currency::CAD => (12..20).contains(&h),
            };
            if home {
                *v *= 1.25;
            }
        }
        out[c.priority()] = normalize(p);
    }
    out
}

/// Typical spread of a pair in pips: majors 0.6-1.0, liquid crosses 1.5-3, thin crosses up to 4.
pub(crate) fn base_spread_pips(p: Pair) -> f64 {
    match p.name() {
        "EURUSD" => 0.6,
        "USDJPY" => 0.7,
        "AUDUSD" => 0.8,
        "GBPUSD" => 0.9,
        "USDCAD" | "USDCHF" | "NZDUSD" => 1.0,
        "EURGBP" | "EURJPY" => 1.5,
        "EURCHF" => 1.7,
        "AUDJPY" => 1.8,
        "EURAUD" | "CADJPY" | "AUDCAD" => 2.2,
        "GBPJPY" => 2.3,
        "EURCAD" | "CHFJPY" | "NZDJPY" => 2.4,
        "AUDNZD" | "AUDCHF" => 2.6,
        "GBPCHF" => 2.8,
        "GBPAUD" | "CADCHF" => 3.0,
        "GBPCAD" | "NZDCAD" => 3.2,
        "EURNZD" => 3.4,
        "NZDCHF" => 3.6,
        _ => 4.0, // GBPNZD
    }
}

/// Spread multiplier by hour of day (UTC): widest around the daily rollover (21:00-22:00 UTC),
/// wide in the thin hours after it and through the Asian session.
pub(crate) fn spread_hour_multiplier(hour: usize) -> f64 {
    match hour {
        21 => 4.0,
        22 => 2.0,
        23 => 1.5,
        0..=6 => 1.3,
        _ => 1.0,
    }
}

/// Average tick count per minute of a pair in normal activity: liquid pairs tick more often.
pub(crate) fn ticks_per_minute(p: Pair) -> f64 {
    75.0 / base_spread_pips(p).powf(0.6)
}

/// Price tick (pip / 10) as a power-of-ten scale: 1e5 for most pairs, 1e3 for JPY-quoted ones.
pub(crate) fn price_scale(p: Pair) -> f64 {
    if p.quote() == Currency::JPY { 1e3 } else { 1e5 }
}

/// Number of decimals of a pair's price tick (5, or 3 for JPY-quoted pairs).
pub(crate) fn price_decimals(p: Pair) -> u32 {
    if p.quote() == Currency::JPY { 3 } else { 5 }
}

/// Unconditional annualized volatility of a pair's log price.
pub(crate) fn pair_vol(p: Pair, corr: &[[f64; N]; N]) -> f64 {
    let (b, q) = (p.base().priority(), p.quote().priority());
    (VOL[b] * VOL[b] + VOL[q] * VOL[q] - 2.0 * corr[b][q] * VOL[b] * VOL[q]).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_is_a_positive_definite_correlation_matrix() {
        for row in LOADINGS {
            let s: f64 = row.iter().map(|v| v * v).sum();
            assert!(s < 0.9, "idiosyncratic share must stay positive: {s}");
        }
        let r = correlation();
        let l = correlation_cholesky();
        for i in 0..N {
            assert_eq!(r[i][i], 1.0);
            for j in 0..N {
                assert_eq!(r[i][j], r[j][i]);
                assert!(r[i][j].abs() < 1.0 || i == j);
                // L Lᵀ reproduces R.
                let v: f64 = (0..N).map(|k| l[i][k] * l[j][k]).sum();
                assert!((v - r[i][j]).abs() < 1e-12);
            }
        }
        let mut bad = r;
        bad[0][1] = 1.5;
        bad[1][0] = 1.5;
        assert!(cholesky(&bad).is_none());
    }

    #[test]
    fn pair_vols_are_plausible_and_seasonality_is_normalized() {
        let r = correlation();
        for p in Pair::ALL {
            let v = pair_vol(p, &r);
            assert!((0.05..0.13).contains(&v), "{p}: {v}");
        }
        let mean_sq = |p: &[f64; 24]| p.iter().map(|v| v * v).sum::<f64>() / 24.0;
        assert!((mean_sq(&common_seasonality()) - 1.0).abs() < 1e-12);
        for p in currency_seasonality() {
            assert!((mean_sq(&p) - 1.0).abs() < 1e-12);
            // London/New York overlap busier than the middle of the Asian session.
            assert!(p[13] > 1.5 * p[4]);
        }
        for p in Pair::ALL {
            let s = base_spread_pips(p);
            let major = p.base() == Currency::USD || p.quote() == Currency::USD;
            if major {
                assert!((0.6..=1.0).contains(&s), "{p}");
            } else {
                assert!((1.5..=4.0).contains(&s), "{p}");
            }
        }
    }
}
