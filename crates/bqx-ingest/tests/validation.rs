//! One test per validation rule (exact line and kind), ordering, duplicates, parallel chunk
//! line numbers, and the accounting identity as a property.

use std::collections::HashMap;

use bqx_domain::format_utc_micros;
use bqx_ingest::{IngestOptions, ParsedFile, RejectKind, SourceTz, parse_bytes};
use proptest::prelude::*;

const NAME: &str = "DAT_ASCII_EURUSD_M1_2024.csv";

fn parse_with(name: &str, text: &str, o: &IngestOptions) -> ParsedFile {
    let f = parse_bytes(name, text.as_bytes(), o).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        f.accounting_holds(),
        "read {} accepted {} rejected {} dups {} flats {}",
        f.read,
        f.accepted,
        f.rejected.len(),
        f.skipped_duplicates,
        f.skipped_flats
    );
    f
}

fn parse(text: &str) -> ParsedFile {
    parse_with(NAME, text, &IngestOptions::default())
}

/// The single rejection of a file: (line, kind).
fn only_reject(f: &ParsedFile) -> (u64, RejectKind) {
    assert_eq!(f.rejected.len(), 1, "{:#?}", f.rejected);
    (f.rejected[0].line, f.rejected[0].kind)
}

const GOOD: &str = "20240305 170000;1.085420;1.085510;1.085390;1.085470;0";

#[test]
fn field_count() {
    let f = parse(&format!("{GOOD}\n\n20240305 170100;1.08;1.09;1.07\n"));
    assert_eq!(only_reject(&f), (3, RejectKind::FieldCount));
    assert_eq!(f.rejected[0].raw, "20240305 170100;1.08;1.09;1.07");
    assert!(
        f.rejected[0].reason.contains("expected 6 fields"),
        "{}",
        f.rejected[0].reason
    );
    assert_eq!((f.read, f.accepted), (2, 1));
}

#[test]
fn bad_timestamp() {
    let f = parse(&format!("{GOOD}\n20240230 170100;1.08;1.09;1.07;1.08;0\n"));
    assert_eq!(only_reject(&f), (2, RejectKind::BadTimestamp));
    let f = parse(&format!(
        "{GOOD}\r\n2024030 170100;1.08;1.09;1.07;1.08;0\r\n"
    ));
    assert_eq!(only_reject(&f), (2, RejectKind::BadTimestamp));
    assert_eq!(f.rejected[0].raw, "2024030 170100;1.08;1.09;1.07;1.08;0");
}

#[test]
fn bad_number() {
    let f = parse(&format!("{GOOD}\n20240305 170100;1.08;1.09;abc;1.08;0\n"));
    assert_eq!(only_reject(&f), (2, RejectKind::BadNumber));
    assert!(f.rejected[0].reason.contains("low 'abc'"));
    let f = parse(&format!("{GOOD}\n20240305 170100;1.08;inf;1.07;1.08;0\n"));
    assert_eq!(only_reject(&f), (2, RejectKind::BadNumber));
}

#[test]
fn non_positive_price() {
    // The known HistData defect: negative prices.
    let f = parse(&format!("{GOOD}\n20240305 170100;-1.08;1.09;1.07;1.08;0\n"));
    assert_eq!(only_reject(&f), (2, RejectKind::NonPositivePrice));
    let f = parse(&format!("20240305 170100;1.08;1.09;0;1.08;0\n{GOOD}\n"));
    assert_eq!(only_reject(&f), (1, RejectKind::NonPositivePrice));
}

#[test]
fn ohlc_violation() {
    let high_low = "20240305 170100;1.08;1.07;1.06;1.065;0";
    let low_high = "20240305 170200;1.08;1.09;1.081;1.085;0";
    let f = parse(&format!("{GOOD}\n{high_low}\n{low_high}\n"));
    let got: Vec<(u64, RejectKind)> = f.rejected.iter().map(|r| (r.line, r.kind)).collect();
    assert_eq!(
        got,
        [
            (2, RejectKind::OhlcViolation),
            (3, RejectKind::OhlcViolation)
        ]
    );
    assert!(f.rejected[0].reason.contains("high 1.07"));
    assert!(f.rejected[1].reason.contains("low 1.081"));
}

