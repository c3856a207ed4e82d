//! The real feature panel of a synthetic market, as the backtest takes it: per-pair families
//! plus panel families for `pairs`, and the aligned panel of closes. Shared by the honesty
//! tests and `examples/leak_power.rs` (which includes this file by path).

use bqx_domain::{Pair, Timeframe};
use bqx_eval::backtest::{PanelInput, SeriesInput};
use bqx_features::{FeatureSet, PanelSet, SourceCaps, compute_batch, compute_panel_batch};
use bqx_synth::{Plant, SynthConfig};

pub fn inputs(
    bars: usize,
    seed: u64,
    plants: Vec<Plant>,
    pairs: &[Pair],
) -> (Vec<SeriesInput>, PanelInput) {
    let market = bqx_synth::generate(&SynthConfig {
        bars,
        timeframe: Timeframe::M1,
        seed,
        plants,
        ..SynthConfig::default()
    })
    .unwrap();
    let ts = market.series[0].1.ts.clone();
    let close: Vec<Vec<f64>> = Pair::ALL
        .iter()
        .map(|p| {
            let b = market.bars(*p);
            assert_eq!(b.ts, ts, "synthetic pairs share their bar times");
            b.close.clone()
        })
        .collect();
    let mut panel_set = PanelSet::standard();
    let panel_features = compute_panel_batch(&mut panel_set, &ts, &close).unwrap();
    let series = pairs
        .iter()
        .map(|&p| {
            let bars = market.bars(p);
            let mut set = FeatureSet::for_source(SourceCaps::of(bars, false));
            let m = compute_batch(&mut set, bars).unwrap();
            let pm = &panel_features[p.index()];
            let mut names = m.names.clone();
            names.extend(pm.names.iter().cloned());
            let columns = (0..m.n_cols())
                .map(|j| m.column(j).iter().map(|&v| v as f32).collect())
                .chain((0..pm.n_cols()).map(|j| pm.column(j).iter().map(|&v| v as f32).collect()))
                .collect();
            SeriesInput {
                pair: p,
                ts: bars.ts.clone(),
                close: bars.close.clone(),
                names,
                columns,
            }
        })
        .collect();
    (series, PanelInput { ts, close })
}

/// Appends to every series the log return from t to t + k: k bars of the future, a leak.
pub fn leak_future_return(series: &mut [SeriesInput], k: usize) {
    for s in series {
        let n = s.close.len();
        s.names.push(format!("leak_next_{k}_bars"));
        s.columns.push(
            (0..n)
                .map(|i| {
                    if i + k < n {
                        (s.close[i + k] / s.close[i]).ln() as f32
                    } else {
                        f32::NAN
                    }
                })
                .collect(),
        );
    }
}
