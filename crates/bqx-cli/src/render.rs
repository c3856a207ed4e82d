//! Terminal rendering: progress bars for `ProgressEvent`s and plain-text tables.

use std::collections::HashMap;
use std::sync::Mutex;

use bqx_app::{
    BacktestOutcome, BaseReport, DemoReport, FeatureCatalog, IngestResponse, Progress,
    ProgressEvent, RunReport, StatusReport, SynthResponse,
};
use bqx_domain::format_utc_micros;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Progress bars on stderr (drawn only when stderr is a terminal).
    Bars,
    /// One JSON event per line on stderr.
    Json,
    None,
}

/// The CLI's progress sink.
pub struct Bars {
    mode: Mode,
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new(mode: Mode) -> Bars {
        let multi = MultiProgress::new();
        if mode != Mode::Bars {
            multi.set_draw_target(ProgressDrawTarget::hidden());
        }
        Bars {
            mode,
            multi,
            bars: Mutex::new(HashMap::new()),
        }
    }

    pub fn clear(&self) {
        let _ = self.multi.clear();
    }

    /// Runs `f` (which prints) with the bars hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.multi.suspend(f)
    }
}

impl Progress for Bars {
    fn event(&self, event: ProgressEvent) {
        if self.mode == Mode::Json {
            if let Ok(line) = serde_json::to_string(&event) {
                eprintln!("{line}");
            }
            return;
        }
        let mut bars = self.bars.lock().expect("progress lock");
        match event {
            ProgressEvent::TaskStarted { task, total, unit } => {
                let bar = self.multi.add(ProgressBar::new(total));
                let template = if unit == "bytes" {
                    "{prefix:>8} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}"
                } else {
                    "{prefix:>8} [{bar:40}] {human_pos}/{human_len} {unit} {per_sec} {eta}"
                };
                let style = ProgressStyle::with_template(&template.replace("{unit}", &unit))
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(task.clone());
                bars.insert(task, bar);
            }
            ProgressEvent::TaskAdvanced { task, delta } => {
                if let Some(b) = bars.get(&task) {
                    b.inc(delta);
                }
            }
            ProgressEvent::TaskTotal { task, total } => {
                if let Some(b) = bars.get(&task) {
                    b.set_length(total);
                }
            }
            ProgressEvent::TaskFinished { task } => {
                if let Some(b) = bars.remove(&task) {
                    b.finish_and_clear();
                }
            }
            // Messages (the fold plan before a run's work) go to stderr above the bars.
            ProgressEvent::Message { text } => {
                if self.mode != Mode::None {
                    self.multi.suspend(|| eprintln!("{text}"));
                }
            }
            ProgressEvent::RunStarted { .. }
            | ProgressEvent::StageStarted { .. }
            | ProgressEvent::StageFinished { .. } => {}
        }
    }
}

/// Left-aligned first column, right-aligned numbers: a minimal table printer.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn print(&self) {
        let cols = self.head.len();
        let mut width = vec![0; cols];
        for r in std::iter::once(&self.head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |r: &Vec<String>| {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = width[i] - c.chars().count();
                    let numeric = i > 0
                        && c.chars()
                            .next()
                            .is_some_and(|ch| ch.is_ascii_digit() || ch == '-');
                    if numeric {
                        format!("{}{c}", " ".repeat(pad))
                    } else {
                        format!("{c}{}", " ".repeat(pad))
                    }
                })
                .collect();
            println!("{}", cells.join("  ").trim_end());
        };
        line(&self.head);
        println!(
            "{}",
            width
                .iter()
                .map(|w| "-".repeat(*w))
                .collect::<Vec<_>>()
                .join("  ")
        );
        for r in &self.rows {
            line(r);
        }
    }
}

fn short_time(s: &Option<String>) -> String {
    s.as_deref()
        .map(|t| t.trim_end_matches(":00Z").replace('T', " "))
        .unwrap_or_else(|| "-".into())
}

