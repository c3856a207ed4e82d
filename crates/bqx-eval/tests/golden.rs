//! Golden values computed independently by `tests/golden/gen_golden.py` (plain loops, numpy,
//! scipy.stats.spearmanr / skew / kurtosis / norm) from the spec's definitions.

use bqx_eval::metrics::{direction, regression, wilson_interval};
use bqx_eval::targets::{bqx_target, future_log_return, future_vol};
use bqx_eval::trading::{
    Market, PnlSeries, Signal, Threshold, TradingConfig, Trials, simulate, trading_metrics,
};
use bqx_eval::{BootstrapConfig, RegimeCuts};
use serde_json::Value;

fn golden() -> Value {
    let path = format!(
        "{}/tests/golden/golden.json",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[track_caller]
fn close(got: f64, want: f64, tol: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-300);
    assert!(
        err <= tol || (got - want).abs() <= 1e-15,
        "{what}: got {got}, want {want} (rel err {err:e})"
    );
}

#[track_caller]
fn close_series(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}[{i}]: got {g}, want NaN");
        } else {
            close(g, w, tol, &format!("{what}[{i}]"));
        }
    }
}

#[test]
fn targets_match_golden() {
    let g = golden();
    let r = vec_of(&g["closes"]);
    let (w, h) = (
        g["window"].as_u64().unwrap() as usize,
        g["horizon"].as_u64().unwrap() as usize,
    );
    close_series(
        &bqx_target(&r, w, h).unwrap(),
        &vec_of(&g["bqx_target"]),
        1e-9,
        "bqx_target",
    );
    close_series(
        &future_vol(&r, h).unwrap(),
        &vec_of(&g["future_vol"]),
        1e-10,
        "future_vol",
    );
    let flr = future_log_return(&r, h).unwrap();
    close_series(
        &flr,
        &vec_of(&g["future_log_return"]),
        1e-12,
        "future_log_return",
    );
    let cuts = RegimeCuts::fit(&flr).unwrap();
    close_series(&cuts.cuts, &vec_of(&g["regime_cuts"]), 1e-12, "regime_cuts");
}

#[test]
fn regression_and_direction_match_golden() {
    let g = golden();
    let p = vec_of(&g["predicted"]);
    let y = vec_of(&g["actual"]);
    let want = &g["regression"];
    let m = regression(&p, &y, num(&g["train_mean"])).unwrap();
    assert_eq!(m.n as u64, want["n"].as_u64().unwrap());
    close(
        m.r2_vs_zero.unwrap(),
        num(&want["r2_vs_zero"]),
        1e-12,
        "r2 zero",
    );
    close(
        m.r2_vs_train_mean.unwrap(),
        num(&want["r2_vs_train_mean"]),
        1e-12,
        "r2 mean",
    );
    close(m.mae, num(&want["mae"]), 1e-12, "mae");
    close(m.rmse, num(&want["rmse"]), 1e-12, "rmse");
    close(
        m.ic.unwrap(),
        num(&want["ic"]),
        1e-12,
        "ic (spearman, ties)",
    );
    close(
        m.std_ratio.unwrap(),
        num(&want["std_ratio"]),
        1e-12,
        "std ratio",
    );
    close(m.mean_error, num(&want["mean_error"]), 1e-10, "mean error");

    let want = &g["direction"];
    let d = direction(&p, &y, 5, &BootstrapConfig::default()).unwrap();
    assert_eq!(d.n as u64, want["n"].as_u64().unwrap());
    assert_eq!(d.hits as u64, want["hits"].as_u64().unwrap());
    close(d.accuracy, num(&want["accuracy"]), 1e-15, "accuracy");
    let w = wilson_interval(d.hits, d.n, 0.95);
    close(w.lo, num(&want["wilson_lo"]), 1e-12, "wilson lo");
    close(w.hi, num(&want["wilson_hi"]), 1e-12, "wilson hi");
    let b = d.bootstrap.unwrap();
    assert!(b.lo < d.accuracy && d.accuracy < b.hi, "{b:?}");
    assert!(d.block_len >= 5);
}

