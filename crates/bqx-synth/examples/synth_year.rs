//! Benchmark: one year of 28-pair M1 bars (372 000 bars per pair, ≈ 10.4 M bars), generated and
//! written as HistData files into a temporary directory, which is removed afterwards.
//!
//! `cargo run -p bqx-synth --example synth_year [BARS]`

use std::time::Instant;

use bqx_synth::{SynthConfig, generate, write_histdata_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bars: usize = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 372_000,
    };
    let cfg = SynthConfig {
        bars,
        seed: 7,
        plants: vec!["lead-lag:EURUSD:GBPJPY:5:0.3".parse()?],
        ..SynthConfig::default()
    };
    let dir = std::env::temp_dir().join(format!("bqx-synth-year-{}", std::process::id()));

    let t0 = Instant::now();
    let market = generate(&cfg)?;
    let t_gen = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let files = write_histdata_dir(&market, &dir)?;
    let t_write = t1.elapsed().as_secs_f64();
    let total = t0.elapsed().as_secs_f64();

    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "{} pairs x {} bars = {} bars, {} files, {:.0} MB",
        market.series.len(),
        market.len(),
        market.series.len() * market.len(),
        files.len(),
        bytes as f64 / 1e6
    );
    println!(
        "generate {t_gen:.2} s, write histdata {t_write:.2} s, total {total:.2} s ({} rayon threads)",
        rayon::current_num_threads()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
