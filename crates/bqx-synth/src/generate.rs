//! The generator: a sequential factor simulation (all random draws of the factors in one fixed
//! order from one ChaCha stream), then a parallel per-pair derivation of bid bars, spreads and
//! tick volumes (each pair with its own ChaCha stream), so the output does not depend on the
//! number of threads.

use std::f64::consts::LN_2;

use bqx_domain::{BarColumns, MICROS_PER_HOUR, Pair};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::SynthMarket;
use crate::calendar;
use crate::config::{Plant, SynthConfig, SynthError};
use crate::model::{self, N, SUBSTEPS, TRADING_SECS_PER_YEAR, VOL};

/// Mid log prices of one pair, bar by bar.
struct LogBars {
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
}

/// What the sequential factor pass hands to the per-pair pass.
struct FactorPaths {
    pairs: Vec<LogBars>,
    /// Per bar, each currency's volatility multiplier (regime × hour of day).
    vol_mult: Vec<[f32; N]>,
}

/// The AR(1) coefficient and innovation scale of a log-volatility component over `secs`.
fn ar_step(secs: f64, half_life: f64, sd: f64) -> (f64, f64) {
    let phi = (-secs * LN_2 / half_life).exp();
    (phi, sd * (1.0 - phi * phi).max(0.0).sqrt())
}