#[test]
fn nonexistent_and_ambiguous_local_times() {
    let o = IngestOptions {
        tz: Some(SourceTz::NyClose),
        ..IngestOptions::default()
    };
    // Broker 09:30 on 2024-03-10 = New York 02:30, inside the spring-forward gap.
    // Broker 08:30 on 2024-11-03 = New York 01:30, which happens twice.
    let text = "2024.03.10,09:30,1.08,1.09,1.07,1.08,5
2024.03.10,10:30,1.08,1.09,1.07,1.08,5
2024.11.03,08:30,1.08,1.09,1.07,1.08,5
";
    let f = parse_with("EURUSD60.csv", text, &o);
    assert_eq!(only_reject(&f), (1, RejectKind::NonexistentLocalTime));
    assert!(
        f.rejected[0].reason.contains("does not exist"),
        "{}",
        f.rejected[0].reason
    );
    let s = &f.series[0];
    assert_eq!(format_utc_micros(s.bars.ts[0]), "2024-03-10T07:30:00Z");
    // The earlier instant: 01:30 EDT = 05:30 UTC.
    assert_eq!(format_utc_micros(s.bars.ts[1]), "2024-11-03T05:30:00Z");
    assert!(
        f.notes
            .iter()
            .any(|n| n == "1 ambiguous local times resolved to the earlier instant"),
        "{:?}",
        f.notes
    );
}

#[test]
fn duplicates_exact_and_conflicting() {
    let conflict = "20240305 170000;1.085000;1.085510;1.084000;1.085470;0";
    let text = format!("{GOOD}\n20240305 170100;1.08;1.09;1.07;1.08;0\n{GOOD}\n{conflict}\n");
    let f = parse(&text);
    assert_eq!(f.skipped_duplicates, 1);
    assert_eq!(only_reject(&f), (4, RejectKind::DuplicateConflict));
    assert_eq!(f.rejected[0].raw, conflict);
    assert!(
        f.rejected[0].reason.contains("at line 1"),
        "{}",
        f.rejected[0].reason
    );
    let s = &f.series[0];
    assert_eq!(s.bars.open, vec![1.08542, 1.08]);
    assert_eq!(s.first_line, vec![1, 2]);
}

#[test]
fn missing_value_and_crossed_quote_and_unknown_pair() {
    let text = "timestamp,pair,open,high,low,close,volume
2024-03-05T22:00:00Z,EURUSD,1.08542,1.08551,1.08539,1.08547,57
2024-03-05T22:01:00Z,EURUSD,1.08547,1.08549,1.08531,,41
2024-03-05T22:02:00Z,EURSEK,11.2,11.3,11.1,11.25,3
2024-03-05T22:03:00Z,EURUSD,1.08547,1.08549,1.08531,N/A,41
";
    let f = parse_with("bars.csv", text, &IngestOptions::default());
    let got: Vec<(u64, RejectKind)> = f.rejected.iter().map(|r| (r.line, r.kind)).collect();
    assert_eq!(
        got,
        [
            (3, RejectKind::MissingValue),
            (4, RejectKind::UnknownPair),
            (5, RejectKind::MissingValue)
        ]
    );

    let ticks = "EUR/USD,20240305 22:00:00.118,1.08541,1.08549
EUR/USD,20240305 22:00:00.342,1.08552,1.08550
";
    let f = parse_with("EURUSD-2024-03.csv", ticks, &IngestOptions::default());
    // One rejection per side the tick would have fed.
    assert_eq!(f.rejected.len(), 3);
    assert!(
        f.rejected
            .iter()
            .all(|r| r.line == 2 && r.kind == RejectKind::CrossedQuote)
    );
    assert_eq!((f.read, f.accepted), (6, 3));
}