pub fn ingest(resp: &IngestResponse) {
    let mut t = Table::new(&[
        "file",
        "format",
        "pairs",
        "side",
        "tz",
        "first (UTC)",
        "last (UTC)",
        "read",
        "accepted",
        "rejected",
        "skipped",
    ]);
    for f in &resp.files {
        let pairs = if f.pairs.len() > 3 {
            format!("{} pairs", f.pairs.len())
        } else {
            f.pairs
                .iter()
                .map(|p| p.name())
                .collect::<Vec<_>>()
                .join(",")
        };
        let name = std::path::Path::new(&f.source)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| f.source.clone());
        t.row(vec![
            name,
            f.format.clone(),
            pairs,
            f.sides
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(","),
            f.tz.clone(),
            short_time(&f.first_utc),
            short_time(&f.last_utc),
            f.read.to_string(),
            f.accepted.to_string(),
            f.rejected.to_string(),
            f.skipped.to_string(),
        ]);
    }
    t.print();
    for f in &resp.files {
        for (kind, r) in &f.rejections {
            println!(
                "  {}: {} rejected as {kind} (lines {}): {}",
                f.source,
                r.count,
                r.example_lines
                    .iter()
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                r.example_reason
            );
        }
        for n in &f.notes {
            println!("  {}: note: {n}", f.source);
        }
    }
    let t = &resp.totals;
    println!(
        "\n{} file(s): read {} = accepted {} + rejected {} + skipped {}; {} bars written to {} in {:.2} s (run {})",
        t.files,
        t.read,
        t.accepted,
        t.rejected,
        t.skipped,
        t.bars_written,
        resp.store.display(),
        resp.seconds,
        resp.run_id
    );
    if t.rejected > 0 {
        println!(
            "rejected rows are kept in the store's quarantine table with file, line, raw text and reason"
        );
    }
}

