//! The online loop's drift detectors judged on planted streams against a fixed-interval null
//! detector (evaluation.md § Online): detection delay, false alarms per 10,000 bars and missed
//! drifts.
//!
//! Workload, per seed: three `bqx synth` markets of `BARS` M1 bars — a trend switch planted in
//! EURUSD (`drift:EURUSD:C:0.00004`), a volatility switch (`vol-break:C:2.5`) and no plant —
//! with the change at bar C = BARS/2 + (seed · 7919 mod BARS/6) (so it falls anywhere relative to
//! the null detector's firings); `bqx online --from-store --pairs EURUSD --train-fraction 1/3` on
//! each (the production path: the same fit, the same defaults). A
//! detector's alert on any member counts. An alert at or after the change is a detection
//! (delay: bars from the change); alerts before it, and every alert of the null market, are
//! false alarms; a change not detected by the end of the stream is missed. The null detector
//! fires every K live bars (with a phase that differs per seed), for several K: its delay is
//! about K/2 and its false-alarm rate 10,000/K per 10,000 bars, whatever the market.
//!
//!     cargo run --release --example detector_eval -p bqx-app -- [SEEDS] [BARS]
//!     (defaults 20 and 30000)

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

const DETECTORS: [&str; 3] = ["adwin", "adwin_warning", "page_hinkley"];
const FIXED: [usize; 4] = [1_000, 2_500, 5_000, 10_000];

/// One stream's outcome for one detector: live bars, the change's live index (None: null),
/// the live indices of the alerts.
struct Stream {
    live: usize,
    change: Option<usize>,
    alerts: Vec<usize>,
}

#[derive(Default)]
struct Tally {
    delays: Vec<usize>,
    missed: usize,
    changes: usize,
    false_alarms: usize,
    quiet_bars: usize,
}

impl Tally {
    fn add(&mut self, s: &Stream) {
        let quiet = s.change.unwrap_or(s.live);
        self.quiet_bars += quiet;
        self.false_alarms += s.alerts.iter().filter(|&&a| a < quiet).count();
        if let Some(c) = s.change {
            self.changes += 1;
            match s.alerts.iter().find(|&&a| a >= c) {
                Some(a) => self.delays.push(a - c),
                None => self.missed += 1,
            }
        }
    }

    fn row(&self, name: &str) -> String {
        let mut d = self.delays.clone();
        d.sort_unstable();
        let med = if d.is_empty() {
            "-".to_string()
        } else {
            d[d.len() / 2].to_string()
        };
        let mean = if d.is_empty() {
            "-".to_string()
        } else {
            format!("{:.0}", d.iter().sum::<usize>() as f64 / d.len() as f64)
        };
        format!(
            "| {name} | {}/{} | {med} | {mean} | {} | {:.2} |",
            self.changes - self.missed,
            self.changes,
            self.missed,
            self.false_alarms as f64 * 10_000.0 / self.quiet_bars.max(1) as f64
        )
    }
}

fn run(seed: u64, bars: usize, plant: Option<String>) -> (usize, BTreeMap<String, Vec<usize>>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    bqx_app::synth(
        Some(&store),
        &bqx_app::SynthRequest {
            bars,
            timeframe: bqx_domain::Timeframe::M1,
            seed,
            plants: plant.into_iter().collect(),
            format: bqx_app::SynthFormat::Csv,
            out: None,
            into_store: true,
        },
        &bqx_app::NoProgress,
    )
    .expect("synth");
    let req = bqx_app::OnlineRequest {
        pairs: vec![bqx_domain::Pair::parse("EURUSD").unwrap()],
        train_fraction: 1.0 / 3.0,
        ..Default::default()
    };
    let mut live_ts: Vec<i64> = Vec::new();
    let mut alerts: Vec<(String, i64)> = Vec::new();
    bqx_app::online(
        &store,
        &req,
        &bqx_app::NoProgress,
        1,
        &AtomicBool::new(false),
        &mut |e| match e {
            bqx_app::OnlineEvent::Signals { ts, .. } => live_ts.push(ts),
            bqx_app::OnlineEvent::Alert(a) => alerts.push((a.evidence.detector.clone(), a.ts)),
            _ => {}
        },
    )
    .expect("online");
    let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (d, ts) in alerts {
        let i = live_ts.partition_point(|&t| t < ts);
        by.entry(d).or_default().push(i);
    }
    (live_ts.len(), by)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(20, |s| s.parse().expect("SEEDS"));
    let bars: usize = args.next().map_or(30_000, |s| s.parse().expect("BARS"));
    let kinds = ["trend switch", "volatility switch", "null"];
    let mut tallies: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let t0 = std::time::Instant::now();
    for seed in 1..=seeds {
        let change = bars / 2 + (seed as usize * 7919) % (bars / 6);
        for kind in kinds {
            let plant = match kind {
                "trend switch" => Some(format!("drift:EURUSD:{change}:0.00004")),
                "volatility switch" => Some(format!("vol-break:{change}:2.5")),
                _ => None,
            };
            let (live, alerts) = run(seed, bars, plant.clone());
            // The live part starts at bar `bars − live`.
            let at = plant.as_ref().map(|_| change - (bars - live));
            for d in DETECTORS {
                let s = Stream {
                    live,
                    change: at,
                    alerts: alerts.get(d).cloned().unwrap_or_default(),
                };
                tallies
                    .entry((kind.to_string(), d.to_string()))
                    .or_default()
                    .add(&s);
            }
            for k in FIXED {
                let s = Stream {
                    live,
                    change: at,
                    // A phase of its own per seed: the change falls anywhere in its period.
                    alerts: (0..=live / k)
                        .map(|j| j * k + (seed as usize * 104_729) % k)
                        .filter(|&a| a < live)
                        .collect(),
                };
                tallies
                    .entry((kind.to_string(), format!("fixed every {k}")))
                    .or_default()
                    .add(&s);
            }
            eprintln!(
                "seed {seed} {kind}: {live} live bars, alerts {:?} ({:.0} s)",
                alerts.iter().map(|(k, v)| (k, v.len())).collect::<Vec<_>>(),
                t0.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "{seeds} seeds x 3 markets, {bars} M1 bars each (the first third for training), EURUSD, \
         change between bar {} and {}",
        bars / 2,
        bars / 2 + bars / 6
    );
    for kind in kinds {
        println!("\n{kind}\n");
        println!(
            "| detector | detected | median delay (bars) | mean delay | missed | false alarms / 10k bars |"
        );
        println!("|---|---|---|---|---|---|");
        for ((k, d), t) in &tallies {
            if k == kind {
                println!("{}", t.row(d));
            }
        }
    }
    println!("\nwall {:.0} s", t0.elapsed().as_secs_f64());
}