#[test]
fn out_of_order_rows_come_out_sorted() {
    let text = "20240305 170200;1.085330;1.085400;1.085290;1.085380;0
20240305 170000;1.085420;1.085510;1.085390;1.085470;0
20240305 170100;1.085470;1.085490;1.085310;1.085330;0
";
    let f = parse(text);
    let s = &f.series[0];
    let st: Vec<String> = s.bars.ts.iter().map(|&t| format_utc_micros(t)).collect();
    assert_eq!(
        st,
        [
            "2024-03-05T22:00:00Z",
            "2024-03-05T22:01:00Z",
            "2024-03-05T22:02:00Z"
        ]
    );
    assert_eq!(s.first_line, vec![2, 3, 1]);
    assert_eq!(s.bars.open, vec![1.08542, 1.08547, 1.08533]);
}

fn histdata_line(minute: i64, p: [f64; 4]) -> String {
    // 2024-01-01 00:00 EST + minute.
    let base = 1_704_085_200i64; // 2024-01-01T05:00:00Z
    let dt = chrono::DateTime::from_timestamp(base + minute * 60 - 5 * 3600, 0).unwrap();
    format!(
        "{};{:.6};{:.6};{:.6};{:.6};0",
        dt.format("%Y%m%d %H%M%S"),
        p[0],
        p[1],
        p[2],
        p[3]
    )
}

#[test]
fn parallel_chunks_keep_exact_line_numbers() {
    // ~7 MB: parsed in several chunks. Every 9,973rd line is bad, and blank lines are sprinkled.
    let mut text = String::new();
    let mut want_bad = Vec::new();
    let mut want_first = Vec::new();
    let mut line = 0u64;
    for m in 0..130_000i64 {
        if m % 5_003 == 0 {
            text.push('\n');
            line += 1;
        }
        line += 1;
        if m % 9_973 == 17 {
            text += "20240101 17xx00;1;1;1;1;0\n";
            want_bad.push(line);
        } else {
            let o = 1.08 + (m % 100) as f64 * 1e-5;
            text += &histdata_line(m, [o, o + 2e-4, o - 2e-4, o + 1e-4]);
            text.push('\n');
            want_first.push(line);
        }
    }
    assert!(text.len() > 6 << 20);
    let f = parse(&text);
    let bad: Vec<u64> = f.rejected.iter().map(|r| r.line).collect();
    assert_eq!(bad, want_bad);
    assert_eq!(f.series[0].first_line, want_first);
    for &l in want_first.iter().step_by(7919) {
        let raw = f.line(l).unwrap();
        assert!(raw.starts_with("2024"), "{l}: {raw}");
    }
    // Bad lines leave one-minute holes; everything else is consecutive.
    let gaps = f.series[0]
        .bars
        .ts
        .windows(2)
        .filter(|w| w[1] - w[0] != 60_000_000)
        .count();
    assert_eq!(gaps, want_bad.len());
}

/// A line of the property test: a bar at a minute, or a bad line.
#[derive(Clone, Debug)]
enum Item {
    Bar(i64, [f64; 4]),
    Bad(u8, i64),
    Blank,
}

fn bar_strategy() -> impl Strategy<Value = (i64, [f64; 4])> {
    (0i64..400, 0u32..50, 0u32..20, 0u32..20).prop_map(|(m, a, b, c)| {
        let o = 1.08 + a as f64 * 1e-5;
        let cl = o + b as f64 * 1e-5;
        (m, [o, cl + c as f64 * 1e-5, o - c as f64 * 1e-5, cl])
    })
}