fn utc_hour(us: i64) -> usize {
    us.div_euclid(MICROS_PER_HOUR).rem_euclid(24) as usize
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

/// Generates the market described by `cfg`. See the crate documentation for the model.
pub fn generate(cfg: &SynthConfig) -> Result<SynthMarket, SynthError> {
    cfg.validate()?;
    let tf_us = cfg.timeframe.micros();
    let ts = calendar::bar_times(cfg.start_micros, tf_us, cfg.is_daily(), cfg.bars);
    let paths = simulate_factors(cfg, &ts);
    let corr = model::correlation();
    let FactorPaths { pairs, vol_mult } = paths;
    let series: Vec<(Pair, BarColumns)> = pairs
        .into_par_iter()
        .enumerate()
        .map(|(i, logs)| {
            let pair = Pair::ALL[i];
            (pair, finish_pair(cfg, pair, &ts, logs, &vol_mult, &corr))
        })
        .collect();
    Ok(SynthMarket {
        timeframe: cfg.timeframe,
        series,
    })
}

/// Simulates the 8 currency factors with `SUBSTEPS` substeps per bar and records each pair's
/// mid log OHLC.
fn simulate_factors(cfg: &SynthConfig, ts: &[i64]) -> FactorPaths {
    let n = ts.len();
    let daily = cfg.is_daily();
    let chol = model::correlation_cholesky();
    let season = if daily {
        [[1.0; 24]; N]
    } else {
        model::currency_seasonality()
    };
    let common = if daily {
        [1.0; 24]
    } else {
        model::common_seasonality()
    };
    let tf_us = cfg.timeframe.micros();
    let tf_secs = cfg.timeframe.secs() as f64;
    let dt_bar = tf_secs / TRADING_SECS_PER_YEAR;
    let dt_sub = dt_bar / SUBSTEPS as f64;
    let sqrt_sub = dt_sub.sqrt();
    let kappa = LN_2 / model::MEAN_REVERSION_HALF_LIFE_YEARS;

    // News jumps only where a jump is a rare event within a bar.
    let p_jump_base = model::JUMPS_PER_DAY * tf_secs / 86_400.0;
    let jump_share = if p_jump_base <= 0.25 {
        model::JUMP_VARIANCE_SHARE
    } else {
        0.0
    };
    let jumps_per_year_per_ccy = model::JUMPS_PER_DAY / N as f64 * 260.0;
    let jump_sd = VOL.map(|v| v * (jump_share / jumps_per_year_per_ccy).sqrt());
    let diff_vol = VOL.map(|v| v * (1.0 - jump_share).sqrt());
    let gap_scale = (model::GAP_EQUIVALENT_SECS / TRADING_SECS_PER_YEAR).sqrt();

    let var_h = model::LOGVOL_SHARED_SD.powi(2) + model::LOGVOL_OWN_SD.powi(2);
    let ar_g = |secs| {
        ar_step(
            secs,
            model::LOGVOL_SHARED_HALF_LIFE,
            model::LOGVOL_SHARED_SD,
        )
    };
    let ar_i = |secs| ar_step(secs, model::LOGVOL_OWN_HALF_LIFE, model::LOGVOL_OWN_SD);
    let (ar_g_bar, ar_i_bar) = (ar_g(tf_secs), ar_i(tf_secs));

    let x0 = model::START_USD.map(f64::ln);
    let mut x = x0;

    // Stream 0 of the seed's ChaCha key drives every factor draw, in a fixed order.
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(0);
    let mut g = model::LOGVOL_SHARED_SD * normal(&mut rng);
    let mut own = [0.0; N];
    for o in own.iter_mut() {
        *o = model::LOGVOL_OWN_SD * normal(&mut rng);
    }

    let plants: Vec<(usize, usize, usize, usize, f64)> = cfg
        .plants
        .iter()
        .filter_map(|p| match *p {
            Plant::LeadLag {
                leader,
                follower,
                lag,
                strength,
            } => Some((
                leader.index(),
                follower.base().priority(),
                follower.quote().priority(),
                lag,
                strength / 2.0,
            )),
            _ => None,
        })
        .collect();
    // Regime switches: (from, volatility factor) and (from, base, quote, half drift per bar).
    let vol_breaks: Vec<(usize, f64)> = cfg
        .plants
        .iter()
        .filter_map(|p| match *p {
            Plant::VolBreak { from, factor } => Some((from, factor)),
            _ => None,
        })
        .collect();
    let drifts: Vec<(usize, usize, usize, f64)> = cfg
        .plants
        .iter()
        .filter_map(|p| match *p {
            Plant::Drift {
                pair,
                from,
                per_bar,
            } => Some((
                from,
                pair.base().priority(),
                pair.quote().priority(),
                per_bar / 2.0,
            )),
            _ => None,
        })
        .collect();

    let legs: Vec<(usize, usize)> = Pair::ALL
        .iter()
        .map(|p| (p.base().priority(), p.quote().priority()))
        .collect();
    let mut pairs: Vec<LogBars> = (0..Pair::COUNT)
        .map(|_| LogBars {
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
        })
        .collect();
    let mut vol_mult = Vec::with_capacity(n);
    let mut xs = [[0.0; N]; SUBSTEPS + 1];

    for t in 0..n {
        let elapsed = if t == 0 { tf_us } else { ts[t] - ts[t - 1] };
        let gap = elapsed > tf_us;

        // 1. Log-volatility: AR(1) over the elapsed time (shared + own component).
        if t > 0 {
            let ((pg, sg), (pi, si)) = if gap {
                let secs = elapsed as f64 / 1e6;
                (ar_g(secs), ar_i(secs))
            } else {
                (ar_g_bar, ar_i_bar)
            };
            g = pg * g + sg * normal(&mut rng);
            for o in own.iter_mut() {
                *o = pi * *o + si * normal(&mut rng);
            }
        }
        let hour = utc_hour(ts[t]);
        let mut regime = [0.0; N];
        let mut m = [0.0; N];
        let mut vm = [0.0f32; N];
        let broken: f64 = vol_breaks
            .iter()
            .filter(|&&(from, _)| t >= from)
            .map(|&(_, f)| f)
            .product();
        for c in 0..N {
            // E[regime²] = 1, so the long-run variance is VOL² (times a planted break).
            regime[c] = (g + own[c] - var_h).exp() * broken;
            m[c] = regime[c] * season[c][hour];
            vm[c] = m[c] as f32;
        }
        vol_mult.push(vm);

        // 2. Weekend gap: a small correlated shock in the first substep.
        let mut first = [0.0; N];
        if gap {
            let z = correlated(&chol, &mut rng);
            for c in 0..N {
                first[c] = VOL[c] * regime[c] * gap_scale * z[c];
            }
        }

        // 3. News jump: rare, more likely in busy hours, in one currency at one substep.
        let mut jump: Option<(usize, usize, f64)> = None;
        if jump_share > 0.0 {
            let p = (p_jump_base * common[hour] * common[hour]).min(0.9);
            if rng.r#gen::<f64>() < p {
                let c = rng.gen_range(0..N);
                let k = rng.gen_range(1..=SUBSTEPS);
                jump = Some((c, k, jump_sd[c] * regime[c] * normal(&mut rng)));
            }
        }

        // 4. Planted lead-lag: the leader's mid log return of bar t − lag, split over the
        //    follower's two currencies and spread evenly over the substeps.
        let mut drift = [0.0; N];
        for &(leader, b, q, lag, half) in &plants {
            if t >= lag {
                let lb = &pairs[leader];
                let r = lb.close[t - lag] - lb.open[t - lag];
                drift[b] += half * r / SUBSTEPS as f64;
                drift[q] -= half * r / SUBSTEPS as f64;
            }
        }

        for &(from, b, q, half) in &drifts {
            if t >= from {
                drift[b] += half / SUBSTEPS as f64;
                drift[q] -= half / SUBSTEPS as f64;
            }
        }

        // 5. Substeps.
        xs[0] = x;
        for (k, slot) in xs.iter_mut().enumerate().skip(1) {
            let z = correlated(&chol, &mut rng);
            for c in 0..N {
                x[c] += diff_vol[c] * m[c] * sqrt_sub * z[c] + drift[c]
                    - kappa * (x[c] - x0[c]) * dt_sub;
            }
            if k == 1 {
                for c in 0..N {
                    x[c] += first[c];
                }
            }
            if let Some((c, jk, size)) = jump
                && jk == k
            {
                x[c] += size;
            }
            *slot = x;
        }

        // 6. Each pair's mid log OHLC from the substep path.
        for (lb, &(b, q)) in pairs.iter_mut().zip(&legs) {
            let open = xs[0][b] - xs[0][q];
            let mut hi = open;
            let mut lo = open;
            for s in &xs[1..] {
                let d = s[b] - s[q];
                hi = hi.max(d);
                lo = lo.min(d);
            }
            lb.open.push(open);
            lb.high.push(hi);
            lb.low.push(lo);
            lb.close.push(xs[SUBSTEPS][b] - xs[SUBSTEPS][q]);
        }
    }
    FactorPaths { pairs, vol_mult }
}

