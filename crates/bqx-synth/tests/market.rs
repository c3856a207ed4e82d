//! Properties of generated markets: determinism, triangles, bar validity, the FX calendar, the
//! writers, planted signals and realistic statistics.

use std::path::PathBuf;
use std::sync::OnceLock;

use bqx_domain::{
    BarColumns, Currency, MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, Pair, Timeframe,
    Triangle, is_fx_weekend, micros_from_datetime,
};
use bqx_synth::{
    Plant, SynthConfig, SynthError, SynthMarket, generate, write_generic_csv, write_histdata_dir,
};
use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::America::New_York;

fn us(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
    micros_from_datetime(
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap(),
    )
}

fn pair(s: &str) -> Pair {
    Pair::parse(s).unwrap()
}

fn tick(p: Pair) -> f64 {
    p.pip() / 10.0
}

fn mid(b: &BarColumns, col: &[f64], i: usize) -> f64 {
    col[i] + b.spread.as_ref().unwrap()[i] / 2.0
}

/// Mid close-to-close log returns.
fn mid_returns(m: &SynthMarket, p: Pair) -> Vec<f64> {
    let b = m.bars(p);
    (1..b.len())
        .map(|i| (mid(b, &b.close, i) / mid(b, &b.close, i - 1)).ln())
        .collect()
}