#[test]
fn trading_metrics_match_golden() {
    let g = golden();
    let pnl = vec_of(&g["pnl"]);
    let exposure = vec_of(&g["exposure"]);
    let n = pnl.len();
    let series = PnlSeries {
        pnl,
        exposure,
        turnover: vec![0.0; n],
        cost: vec![0.0; n],
        years: num(&g["years"]),
    };
    let trials = Trials {
        count: g["trials"]["count"].as_u64().unwrap() as usize,
        sharpe_variance: num(&g["trials"]["sharpe_variance"]),
    };
    let m = trading_metrics(&series, &BootstrapConfig::default(), Some(trials)).unwrap();
    let want = &g["trading"];
    close(m.mean_return, num(&want["mean_return"]), 1e-12, "mean");
    close(m.total_return, num(&want["total_return"]), 1e-12, "total");
    close(m.sharpe.unwrap(), num(&want["sharpe"]), 1e-10, "sharpe");
    close(
        m.sharpe_per_decision.unwrap(),
        num(&want["sharpe_per_decision"]),
        1e-10,
        "sharpe per decision",
    );
    close(m.sortino.unwrap(), num(&want["sortino"]), 1e-10, "sortino");
    close(m.max_drawdown, num(&want["max_drawdown"]), 1e-12, "max dd");
    close(m.calmar.unwrap(), num(&want["calmar"]), 1e-10, "calmar");
    close(
        m.hit_rate.unwrap(),
        num(&want["hit_rate"]),
        1e-15,
        "hit rate",
    );
    close(
        m.profit_factor.unwrap(),
        num(&want["profit_factor"]),
        1e-12,
        "profit factor",
    );
    close(
        m.skewness.unwrap(),
        num(&want["skewness"]),
        1e-10,
        "skewness",
    );
    close(
        m.kurtosis.unwrap(),
        num(&want["kurtosis"]),
        1e-10,
        "kurtosis",
    );
    close(m.psr.unwrap(), num(&want["psr"]), 1e-9, "psr");
    let d = m.deflated.unwrap();
    close(
        d.expected_max_sharpe,
        num(&want["expected_max_sharpe"]),
        1e-10,
        "expected max sharpe",
    );
    close(d.dsr, num(&want["dsr"]), 1e-8, "dsr");
    for ci in [m.sharpe_ci, m.hit_rate_ci, m.mean_return_ci] {
        let ci = ci.unwrap();
        assert!(ci.lo < ci.hi);
    }
    assert!(m.sharpe_ci.unwrap().contains(m.sharpe.unwrap()));
}

#[test]
fn simulation_matches_golden() {
    let g = golden();
    let r = vec_of(&g["closes"]);
    let s = &g["simulation"];
    let pred = vec_of(&s["pred"]);
    let train_end = s["train_end"].as_u64().unwrap() as usize;
    let thr = Threshold::fit(&pred[..train_end], num(&s["threshold_quantile"])).unwrap();
    close(thr.value, num(&s["threshold"]), 1e-15, "threshold");
    let ts: Vec<i64> = (0..r.len() as i64).map(|i| i * 3_600_000_000).collect();
    let market = Market::new(&ts, &r).unwrap();
    let cfg = TradingConfig {
        horizon: s["h"].as_u64().unwrap() as usize,
        signal: Signal::Bqx,
        threshold: thr.value,
        spread_pips: num(&s["spread_pips"]),
        pip: num(&s["pip"]),
    };
    let test = s["test_start"].as_u64().unwrap() as usize..s["test_end"].as_u64().unwrap() as usize;
    let log = simulate(&market, &pred, test, &cfg).unwrap();
    let rows: Vec<usize> = s["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let positions: Vec<i8> = s["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap() as i8)
        .collect();
    assert_eq!(log.rows, rows);
    assert_eq!(log.position, positions);
    assert!(log.position.contains(&1) && log.position.contains(&-1));
    assert!(log.position.contains(&0));
    close_series(&log.pnl, &vec_of(&s["pnl"]), 1e-9, "pnl");
}