/// Eight standard normals correlated by the Cholesky factor `l`.
#[inline]
fn correlated(l: &[[f64; N]; N], rng: &mut ChaCha8Rng) -> [f64; N] {
    let mut e = [0.0; N];
    for v in e.iter_mut() {
        *v = normal(rng);
    }
    let mut z = [0.0; N];
    for i in 0..N {
        let mut s = 0.0;
        for j in 0..=i {
            s += l[i][j] * e[j];
        }
        z[i] = s;
    }
    z
}

/// Turns one pair's mid log bars into rounded bid bars with spread and tick volume.
fn finish_pair(
    cfg: &SynthConfig,
    pair: Pair,
    ts: &[i64],
    mut logs: LogBars,
    vol_mult: &[[f32; N]],
    corr: &[[f64; N]; N],
) -> BarColumns {
    let n = ts.len();
    let daily = cfg.is_daily();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    rng.set_stream(1 + pair.index() as u64);

    let (b, q) = (pair.base().priority(), pair.quote().priority());
    let (sb, sq, rho) = (VOL[b], VOL[q], corr[b][q]);
    let sp = model::pair_vol(pair, corr);
    let scale = model::price_scale(pair);
    let base_spread = model::base_spread_pips(pair) * pair.pip();
    let tf_secs = cfg.timeframe.secs() as f64;
    let sqrt_dt = (tf_secs / TRADING_SECS_PER_YEAR).sqrt();
    let ticks = model::ticks_per_minute(pair) * tf_secs / 60.0;
    let (spread_sd, volume_sd) = if daily { (0.1, 0.1) } else { (0.2, 0.25) };
    let season = if daily {
        [[1.0; 24]; N]
    } else {
        model::currency_seasonality()
    };
    // Expected high-low range of a 6-step random walk, in bar standard deviations.
    const RANGE_PER_SD: f64 = 1.3;

    let mut volume = Vec::with_capacity(n);
    let mut spread = Vec::with_capacity(n);
    let mut prev_close_log = f64::NAN;
    let mut prev_close_mid = f64::NAN;
    for t in 0..n {
        let hour = utc_hour(ts[t]);
        let mb = vol_mult[t][b] as f64;
        let mq = vol_mult[t][q] as f64;
        let pair_sd = |mb: f64, mq: f64| {
            let var = (sb * mb).powi(2) + (sq * mq).powi(2) - 2.0 * rho * sb * sq * mb * mq;
            var.max(1e-12).sqrt()
        };
        // Activity of the bar (volatility regime and hour of day) drives tick volume; the
        // regime alone widens spreads (thin hours widen them through the hour multiplier).
        let sd = pair_sd(mb, mq);
        let activity = sd / sp;
        let regime = pair_sd(mb / season[b][hour], mq / season[q][hour]) / sp;
        let n_spread = normal(&mut rng);
        let n_volume = normal(&mut rng);

        let hour_mult = if daily {
            1.0
        } else {
            model::spread_hour_multiplier(hour)
        };
        let noise = (spread_sd * n_spread - 0.5 * spread_sd * spread_sd).exp();
        let spread_ticks = (base_spread * hour_mult * regime.sqrt() * noise * scale)
            .round()
            .max(1.0);
        let s = spread_ticks / scale;
        let half = 0.5 * s;

        let (lo, lh, ll, lc) = (logs.open[t], logs.high[t], logs.low[t], logs.close[t]);
        // The open is the previous close on mids, so reuse its exp.
        let mid_open = if lo == prev_close_log {
            prev_close_mid
        } else {
            lo.exp()
        };
        let mid_close = lc.exp();
        prev_close_log = lc;
        prev_close_mid = mid_close;
        let bid = |mid: f64| ((mid - half) * scale).round().max(1.0) / scale;
        let (o, c) = (bid(mid_open), bid(mid_close));
        let h = bid(lh.exp()).max(o).max(c);
        let l = bid(ll.exp()).min(o).min(c);
        logs.open[t] = o;
        logs.high[t] = h;
        logs.low[t] = l;
        logs.close[t] = c;

        let range_ratio = (lh - ll) / (RANGE_PER_SD * sd * sqrt_dt);
        let vnoise = (volume_sd * n_volume - 0.5 * volume_sd * volume_sd).exp();
        let v = (ticks * activity * (0.5 + 0.5 * range_ratio) * vnoise)
            .round()
            .max(1.0);
        volume.push(v);
        spread.push(s);
    }
    BarColumns {
        ts: ts.to_vec(),
        open: logs.open,
        high: logs.high,
        low: logs.low,
        close: logs.close,
        volume: Some(volume),
        spread: Some(spread),
    }
}