fn corr(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

fn std_dev(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    let m = a.iter().sum::<f64>() / n;
    (a.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt()
}

fn lead_lag_plant() -> Plant {
    "lead-lag:EURUSD:GBPJPY:5:0.3".parse().unwrap()
}

/// 50 000 M1 bars with a planted lead-lag, shared by several tests.
fn planted_market() -> &'static SynthMarket {
    static M: OnceLock<SynthMarket> = OnceLock::new();
    M.get_or_init(|| {
        generate(&SynthConfig {
            bars: 50_000,
            seed: 2024,
            plants: vec![lead_lag_plant()],
            ..SynthConfig::default()
        })
        .unwrap()
    })
}

/// 50 000 M1 bars without plants.
fn null_market() -> &'static SynthMarket {
    static M: OnceLock<SynthMarket> = OnceLock::new();
    M.get_or_init(|| {
        generate(&SynthConfig {
            bars: 50_000,
            seed: 2024,
            ..SynthConfig::default()
        })
        .unwrap()
    })
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bqx-synth-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn csv_bytes(m: &SynthMarket) -> Vec<u8> {
    let mut out = Vec::new();
    write_generic_csv(m, &mut out).unwrap();
    out
}

#[test]
fn same_seed_gives_identical_output_whatever_the_thread_count() {
    let cfg = SynthConfig {
        bars: 4_000,
        seed: 11,
        start_micros: us(2024, 3, 7, 13, 0),
        plants: vec![lead_lag_plant()],
        ..SynthConfig::default()
    };
    let pool = |n| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let (a, csv_a, files_a) = pool(1).install(|| {
        let m = generate(&cfg).unwrap();
        let csv = csv_bytes(&m);
        let files = write_histdata_dir(&m, &temp_dir("det-a")).unwrap();
        (m, csv, files)
    });
    let (b, csv_b, files_b) = pool(3).install(|| {
        let m = generate(&cfg).unwrap();
        let csv = csv_bytes(&m);
        let files = write_histdata_dir(&m, &temp_dir("det-b")).unwrap();
        (m, csv, files)
    });
    assert_eq!(a, b);
    assert_eq!(csv_a, csv_b);
    assert_eq!(files_a.len(), 28);
    for (fa, fb) in files_a.iter().zip(&files_b) {
        assert_eq!(fa.file_name(), fb.file_name());
        assert_eq!(std::fs::read(fa).unwrap(), std::fs::read(fb).unwrap());
    }
    for f in [&files_a[0], &files_b[0]] {
        std::fs::remove_dir_all(f.parent().unwrap()).unwrap();
    }

    let other = generate(&SynthConfig { seed: 12, ..cfg }).unwrap();
    assert_eq!(other.series[0].1.ts, a.series[0].1.ts);
    for (p, bars) in &other.series {
        let same = bars
            .close
            .iter()
            .zip(&a.bars(*p).close)
            .filter(|(x, y)| x == y)
            .count();
        assert!(same < bars.len() / 10, "{p}: {same} equal closes");
    }
    assert_ne!(csv_bytes(&other), csv_a);
}

#[test]
fn triangles_hold_on_mid_prices() {
    let m = planted_market();
    let n = m.len();
    let mut worst: f64 = 0.0;
    for t in Triangle::all() {
        let ps = t.pairs();
        for i in (0..n).step_by(193).chain([n - 1]) {
            for col in 0..2 {
                let prices = ps.map(|p| {
                    let b = m.bars(p);
                    mid(b, if col == 0 { &b.open } else { &b.close }, i)
                });
                // Each mid is exact up to half a tick of the bid rounding.
                let tol: f64 = ps
                    .iter()
                    .zip(prices)
                    .map(|(p, x)| 0.5 * tick(*p) / x)
                    .sum::<f64>()
                    + 1e-12;
                let r = Triangle::log_residual(prices);
                assert!(r.abs() <= tol, "{} bar {i}: {r} > {tol}", t.name());
                worst = worst.max(r.abs() / tol);
            }
        }
    }
    assert!(worst > 0.01, "rounding noise expected, worst ratio {worst}");
}

fn check_bars(m: &SynthMarket) {
    assert_eq!(m.series.len(), 28);
    for ((p, b), expected) in m.series.iter().zip(Pair::ALL) {
        assert_eq!(*p, expected);
        let n = b.len();
        let scale = 1.0 / tick(*p);
        let (vol, spr) = (b.volume.as_ref().unwrap(), b.spread.as_ref().unwrap());
        assert_eq!(b.ts, m.series[0].1.ts);
        assert!(b.open.len() == n && b.high.len() == n && b.low.len() == n);
        assert!(b.close.len() == n && vol.len() == n && spr.len() == n);
        for i in 0..n {
            let (o, h, l, c) = (b.open[i], b.high[i], b.low[i], b.close[i]);
            assert!(l > 0.0 && l.is_finite() && h.is_finite(), "{p} bar {i}");
            assert!(
                l <= o.min(c) && o.max(c) <= h,
                "{p} bar {i}: {o} {h} {l} {c}"
            );
            for x in [o, h, l, c, spr[i]] {
                let k = x * scale;
                assert!(
                    (k - k.round()).abs() < 1e-6,
                    "{p} bar {i}: {x} off the tick grid"
                );
            }
            assert!(
                spr[i] >= tick(*p) && spr[i] < 60.0 * p.pip(),
                "{p}: spread {}",
                spr[i]
            );
            assert!(
                vol[i] >= 1.0 && vol[i].fract() == 0.0,
                "{p}: volume {}",
                vol[i]
            );
        }
    }
}

#[test]
fn every_bar_is_valid_for_several_timeframes() {
    check_bars(planted_market());
    for (tf, bars) in [("d1", 1_000), ("h4", 1_500), ("m5", 3_000), ("m7", 2_000)] {
        let m = generate(&SynthConfig {
            bars,
            timeframe: tf.parse().unwrap(),
            seed: 5,
            ..SynthConfig::default()
        })
        .unwrap();
        assert_eq!(m.len(), bars);
        assert_eq!(m.timeframe.name(), tf);
        check_bars(&m);
    }
}

fn ny(ts: i64) -> chrono::DateTime<chrono_tz::Tz> {
    Utc.timestamp_micros(ts).unwrap().with_timezone(&New_York)
}

#[test]
fn intraday_calendar_skips_the_new_york_weekend() {
    // Three and a half weeks of M1 across the US switch to summer time (2024-03-10).
    let m = generate(&SynthConfig {
        bars: 25_000,
        start_micros: us(2024, 2, 28, 0, 0),
        ..SynthConfig::default()
    })
    .unwrap();
    let ts = &m.series[0].1.ts;
    assert_eq!(ts[0], us(2024, 2, 28, 0, 0));
    let mut gaps = Vec::new();
    for w in ts.windows(2) {
        assert!(w[1] > w[0]);
        if w[1] - w[0] != MICROS_PER_MINUTE {
            gaps.push((w[0], w[1]));
        }
    }
    for &t in ts {
        assert!(!is_fx_weekend(t), "{t} in the weekend");
        let d = ny(t);
        let closed = match d.weekday() {
            Weekday::Fri => d.hour() >= 17,
            Weekday::Sat => true,
            Weekday::Sun => d.hour() < 17,
            _ => false,
        };
        assert!(!closed, "{d} is closed");
        assert_eq!(t % MICROS_PER_MINUTE, 0);
    }
    assert_eq!(gaps.len(), 3);
    for (last, first) in &gaps {
        // The last bar opens at 16:59 New York on Friday, the next one at 17:00 on Sunday.
        let (l, f) = (ny(*last), ny(*first));
        assert_eq!((l.weekday(), l.hour(), l.minute()), (Weekday::Fri, 16, 59));
        assert_eq!((f.weekday(), f.hour(), f.minute()), (Weekday::Sun, 17, 0));
    }
    // In UTC: 48 h in winter, 47 h across the switch to summer time, 48 h after it.
    let hours: Vec<i64> = gaps
        .iter()
        .map(|(l, f)| (f - l - MICROS_PER_MINUTE) / MICROS_PER_HOUR)
        .collect();
    assert_eq!(hours, vec![48, 47, 48]);
}

#[test]
fn weekly_open_shifts_with_us_daylight_saving() {
    let first_open_after_weekend = |start| {
        let m = generate(&SynthConfig {
            bars: 8_000,
            start_micros: start,
            ..SynthConfig::default()
        })
        .unwrap();
        let ts = m.series[0].1.ts.clone();
        let i = ts
            .windows(2)
            .position(|w| w[1] - w[0] > MICROS_PER_HOUR)
            .unwrap();
        (ts[i], ts[i + 1])
    };
    // January (EST): Friday's last bar opens 21:59 UTC, Sunday's first at 22:00 UTC.
    assert_eq!(
        first_open_after_weekend(us(2024, 1, 1, 0, 0)),
        (us(2024, 1, 5, 21, 59), us(2024, 1, 7, 22, 0))
    );
    // July (EDT): one hour earlier in UTC.
    assert_eq!(
        first_open_after_weekend(us(2024, 7, 1, 0, 0)),
        (us(2024, 7, 5, 20, 59), us(2024, 7, 7, 21, 0))
    );
}

#[test]
fn daily_and_hourly_grids() {
    let m = generate(&SynthConfig {
        bars: 600,
        timeframe: Timeframe::D1,
        start_micros: us(2024, 1, 3, 15, 30),
        ..SynthConfig::default()
    })
    .unwrap();
    let ts = &m.series[0].1.ts;
    assert_eq!(ts[0], us(2024, 1, 4, 0, 0));
    for &t in ts {
        assert_eq!(t % MICROS_PER_DAY, 0);
        let wd = Utc.timestamp_micros(t).unwrap().weekday();
        assert!(!matches!(wd, Weekday::Sat | Weekday::Sun), "{wd}");
    }
    for w in ts.windows(2) {
        let d = (w[1] - w[0]) / MICROS_PER_DAY;
        let wd = Utc.timestamp_micros(w[0]).unwrap().weekday();
        assert_eq!(d, if wd == Weekday::Fri { 3 } else { 1 });
    }

    let m = generate(&SynthConfig {
        bars: 2_000,
        timeframe: Timeframe::H1,
        start_micros: us(2024, 6, 1, 0, 0), // a Saturday
        ..SynthConfig::default()
    })
    .unwrap();
    let ts = &m.series[0].1.ts;
    assert_eq!(ts[0], us(2024, 6, 2, 21, 0));
    for w in ts.windows(2) {
        let d = w[1] - w[0];
        assert!(d == MICROS_PER_HOUR || d == 49 * MICROS_PER_HOUR, "{d}");
        assert!(!is_fx_weekend(w[1]));
    }
}

#[test]
fn histdata_files_parse_back() {
    let m = generate(&SynthConfig {
        bars: 3_000,
        seed: 3,
        ..SynthConfig::default()
    })
    .unwrap();
    let dir = temp_dir("histdata");
    let files = write_histdata_dir(&m, &dir).unwrap();
    assert_eq!(files.len(), 28);
    // The first bar, 2024-01-01T00:00Z, is 2023-12-31 19:00 EST: HistData names files by the
    // EST year of their rows.
    for (f, p) in files.iter().zip(Pair::ALL) {
        assert_eq!(
            f.file_name().unwrap().to_str().unwrap(),
            format!("DAT_ASCII_{}_M1_2023.csv", p.name())
        );
    }

    // First EURUSD line by hand: UTC − 5 h, the start price 1.08 minus half the spread.
    let eurusd = m.bars(pair("EURUSD"));
    let text = std::fs::read_to_string(&files[pair("EURUSD").index()]).unwrap();
    let first = text.lines().next().unwrap();
    let spread0 = eurusd.spread.as_ref().unwrap()[0];
    let open0 = ((1.08 - spread0 / 2.0) * 1e5).round() / 1e5;
    assert!(
        first.starts_with(&format!("20231231 190000;{open0:.6};")),
        "{first}"
    );
    assert!(first.starts_with("20231231 190000;1.0799"), "{first}");
    assert!(first.ends_with(";0"));
    assert_eq!(
        first,
        format!(
            "20231231 190000;{:.6};{:.6};{:.6};{:.6};0",
            eurusd.open[0], eurusd.high[0], eurusd.low[0], eurusd.close[0]
        )
    );
    let usdjpy = std::fs::read_to_string(&files[pair("USDJPY").index()]).unwrap();
    let f = usdjpy.lines().next().unwrap();
    assert!(f.starts_with("20231231 190000;149.99"), "{f}");

    for (f, (p, b)) in files.iter().zip(&m.series) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains('\r'));
        assert!(text.ends_with('\n'));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), b.len(), "{p}");
        for (i, line) in lines.iter().enumerate() {
            let fields: Vec<&str> = line.split(';').collect();
            assert_eq!(fields.len(), 6, "{line}");
            assert_eq!(fields[5], "0");
            let stamp = chrono::NaiveDateTime::parse_from_str(fields[0], "%Y%m%d %H%M%S")
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(micros_from_datetime(stamp) + 5 * MICROS_PER_HOUR, b.ts[i]);
            for (k, col) in [&b.open, &b.high, &b.low, &b.close].iter().enumerate() {
                let s = fields[1 + k];
                assert_eq!(s.split('.').nth(1).map(str::len), Some(6), "{line}");
                let v: f64 = s.parse().unwrap();
                assert!((v - col[i]).abs() < 1e-9, "{line}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();

    // Other timeframes are tagged by name; the year is the first bar's EST year.
    let d1 = generate(&SynthConfig {
        bars: 5,
        timeframe: Timeframe::D1,
        start_micros: us(2024, 1, 2, 0, 0),
        ..SynthConfig::default()
    })
    .unwrap();
    let dir = temp_dir("histdata-d1");
    let files = write_histdata_dir(&d1, &dir).unwrap();
    let name = files[3].file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(name, "DAT_ASCII_EURUSD_D1_2024.csv");
    let text = std::fs::read_to_string(&files[3]).unwrap();
    assert!(text.starts_with("20240101 190000;"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generic_csv_is_ordered_by_time_then_pair() {
    let m = generate(&SynthConfig {
        bars: 1_500,
        seed: 9,
        start_micros: us(2024, 3, 5, 22, 0),
        ..SynthConfig::default()
    })
    .unwrap();
    let bytes = csv_bytes(&m);
    let mut out = Vec::new();
    let rows = write_generic_csv(&m, &mut out).unwrap();
    assert_eq!(rows, 28 * 1_500);
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("timestamp,pair,open,high,low,close,volume,spread")
    );
    let lines: Vec<&str> = lines.collect();
    assert_eq!(lines.len() as u64, rows);
    assert!(
        lines[0].starts_with("2024-03-05T22:00:00Z,EURGBP,0.8"),
        "{}",
        lines[0]
    );
    assert!(lines[27].starts_with("2024-03-05T22:00:00Z,CHFJPY,"));
    assert!(lines[28].starts_with("2024-03-05T22:01:00Z,EURGBP,"));
    for (k, line) in lines.iter().enumerate() {
        let (i, p) = (k / 28, Pair::ALL[k % 28]);
        let b = m.bars(p);
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 8);
        assert_eq!(f[0], bqx_domain::format_utc_micros(b.ts[i]));
        assert_eq!(f[1], p.name());
        let dec = if p.quote() == Currency::JPY { 3 } else { 5 };
        for (s, v) in f[2..6]
            .iter()
            .zip([b.open[i], b.high[i], b.low[i], b.close[i]])
        {
            assert_eq!(*s, format!("{v:.dec$}"));
        }
        assert_eq!(f[6], format!("{}", b.volume.as_ref().unwrap()[i]));
        assert_eq!(f[7], format!("{:.dec$}", b.spread.as_ref().unwrap()[i]));
    }

    // Series on different timestamps are merged by time, then pair.
    let mut odd = m.clone();
    odd.series.truncate(2);
    let keep: Vec<usize> = (0..10).filter(|i| i % 3 != 1).collect();
    odd.series[0].1 = odd.series[0].1.take(&keep);
    odd.series[1].1 = odd.series[1].1.take(&[1, 2, 3]);
    let mut out = Vec::new();
    let rows = write_generic_csv(&odd, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let got: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    assert_eq!(rows as usize, keep.len() + 3);
    let minute = |k: usize| format!("2024-03-05T22:{k:02}:00Z");
    let expected: Vec<(String, String)> = vec![
        (minute(0), "EURGBP".into()),
        (minute(1), "EURAUD".into()),
        (minute(2), "EURGBP".into()),
        (minute(2), "EURAUD".into()),
        (minute(3), "EURGBP".into()),
        (minute(3), "EURAUD".into()),
        (minute(5), "EURGBP".into()),
        (minute(6), "EURGBP".into()),
        (minute(8), "EURGBP".into()),
        (minute(9), "EURGBP".into()),
    ];
    assert_eq!(got, expected);
}

#[test]
fn planted_lead_lag_is_detectable() {
    let lagged = |m: &SynthMarket, follower: &str, k: usize| {
        let leader = mid_returns(m, pair("EURUSD"));
        let f = mid_returns(m, pair(follower));
        corr(&f[k..], &leader[..leader.len() - k])
    };
    let m = planted_market();
    let at_5 = lagged(m, "GBPJPY", 5);
    assert!(at_5 > 0.15, "lag-5 correlation {at_5}");
    for k in (1..=15).filter(|&k| k != 5) {
        let c = lagged(m, "GBPJPY", k);
        assert!(
            c.abs() < 0.03 && c.abs() * 5.0 < at_5,
            "lag {k}: {c} vs {at_5}"
        );
    }
    // Pairs with one of the follower's currencies inherit part of the lead; others none.
    let gbpusd = lagged(m, "GBPUSD", 5);
    assert!(gbpusd > 0.05, "GBPUSD inherits: {gbpusd}");
    let audcad = lagged(m, "AUDCAD", 5);
    assert!(audcad.abs() < 0.03, "AUDCAD: {audcad}");
    // Without the plant there is no lead at lag 5 (same seed, same shocks).
    let null = lagged(null_market(), "GBPJPY", 5);
    assert!(null.abs() < 0.03, "null market: {null}");
}

#[test]
fn realized_volatility_and_stylized_facts_are_plausible() {
    // Intraday: annualize with 374 400 trading minutes a year.
    let m = null_market();
    let mut vols = Vec::new();
    for p in Pair::ALL {
        let r = mid_returns(m, p);
        let v = std_dev(&r) * (374_400f64).sqrt();
        assert!((0.03..0.22).contains(&v), "{p}: M1 realized vol {v}");
        vols.push(v);
    }
    vols.sort_by(f64::total_cmp);
    assert!((0.05..0.13).contains(&vols[14]), "median {}", vols[14]);

    // Daily over ten years: 260 trading days a year.
    let d = generate(&SynthConfig {
        bars: 2_600,
        timeframe: Timeframe::D1,
        seed: 77,
        ..SynthConfig::default()
    })
    .unwrap();
    let mut dvols = Vec::new();
    for p in Pair::ALL {
        let v = std_dev(&mid_returns(&d, p)) * 260f64.sqrt();
        assert!((0.04..0.17).contains(&v), "{p}: D1 realized vol {v}");
        dvols.push(v);
    }
    dvols.sort_by(f64::total_cmp);
    assert!((0.06..0.12).contains(&dvols[14]), "median {}", dvols[14]);
    // Ten years later prices are still plausible.
    for (p, b) in &d.series {
        let ratio = b.close[b.len() - 1] / b.open[0];
        assert!((0.4..2.5).contains(&ratio), "{p}: {ratio}");
    }

    // Stylized facts on EURUSD M1: fat tails, volatility clustering, intraday seasonality,
    // tick volume rising with activity, spreads widest at the rollover.
    let p = pair("EURUSD");
    let r = mid_returns(m, p);
    let sd = std_dev(&r);
    let kurt = r.iter().map(|x| (x / sd).powi(4)).sum::<f64>() / r.len() as f64;
    assert!(kurt > 4.0, "kurtosis {kurt}");
    let abs: Vec<f64> = r.iter().map(|x| x.abs()).collect();
    let clustering = corr(&abs[1..], &abs[..abs.len() - 1]);
    assert!(clustering > 0.1, "|r| autocorrelation {clustering}");
    let b = m.bars(p);
    let hour = |i: usize| (b.ts[i] / MICROS_PER_HOUR).rem_euclid(24);
    let mean_by = |vals: &dyn Fn(usize) -> f64, hours: &[i64]| {
        let sel: Vec<f64> = (1..b.len())
            .filter(|&i| hours.contains(&hour(i)))
            .map(vals)
            .collect();
        sel.iter().sum::<f64>() / sel.len() as f64
    };
    let abs_ret = |i: usize| abs[i - 1];
    assert!(mean_by(&abs_ret, &[13, 14]) > 1.8 * mean_by(&abs_ret, &[3, 4]));
    let vol = b.volume.as_ref().unwrap();
    assert!(mean_by(&|i| vol[i], &[13, 14]) > 1.5 * mean_by(&|i| vol[i], &[3, 4]));
    let range: Vec<f64> = (0..b.len()).map(|i| b.high[i] - b.low[i]).collect();
    assert!(corr(&range, vol) > 0.4);
    let spread = b.spread.as_ref().unwrap();
    let pips = |i: usize| spread[i] / p.pip();
    let london = mean_by(&pips, &[9, 10]);
    assert!(
        (0.45..0.9).contains(&london),
        "EURUSD London spread {london} pips"
    );
    assert!(mean_by(&pips, &[21]) > 2.0 * london);
    assert!(mean_by(&pips, &[3, 4]) > 1.1 * london);
    let gbpnzd = m.bars(pair("GBPNZD")).spread.as_ref().unwrap();
    let wide = gbpnzd.iter().sum::<f64>() / gbpnzd.len() as f64 / 1e-4;
    assert!(wide > 3.0 && wide < 8.0, "GBPNZD mean spread {wide} pips");
}

#[test]
fn bad_configs_are_rejected() {
    let base = SynthConfig::default();
    assert_eq!(
        generate(&SynthConfig {
            bars: 0,
            ..base.clone()
        })
        .unwrap_err(),
        SynthError::NoBars
    );
    let w1 = SynthConfig {
        timeframe: Timeframe::W1,
        ..base.clone()
    };
    assert_eq!(
        generate(&w1).unwrap_err(),
        SynthError::UnsupportedTimeframe(Timeframe::W1)
    );
    let bad = SynthConfig {
        plants: vec![Plant::LeadLag {
            leader: pair("EURUSD"),
            follower: pair("EURUSD"),
            lag: 3,
            strength: 0.2,
        }],
        ..base
    };
    let e = generate(&bad).unwrap_err();
    assert!(matches!(e, SynthError::BadPlant(_)));
    assert!(e.to_string().contains("different pairs"), "{e}");
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

#[test]
fn planted_regime_switches_take_effect_at_their_bar() {
    let cfg = |plants: Vec<Plant>| SynthConfig {
        bars: 6000,
        timeframe: Timeframe::H1,
        seed: 11,
        plants,
        ..SynthConfig::default()
    };
    let eurusd = pair("EURUSD");
    let plain = mid_returns(&generate(&cfg(vec![])).unwrap(), eurusd);
    let vol = mid_returns(
        &generate(&cfg(vec!["vol-break:3000:3".parse().unwrap()])).unwrap(),
        eurusd,
    );
    let drift = mid_returns(
        &generate(&cfg(vec!["drift:EURUSD:3000:0.001".parse().unwrap()])).unwrap(),
        eurusd,
    );
    // Before the break the draws are the same bar for bar (the plants add no random draws).
    assert_eq!(&plain[..2990], &vol[..2990]);
    assert_eq!(&plain[..2990], &drift[..2990]);
    let ratio = |a: &[f64], b: &[f64]| mean_sd(a).1 / mean_sd(b).1;
    let after = ratio(&vol[3100..], &plain[3100..]);
    assert!(
        (2.6..3.4).contains(&after),
        "volatility ratio after the break {after}"
    );
    // The drift moves the mean return by the planted 0.001 per bar (far above its noise:
    // sd ≈ 1e-3 / √2900 ≈ 2e-5).
    let shift = mean_sd(&drift[3100..]).0 - mean_sd(&plain[3100..]).0;
    assert!((shift - 0.001).abs() < 1e-4, "{shift}");
}
