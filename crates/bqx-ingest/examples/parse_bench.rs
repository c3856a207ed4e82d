//! Parse-rate benchmark for the HistData M1 path.
//!
//! Builds, in memory, HistData text equivalent to 28 files of 372,000 lines each (≈ 10.4 M
//! lines, one year of minutes per pair), then times `parse_bytes` on it as one text and as 28
//! per-pair files. Run with
//! `cargo run -p bqx-ingest --example parse_bench [lines_per_file] [files] [runs]`.

use std::fmt::Write as _;
use std::time::Instant;

use bqx_ingest::{IngestOptions, parse_bytes};

// Same allocator as the `bqx` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    Histdata,
    Mt4,
    Generic,
}

/// `n` consecutive M1 bars from `year0`-01-01 00:00, a seeded random walk near `start`.
fn bars_text(layout: Layout, n: usize, start: f64, seed: u64, year0: u32) -> String {
    let mut s = String::with_capacity(n * 60);
    if layout == Layout::Generic {
        s.push_str("timestamp,pair,open,high,low,close,volume\n");
    }
    let (mut y, mut mo, mut d, mut h, mut mi) = (year0, 1u32, 1u32, 0u32, 0u32);
    let mut state = seed | 1;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = start;
    for k in 0..n {
        let o = price;
        let c = (o * (1.0 + (rnd() - 0.5) * 4e-4)).max(1e-4);
        let hi = o.max(c) * (1.0 + rnd() * 1e-4);
        let lo = o.min(c) * (1.0 - rnd() * 1e-4);
        price = c;
        let _ = match layout {
            Layout::Histdata => writeln!(
                s,
                "{y:04}{mo:02}{d:02} {h:02}{mi:02}00;{o:.6};{hi:.6};{lo:.6};{c:.6};0"
            ),
            Layout::Mt4 => writeln!(
                s,
                "{y:04}.{mo:02}.{d:02},{h:02}:{mi:02},{o:.5},{hi:.5},{lo:.5},{c:.5},{}",
                k % 97
            ),
            Layout::Generic => writeln!(
                s,
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:00Z,EURUSD,{o:.5},{hi:.5},{lo:.5},{c:.5},{}",
                k % 97
            ),
        };
        mi += 1;
        if mi == 60 {
            mi = 0;
            h += 1;
            if h == 24 {
                h = 0;
                d += 1;
                if d > days_in_month(y, mo) {
                    d = 1;
                    mo += 1;
                    if mo > 12 {
                        mo = 1;
                        y += 1;
                    }
                }
            }
        }
    }
    s
}

fn histdata_text(n: usize, start: f64, seed: u64, year0: u32) -> String {
    bars_text(Layout::Histdata, n, start, seed, year0)
}

/// CPU seconds (user + system) of this process so far, from /proc (Linux), else 0.
fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let per_file = args.first().copied().unwrap_or(372_000);
    let files = args.get(1).copied().unwrap_or(28);
    let runs = args.get(2).copied().unwrap_or(3);
    let total = per_file * files;
    let opts = IngestOptions::default();
    println!(
        "threads: {}; building {files} x {per_file} = {total} HistData M1 lines in memory…",
        rayon::current_num_threads()
    );

    // One text with all lines (a long single-pair history).
    let big = histdata_text(total, 1.0854, 42, 1990);
    println!("one text: {:.1} MB", big.len() as f64 / 1e6);
    let mut best = f64::MAX;
    for run in 0..runs {
        let (t, cpu) = (Instant::now(), cpu_secs());
        let f = parse_bytes("DAT_ASCII_EURUSD_M1_ALL.csv", big.as_bytes(), &opts).expect("parses");
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs() - cpu;
        assert_eq!(f.accepted as usize, total);
        assert!(f.rejected.is_empty());
        println!(
            "  run {run}: parse_bytes {total} lines in {secs:.3} s = {:.2} M lines/s \
             ({cpu:.2} CPU s)",
            total as f64 / secs / 1e6
        );
        best = best.min(secs);
    }
    if runs > 0 {
        println!(
            "one text, best: {:.3} s = {:.2} M lines/s",
            best,
            total as f64 / best / 1e6
        );
    }
    // The product path: read_path on a file (from the page cache after the first read).
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("DAT_ASCII_EURUSD_M1_ALL.csv");
    std::fs::write(&path, big.as_bytes()).expect("write");
    drop(big);
    let _ = std::fs::read(&path);
    let (t, cpu) = (Instant::now(), cpu_secs());
    let f = bqx_ingest::read_path(&path, &opts).expect("parses");
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].accepted as usize, total);
    println!(
        "read_path of the same text from a file: {secs:.3} s = {:.2} M lines/s ({cpu:.2} CPU s)",
        total as f64 / secs / 1e6
    );
    drop(f);

    // 28 per-pair files, parsed one after the other.
    let pairs = bqx_domain::Pair::ALL;
    let texts: Vec<(String, String)> = (0..files)
        .map(|k| {
            let p = pairs[k % pairs.len()];
            let start = if p.name().ends_with("JPY") {
                150.0
            } else {
                1.1
            };
            (
                format!("DAT_ASCII_{}_M1_2024.csv", p.name()),
                histdata_text(per_file, start, k as u64 + 7, 2024),
            )
        })
        .collect();
    let (t, cpu) = (Instant::now(), cpu_secs());
    let mut accepted = 0;
    for (name, text) in &texts {
        let f = parse_bytes(name, text.as_bytes(), &opts).expect("parses");
        accepted += f.accepted;
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu;
    assert_eq!(accepted as usize, total);
    println!(
        "{files} files: {total} lines in {secs:.3} s = {:.2} M lines/s ({cpu:.2} CPU s)",
        total as f64 / secs / 1e6
    );

    drop(texts);

    // The other line layouts, 2 M lines each.
    let n = 2_000_000;
    let mt4_opts = IngestOptions {
        tz: Some(bqx_ingest::SourceTz::Fixed(7200)),
        ..IngestOptions::default()
    };
    for (layout, name, o) in [
        (Layout::Mt4, "EURUSD1.csv", mt4_opts),
        (Layout::Generic, "bars.csv", IngestOptions::default()),
    ] {
        let text = bars_text(layout, n, 1.0854, 3, 2010);
        let (t, cpu) = (Instant::now(), cpu_secs());
        let f = parse_bytes(name, text.as_bytes(), &o).expect("parses");
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs() - cpu;
        assert_eq!(f.accepted as usize, n);
        println!(
            "{name}: {n} lines in {secs:.3} s = {:.2} M lines/s ({cpu:.2} CPU s)",
            n as f64 / secs / 1e6
        );
    }
}