fn items() -> impl Strategy<Value = Vec<Item>> {
    let item = prop_oneof![
        6 => bar_strategy().prop_map(|(m, p)| Item::Bar(m, p)),
        2 => (0u8..5, 0i64..400).prop_map(|(k, m)| Item::Bad(k, m)),
        1 => Just(Item::Blank),
    ];
    prop::collection::vec(item, 1..120).prop_flat_map(|mut v| {
        // Add exact duplicates of some bars, then shuffle everything.
        let dups: Vec<Item> = v
            .iter()
            .filter(|i| matches!(i, Item::Bar(..)))
            .step_by(3)
            .cloned()
            .collect();
        v.extend(dups);
        Just(v).prop_shuffle()
    })
}

fn render(item: &Item) -> String {
    match item {
        Item::Bar(m, p) => histdata_line(*m, *p),
        Item::Bad(k, m) => {
            let good = histdata_line(*m, [1.08, 1.09, 1.07, 1.085]);
            let stamp = &good[..15];
            match k {
                0 => format!("{stamp};1.08;1.09"),
                1 => "2024013x 170000;1.08;1.09;1.07;1.085;0".to_string(),
                2 => format!("{stamp};1.08;1.09;1.07;x;0"),
                3 => format!("{stamp};1.08;1.09;-1.07;1.085;0"),
                _ => format!("{stamp};1.08;1.07;1.06;1.085;0"),
            }
        }
        Item::Blank => String::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn accounting_identity_and_model(items in items()) {
        let text: String = items.iter().map(|i| render(i) + "\n").collect();
        // Sniffing looks at the first 12 non-blank lines: if none has a HistData stamp, the
        // file is an unknown format (a file of blank lines is empty).
        let sniffable = items
            .iter()
            .filter(|i| !matches!(i, Item::Blank))
            .take(12)
            .any(|i| !matches!(i, Item::Bad(1, _)));
        if !sniffable {
            prop_assert!(parse_bytes(NAME, text.as_bytes(), &IngestOptions::default()).is_err());
            return Ok(());
        }
        let f = parse(&text);
        // Model: the first occurrence of a minute in file order wins.
        let mut first: HashMap<i64, (u64, [f64; 4])> = HashMap::new();
        let (mut bad, mut dups, mut conflicts, mut read) = (0u64, 0u64, 0u64, 0u64);
        for (i, item) in items.iter().enumerate() {
            match item {
                Item::Blank => {}
                Item::Bad(..) => { bad += 1; read += 1; }
                Item::Bar(m, p) => {
                    read += 1;
                    let p6 = p.map(|x| format!("{x:.6}").parse::<f64>().unwrap());
                    match first.get(m) {
                        None => { first.insert(*m, (i as u64 + 1, p6)); }
                        Some((_, q)) if *q == p6 => dups += 1,
                        Some(_) => conflicts += 1,
                    }
                }
            }
        }
        prop_assert_eq!(f.read, read);
        prop_assert_eq!(f.accepted, first.len() as u64);
        prop_assert_eq!(f.skipped_duplicates, dups);
        prop_assert_eq!(f.rejected.len() as u64, bad + conflicts);
        prop_assert_eq!(
            f.rejected.iter().filter(|r| r.kind == RejectKind::DuplicateConflict).count() as u64,
            conflicts
        );
        prop_assert_eq!(f.read, f.accepted + f.rejected.len() as u64 + f.skipped_duplicates);
        if let Some(s) = f.series.first() {
            prop_assert!(s.bars.ts.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(s.records.iter().map(|&r| r as u64).sum::<u64>(), f.accepted);
            for k in 0..s.bars.len() {
                let m = (s.bars.ts[k] / 60_000_000) - 1_704_085_200 / 60;
                let (line, p) = first[&m];
                prop_assert_eq!(s.first_line[k], line);
                prop_assert_eq!([s.bars.open[k], s.bars.high[k], s.bars.low[k], s.bars.close[k]], p);
            }
        }
        for r in &f.rejected {
            prop_assert_eq!(f.line(r.line), Some(r.raw.as_str()));
        }
    }
}