pub fn synth(resp: &SynthResponse) {
    println!(
        "generated {} bars ({} per pair) from {} to {} in {:.2} s",
        resp.total_bars,
        resp.bars_per_pair,
        resp.first_utc.as_deref().unwrap_or("-"),
        resp.last_utc.as_deref().unwrap_or("-"),
        resp.seconds
    );
    match resp.files.as_slice() {
        [] => {}
        [one] => println!("  wrote {}", one.display()),
        [first, ..] => println!(
            "  wrote {} files in {} ({}, …)",
            resp.files.len(),
            first
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            first
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
    }
    if let Some(run) = &resp.run_id {
        println!("  written into the store (run {run})");
    }
}

pub fn status(r: &StatusReport) {
    println!(
        "store {} (schema {}/{}): {} bars from {} source file(s), {} quarantined row(s)",
        r.store.display(),
        r.schema_versions.0,
        r.schema_versions.1,
        r.bars,
        r.source_files,
        r.quarantined
    );
    for (kind, n) in &r.quarantine_by_kind {
        println!("  quarantine: {n} {kind}");
    }
    let mut t = Table::new(&[
        "pair",
        "side",
        "tf",
        "bars",
        "first (UTC)",
        "last (UTC)",
        "gaps",
        "dst shifts",
        "stale runs",
        "ohlc bad",
        "note",
    ]);
    for s in &r.series {
        let dst_bad = s.dst_shifts.iter().filter(|d| !d.matches_us_dst).count();
        let mut dst = if s.dst_shifts.is_empty() {
            "0".to_string()
        } else {
            format!("{} ({} off US dates)", s.dst_shifts.len(), dst_bad)
        };
        if s.missing_dst_shifts > 0 {
            dst.push_str(&format!(", {} missing: check --tz", s.missing_dst_shifts));
        }
        t.row(vec![
            s.pair.to_string(),
            s.side.to_string(),
            s.timeframe.to_string(),
            s.bars.to_string(),
            short_time(&s.first.map(format_utc_micros)),
            short_time(&s.last.map(format_utc_micros)),
            s.gaps.to_string(),
            dst,
            s.stale_runs.to_string(),
            s.ohlc_violations.to_string(),
            if s.close_only {
                "close-only".into()
            } else {
                String::new()
            },
        ]);
    }
    t.print();
    for p in &r.panels {
        println!(
            "\npanel {}: {} rows, {} with all 28 pairs, {} pairs present",
            p.timeframe, p.rows, p.complete_rows, p.pairs_present
        );
        if !p.triangles.is_empty() {
            let mean: f64 =
                p.triangles.iter().map(|t| t.mean_abs).sum::<f64>() / p.triangles.len() as f64;
            println!(
                "  triangle residual |ln Pab − ln Pac + ln Pbc| over {} triangles: mean {:.2e}; worst:",
                p.triangles.len(),
                mean
            );
            for t in p.triangles.iter().take(3) {
                println!(
                    "    {}: max {:.2e} at {}, mean {:.2e} over {} rows",
                    t.triangle,
                    t.max_abs,
                    t.max_at
                        .map(format_utc_micros)
                        .unwrap_or_else(|| "-".into()),
                    t.mean_abs,
                    t.rows
                );
            }
        }
    }
}

pub fn demo(r: &DemoReport) {
    println!("== ingest: embedded ECB euro reference rates (source: European Central Bank)\n");
    ingest(&r.ingest);
    println!("\n== data health\n");
    status(&r.status);
    println!();
    run(&r.run);
    println!("\n== online loop (stage 2.19): the last 30 % of each pair's bars, one at a time\n");
    online(&r.online);
    println!("(`bqx alerts` lists the drift alerts; `bqx serve` shows them on the Live page)");
}

pub fn run(r: &RunReport) {
    println!("== run {} ({:.1} s)\n", r.run_id, r.seconds);
    let mut t = Table::new(&["stage", "status", "seconds", "summary"]);
    for l in &r.stages {
        t.row(vec![
            l.stage.clone(),
            l.status.clone(),
            format!("{:.2}", l.seconds),
            l.summary.to_string(),
        ]);
    }
    t.print();
    let not_built: Vec<&str> = bqx_app::stage_table()
        .into_iter()
        .filter(|s| !s.built)
        .map(|s| s.name)
        .collect();
    if !not_built.is_empty() {
        println!(
            "not built yet (later stages, never faked): {}",
            not_built.join(", ")
        );
    }
    if let Some(b) = &r.base {
        println!("\n== base features\n");
        base(b);
    }
    stage_briefs(r);
    if let Some(b) = &r.backtest {
        println!("\n== backtest\n");
        backtest(b);
    }
}

/// The stage graph.
pub fn stages(table: &[bqx_app::StageInfo]) {
    let mut t = Table::new(&[
        "stage",
        "built",
        "runs in",
        "per fold",
        "depends on",
        "what",
    ]);
    for s in table {
        t.row(vec![
            s.name.to_string(),
            if s.built { "yes" } else { "no" }.into(),
            if s.runnable {
                "bqx run".to_string()
            } else if s.built {
                format!("bqx {}", s.name)
            } else {
                "—".into()
            },
            if s.per_fold { "yes" } else { "" }.into(),
            s.depends_on.join(", "),
            s.about.to_string(),
        ]);
    }
    t.print();
}

/// The cross-pair lead-lag and the selection of a run, in brief.
pub fn stage_briefs(r: &RunReport) {
    if let Some(c) = &r.cross {
        println!(
            "\n== lead-lag (stage 2.16, {} folds, {} reused; Granger lags 1..15, BH q < {})\n",
            c.folds, c.reused_folds, c.fdr_level
        );
        let mut t = Table::new(&[
            "follower",
            "strongest leader",
            "lag",
            "folds strongest",
            "max q",
            "significant / fold",
        ]);
        for f in &c.followers {
            t.row(vec![
                f.pair.to_string(),
                f.leader.map_or("—".into(), |p| p.to_string()),
                f.lag.map_or("—".into(), |l| l.to_string()),
                format!("{} of {}", f.folds_strongest, c.folds),
                f.q_max.map_or("—".into(), |q| format!("{q:.2e}")),
                format!("{:.1}", f.significant_per_fold),
            ]);
        }
        t.print();
        println!("(every candidate's F, p, q and lag per fold: the run's crosspair.json)");
    }
    if let Some(s) = &r.selection {
        println!(
            "\n== feature selection ({} of {} candidates kept per fold, k = {}; {} folds, {} reused)\n",
            if s.selected_min == s.selected_max {
                s.selected_min.to_string()
            } else {
                format!("{}–{}", s.selected_min, s.selected_max)
            },
            s.candidates,
            s.k,
            s.folds,
            s.reused_folds
        );
        println!(
            "stability across folds: Jaccard {}, Kuncheva {}",
            opt(s.jaccard_mean, 3),
            opt(s.kuncheva_mean, 3)
        );
        let mut t = Table::new(&["most stable feature", "folds selected"]);
        for f in &s.most_stable {
            t.row(vec![
                f.feature.clone(),
                format!("{} of {}", f.folds_selected, s.folds),
            ]);
        }
        t.print();
    }
    if let Some(nets) = &r.networks {
        println!(
            "\n== networks (stage 2.18; curves per epoch and head: the registry and training.json)\n"
        );
        let mut t = Table::new(&[
            "network",
            "units",
            "skipped",
            "folds",
            "seeds",
            "mean best epoch",
            "early-stopped",
        ]);
        for n in nets {
            t.row(vec![
                n.model.clone(),
                n.units.to_string(),
                n.skipped_units.to_string(),
                n.folds.len().to_string(),
                n.seeds.to_string(),
                opt(n.mean_best_epoch, 1),
                n.stopped_early_share.map(pct).unwrap_or_else(|| "-".into()),
            ]);
        }
        t.print();
    }
}

/// `bqx predict`.
pub fn predict(r: &bqx_app::PredictResponse) {
    println!(
        "{} at {} (features of that bar; the champion answers for {} … {})",
        r.pair, r.feature_time, r.available_from, r.available_to
    );
    println!("  BQX forecast        {:+.6}", r.bqx);
    println!("  volatility forecast {:.6}", r.volatility);
    let g = &r.regime;
    println!(
        "  regime              {} (strong down {}, down {}, flat {}, up {}, strong up {})",
        r.regime_class.replace('_', " "),
        pct(g.strong_down),
        pct(g.down),
        pct(g.flat),
        pct(g.up),
        pct(g.strong_up)
    );
    println!(
        "  model               {} (run {}, fold {}, weights sha256 {}…)",
        r.model_card,
        r.run_id,
        r.fold.map_or("-".into(), |f| f.to_string()),
        &r.model_sha256[..12.min(r.model_sha256.len())]
    );
}

fn verdict_cell(v: Option<&bqx_app::SkillVerdict>) -> String {
    v.map(|v| {
        let bar = pct(v.directional_accuracy_bar);
        if matches!(v.verdict, bqx_app::Verdict::Skill) {
            format!("skill ({bar})")
        } else {
            format!("not skill ({bar})")
        }
    })
    .unwrap_or_else(|| "n/a (no direction)".into())
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.filter(|v| v.is_finite())
        .map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".into())
}

fn ci(i: Option<bqx_app::Interval>, f: impl Fn(f64) -> String) -> String {
    i.map(|i| format!("[{}, {}]", f(i.lo), f(i.hi)))
        .unwrap_or_default()
}

/// The tear-sheet: pooled results of every model beside the zero forecast and the overlap
/// ceiling, then directional accuracy and Sharpe per pair.
pub fn backtest(o: &BacktestOutcome) {
    let r = &o.report;
    let day = |us: i64| format_utc_micros(us).chars().take(10).collect::<String>();
    let first = r.folds.first().map(|f| day(f.test_start));
    let last = r.series.iter().filter_map(|s| s.last_ts).max().map(day);
    let features = match &r.config.selection {
        Some(s) => {
            let sizes: Vec<usize> = r
                .fold_fits
                .iter()
                .filter_map(|f| f.selected.as_ref().map(Vec::len))
                .collect();
            let (lo, hi) = (
                sizes.iter().min().copied().unwrap_or(0),
                sizes.iter().max().copied().unwrap_or(0),
            );
            let n = if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}–{hi}")
            };
            format!(
                "{n} features selected per fold (k = {}) of {} candidates",
                s.k,
                r.features.len()
            )
        }
        None => format!("{} features per row", r.features.len()),
    };
    println!(
        "target {}; {} pairs; {} folds testing {} … {}; {features}{}",
        r.target,
        r.series.len(),
        r.folds.len(),
        first.unwrap_or_default(),
        last.unwrap_or_default(),
        if r.config.cross_pair.is_some() {
            " (with the 72 cross-pair columns)"
        } else {
            ""
        }
    );
    if !o.absent_features.is_empty() {
        let mut families: Vec<String> = Vec::new();
        for a in &o.absent_features {
            let fam = a.name.rsplit_once('_').map_or(a.name.as_str(), |(f, _)| f);
            let fam = fam.trim_end_matches(char::is_numeric).trim_end_matches('_');
            if !families.iter().any(|f| f == fam) {
                families.push(fam.to_string());
            }
        }
        println!(
            "absent: {} stored features have no value on some pair (the store lacks the pairs they need) and are left out: {}",
            o.absent_features.len(),
            families.join(", ")
        );
    }
    println!(
        "overlap ceiling (what the part of the target already observed at t would give): R² {:.3}, directional accuracy {}",
        r.ceiling.r2,
        pct(r.ceiling.directional_accuracy)
    );
    println!(
        "units: {} ({} reused from an earlier run); report: {}\n",
        o.units,
        o.reused_units,
        o.report_path.display()
    );
    println!(
        "pooled, all pairs and folds (trading: equal-weight portfolio, decisions every h rows, after costs):"
    );
    let mut t = Table::new(&[
        "model",
        "rows",
        "R² vs 0",
        "R² vs mean",
        "IC",
        "dir. accuracy",
        "95% CI",
        "Sharpe",
        "95% CI",
        "max DD",
        "decisions",
        "DSR",
        "verdict (DA bar)",
    ]);
    for m in &r.models {
        let p = &m.report.pooled;
        let reg = p.regression.as_ref();
        let dir = p.direction.as_ref();
        let tr = p.trading.as_ref();
        t.row(vec![
            m.name.clone(),
            p.n_rows.to_string(),
            opt(reg.and_then(|x| x.r2_vs_zero), 4),
            opt(reg.and_then(|x| x.r2_vs_train_mean), 4),
            opt(reg.and_then(|x| x.ic), 3),
            if m.name == "zero" {
                "n/a (no direction)".into()
            } else {
                dir.map(|d| pct(d.accuracy)).unwrap_or_else(|| "-".into())
            },
            if m.name == "zero" {
                String::new()
            } else {
                ci(dir.and_then(|d| d.bootstrap.or(Some(d.wilson))), pct)
            },
            opt(tr.and_then(|x| x.sharpe), 2),
            ci(tr.and_then(|x| x.sharpe_ci), |v| format!("{v:.2}")),
            tr.map(|x| format!("{:.3}", x.max_drawdown))
                .unwrap_or_else(|| "-".into()),
            tr.map(|x| format!("{}/{}", x.n_active, x.n_decisions))
                .unwrap_or_else(|| "-".into()),
            opt(tr.and_then(|x| x.deflated.as_ref().map(|d| d.dsr)), 2),
            verdict_cell(p.verdict.as_ref()),
        ]);
    }
    t.print();
    println!(
        "verdict: skill only when the DA interval's lower bound beats the bar, the higher of the ceiling's DA and the drift baseline's (the training mean's sign) on the same rows, and R² vs the training mean is positive"
    );
    for m in r.models.iter().filter(|m| m.name != "zero") {
        let l = &m.report.labels;
        println!(
            "  {}: {} of {} pairs and {} of {} pair-folds labelled skill; chance alone: up to {:.1} and {:.1}",
            m.name,
            l.pairs_skill,
            l.pairs,
            l.pair_folds_skill,
            l.pair_folds,
            l.chance_share * l.pairs as f64,
            l.chance_share * l.pair_folds as f64
        );
    }
    if let Some(same) = &r.same_units {
        println!(
            "\nthe networks trained on the last {} folds only; every model on those same units (pooled):",
            same.folds.len()
        );
        let mut t = Table::new(&[
            "model",
            "units",
            "rows",
            "R² vs mean",
            "dir. accuracy",
            "95% CI",
            "Sharpe",
            "verdict (DA bar)",
        ]);
        for m in &same.models {
            let p = &m.pooled;
            let dir = p.direction.as_ref();
            t.row(vec![
                m.name.clone(),
                m.units.to_string(),
                p.n_rows.to_string(),
                opt(p.regression.as_ref().and_then(|x| x.r2_vs_train_mean), 4),
                if m.name == "zero" {
                    "n/a".into()
                } else {
                    dir.map(|d| pct(d.accuracy)).unwrap_or_else(|| "-".into())
                },
                if m.name == "zero" {
                    String::new()
                } else {
                    ci(dir.and_then(|d| d.bootstrap.or(Some(d.wilson))), pct)
                },
                opt(p.trading.as_ref().and_then(|x| x.sharpe), 2),
                verdict_cell(p.verdict.as_ref()),
            ]);
        }
        t.print();
    }
    for m in &r.models {
        let Some(h) = &m.heads else { continue };
        println!("\n{}'s extra heads (pooled test rows):", m.name);
        if let Some(v) = &h.vol {
            println!(
                "  volatility: R² vs the no-change forecast {} {} over {} rows (MAE {:.3e} vs {:.3e} for no change)",
                opt(v.r2_vs_no_change, 3),
                ci(v.r2_interval, |x| format!("{x:.3}")),
                v.n,
                v.mae,
                v.mae_no_change
            );
        }
        if let Some(g) = &h.regime {
            println!(
                "  regime: accuracy {} {} vs {} for the majority class; macro-F1 {} {} vs {}",
                pct(g.accuracy),
                ci(g.accuracy_interval, pct),
                pct(g.majority_accuracy),
                opt(Some(g.macro_f1), 3),
                ci(g.macro_f1_interval, |x| format!("{x:.3}")),
                opt(Some(g.majority_macro_f1), 3)
            );
            let mut t = Table::new(&[
                "actual \\ predicted",
                "strong down",
                "down",
                "flat",
                "up",
                "strong up",
            ]);
            for (k, row) in g.confusion.iter().enumerate() {
                let mut cells =
                    vec![["strong down", "down", "flat", "up", "strong up"][k].to_string()];
                cells.extend(row.iter().map(|c| c.to_string()));
                t.row(cells);
            }
            t.print();
        }
    }
    println!("\nper pair: directional accuracy [95% CI] and Sharpe, by model:");
    let mut head = vec!["pair".to_string()];
    for m in &r.models {
        if m.name != "zero" {
            head.push(format!("{} DA", m.name));
            head.push(format!("{} Sharpe", m.name));
        }
    }
    let head_refs: Vec<&str> = head.iter().map(|s| s.as_str()).collect();
    let mut t = Table::new(&head_refs);
    for s in &r.series {
        let mut row = vec![s.pair.name().to_string()];
        for m in r.models.iter().filter(|m| m.name != "zero") {
            let p = m.report.pairs.iter().find(|p| p.pair == s.pair);
            let dir = p.and_then(|p| p.all_folds.direction.as_ref());
            row.push(
                dir.map(|d| {
                    format!(
                        "{} {}",
                        pct(d.accuracy),
                        ci(d.bootstrap.or(Some(d.wilson)), pct)
                    )
                })
                .unwrap_or_else(|| "-".into()),
            );
            row.push(opt(
                p.and_then(|p| p.all_folds.trading.as_ref().and_then(|t| t.sharpe)),
                2,
            ));
        }
        t.row(row);
    }
    t.print();
    println!(
        "\nBQX sign: a positive BQX means the price fell below its recent path; the strategy goes short when the predicted BQX is positive."
    );
}

pub fn base(r: &BaseReport) {
    let mut cols: Vec<(u32, bool)> = r.series.iter().map(|s| (s.columns, s.close_only)).collect();
    cols.sort();
    cols.dedup();
    let rows: u64 = r.series.iter().map(|s| s.rows).sum();
    println!(
        "base stage (run {}): {} series computed, {} current (skipped); {} rows in {:.2} s",
        r.run_id, r.computed, r.current, rows, r.seconds
    );
    for (c, close_only) in cols {
        let n = r.series.iter().filter(|s| s.columns == c).count();
        let dir = r
            .series
            .iter()
            .find(|s| s.columns == c)
            .and_then(|s| std::path::Path::new(&s.file).parent())
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        println!(
            "  {n} series × {c} features{} in {dir}/",
            if close_only {
                " (close-only source: range-based features absent)"
            } else {
                ""
            }
        );
    }
}

pub fn catalog(c: &FeatureCatalog) {
    let mut t = Table::new(&["name", "family", "domain", "window", "warm-up", "formula"]);
    for f in &c.features {
        t.row(vec![
            f.name.clone(),
            f.family.to_string(),
            f.domain.as_str().to_string(),
            f.window
                .map(|w| w.to_string())
                .unwrap_or_else(|| "-".into()),
            f.warmup.to_string(),
            f.formula.clone(),
        ]);
    }
    t.print();
    let families: Vec<String> = c.families.iter().map(|(f, n)| format!("{f} {n}")).collect();
    println!(
        "\n{} features per pair (the last two families fitted per fold): {}",
        c.count,
        families.join(", ")
    );
}

fn utc(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// One event of the online loop, as it happens.
pub fn online_event(e: &bqx_app::OnlineEvent) {
    match e {
        bqx_app::OnlineEvent::Started {
            session,
            pairs,
            live_bars,
            resumed_at,
        } => {
            let what = if *resumed_at > 0 {
                format!("resuming at live bar {resumed_at} of {live_bars}")
            } else {
                format!("{live_bars} live bars")
            };
            println!("online session {session}: {} pairs, {what}", pairs.len());
        }
        bqx_app::OnlineEvent::Alert(a) => println!(
            "ALERT {} {} {} [{}] {}: {} (playbook: {})",
            utc(a.ts),
            a.severity.as_str().to_uppercase(),
            a.pair,
            a.evidence.detector,
            a.subject,
            a.reason,
            a.playbook
        ),
        bqx_app::OnlineEvent::Signals { ts, signals } => {
            println!("signals at {}:", utc(*ts));
            for s in signals {
                let members: Vec<String> = bqx_app::ONLINE_MEMBERS
                    .iter()
                    .zip(s.members.iter().zip(&s.weights))
                    .map(|(n, (p, w))| format!("{n} {p:+.5} w {w:.2}"))
                    .collect();
                println!("  {} {:+.5} ({})", s.pair, s.ensemble, members.join(", "));
            }
        }
        bqx_app::OnlineEvent::Decision(d) => println!(
            "DECISION {} {} {}: {}",
            utc(d.ts),
            d.pair,
            d.kind.as_str(),
            d.reason
        ),
        bqx_app::OnlineEvent::Checkpoint { .. } => {}
        bqx_app::OnlineEvent::Watched {
            file,
            bars_written,
            rejected,
        } => println!(
            "watched {}: {bars_written} new bars{}",
            file.display(),
            if *rejected > 0 {
                format!(", {rejected} rows quarantined (`bqx status`)")
            } else {
                String::new()
            }
        ),
        bqx_app::OnlineEvent::WatchError { file, message } => {
            println!("watched {}: not ingested: {message}", file.display())
        }
    }
}

/// The session's scores after the call.
pub fn online(r: &bqx_app::OnlineReport) {
    println!(
        "session {} ({}), run {}: {} of {} live bars consumed{} in {:.1} s (replay {:.0} bars/s)",
        r.session,
        r.timeframe,
        r.run_id,
        r.live_bars,
        r.live_total,
        if r.complete {
            ""
        } else {
            " — run again to continue"
        },
        r.seconds,
        r.bars_per_second
    );
    let alerts: Vec<String> = r.alerts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!(
        "alerts raised in this call: {}",
        if alerts.is_empty() {
            "none".into()
        } else {
            alerts.join(", ")
        }
    );
    // One MAE and one DA column per member, then the ensemble's.
    let names: Vec<&str> = r.members.iter().copied().chain(["ens"]).collect();
    let mut header = format!("{:<8} {:>8}", "pair", "matured");
    for n in &names {
        header.push_str(&format!(" {:>10}", format!("MAE {n}")));
    }
    for n in &names {
        header.push_str(&format!(" {:>9}", format!("DA {n}")));
    }
    println!(
        "{header} {:>16}",
        format!("weights {}", r.members.join("/"))
    );
    let line = |name: &str, s: &bqx_app::OnlineScore, w: Option<&[f64]>| {
        let mut l = format!("{name:<8} {:>8}", s.matured);
        for m in &s.mae {
            l.push_str(&format!(" {m:>10.5}"));
        }
        for d in &s.da {
            l.push_str(&format!(" {:>9}", pct(*d)));
        }
        let w = w.map_or(String::new(), |w| {
            w.iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join("/")
        });
        println!("{l} {w:>16}");
    };
    for p in &r.pairs {
        line(&p.pair.to_string(), &p.score, Some(&p.weights));
    }
    line("pooled", &r.pooled, None);
    // Champion/challenger: only the pairs where something happened.
    for p in &r.pairs {
        let promoted = p.champions.len() > 1;
        if !promoted && p.challenger.is_none() && p.decisions.is_empty() {
            continue;
        }
        let chal = p.challenger.as_ref().map_or(String::new(), |c| {
            format!(
                "; challenger {} {} ({} of {} labels)",
                c.id, c.stage, c.labels, c.needed
            )
        });
        let undo = if promoted {
            format!(
                "; `bqx online-rollback --session {} --pair {}` undoes the promotion",
                r.session, p.pair
            )
        } else {
            String::new()
        };
        println!(
            "{}: frozen member is champion {} (served before: {:?}){chal}; {} decisions{undo}",
            p.pair,
            p.champion,
            &p.champions[..p.champions.len() - 1],
            p.decisions.len(),
        );
    }
}

/// A rollback's decision.
pub fn decision(d: &bqx_app::Decision) {
    println!(
        "{} {} at {}: {} (champion now {})",
        d.pair,
        d.kind.as_str(),
        utc(d.ts),
        d.reason,
        d.champion
    );
}

/// Stored alerts.
pub fn alerts(a: &[bqx_app::AlertView]) {
    if a.is_empty() {
        println!("no alerts");
        return;
    }
    for x in a {
        println!(
            "#{} {} {} {} [{}] {}: {}",
            x.id,
            x.time,
            x.severity.to_uppercase(),
            x.pair,
            x.detector,
            x.subject,
            x.reason
        );
    }
}
