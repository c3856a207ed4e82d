//! Every layout of formats.md maps the same three minutes (2024-03-05 22:00–22:02 UTC) to the
//! same UTC instants; zip, ECB, pairs, sides and unusable inputs.

use std::io::Write;

use bqx_domain::{Pair, PriceSide, Timeframe, format_utc_micros};
use bqx_ingest::{
    Format, FormatChoice, IngestOptions, ParsedFile, ParsedSeries, RawColumns, RejectKind,
    SourceTz, from_columns, is_parquet, parse_bytes, read_path, sniff,
};

const MINUTES: [&str; 3] = [
    "2024-03-05T22:00:00Z",
    "2024-03-05T22:01:00Z",
    "2024-03-05T22:02:00Z",
];
const OPEN: [f64; 3] = [1.08542, 1.08547, 1.08533];
const CLOSE: [f64; 3] = [1.08547, 1.08533, 1.08538];

fn opts() -> IngestOptions {
    IngestOptions::default()
}

fn ny() -> IngestOptions {
    IngestOptions {
        tz: Some(SourceTz::NyClose),
        ..opts()
    }
}

fn parse(name: &str, text: &str, o: &IngestOptions) -> ParsedFile {
    let f = parse_bytes(name, text.as_bytes(), o).unwrap_or_else(|e| panic!("{e}"));
    assert!(f.accounting_holds(), "accounting: {f:#?}");
    f
}

fn stamps(s: &ParsedSeries) -> Vec<String> {
    s.bars.ts.iter().map(|&t| format_utc_micros(t)).collect()
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// The three example bars: EURUSD, the given side, m1, 22:00–22:02 UTC, the example prices.
fn check_three_bars(f: &ParsedFile, side: PriceSide) -> &ParsedSeries {
    assert_eq!(f.series.len(), 1, "{f:#?}");
    let s = &f.series[0];
    assert_eq!(s.pair, Pair::parse("EURUSD").unwrap());
    assert_eq!(s.side, side);
    assert_eq!(s.timeframe, Timeframe::M1);
    assert_eq!(stamps(s), MINUTES);
    for i in 0..3 {
        assert!(
            close_to(s.bars.open[i], OPEN[i]),
            "open {i}: {}",
            s.bars.open[i]
        );
        assert!(close_to(s.bars.close[i], CLOSE[i]), "close {i}");
    }
    assert_eq!((f.read, f.accepted, f.rejected.len()), (3, 3, 0));
    assert_eq!(s.records, vec![1, 1, 1]);
    s
}

const HISTDATA: &str = "20240305 170000;1.085420;1.085510;1.085390;1.085470;0
20240305 170100;1.085470;1.085490;1.085310;1.085330;0
20240305 170200;1.085330;1.085400;1.085290;1.085380;0
";

const MT4: &str = "2024.03.06,00:00,1.08542,1.08551,1.08539,1.08547,57
2024.03.06,00:01,1.08547,1.08549,1.08531,1.08533,41
2024.03.06,00:02,1.08533,1.08540,1.08529,1.08538,38
";

const MT5: &str = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>
2024.03.06\t00:00:00\t1.08542\t1.08551\t1.08539\t1.08547\t57\t0\t12
2024.03.06\t00:01:00\t1.08547\t1.08549\t1.08531\t1.08533\t41\t0\t9
2024.03.06\t00:02:00\t1.08533\t1.08540\t1.08529\t1.08538\t38\t0\t10
";

#[test]
fn histdata_m1_is_est_plus_five_hours() {
    let f = parse("DAT_ASCII_EURUSD_M1_2024.csv", HISTDATA, &opts());
    assert_eq!(f.format, Format::HistdataM1);
    assert_eq!(f.tz, "UTC-05:00");
    let s = check_three_bars(&f, PriceSide::Bid);
    assert_eq!(s.bars.volume, None, "HistData volume is unknown, not 0");
    assert_eq!(s.first_line, vec![1, 2, 3]);
    assert_eq!(
        f.line(2),
        Some("20240305 170100;1.085470;1.085490;1.085310;1.085330;0")
    );
}

#[test]
fn dukascopy_gmt_and_local_time_agree() {
    let gmt = "Gmt time,Open,High,Low,Close,Volume
05.03.2024 22:00:00.000,1.08542,1.08551,1.08539,1.08547,412.37
05.03.2024 22:01:00.000,1.08547,1.08549,1.08531,1.08533,298.1
05.03.2024 22:02:00.000,1.08533,1.08540,1.08529,1.08538,310.5
";
    let name = "EURUSD_Candlestick_1_M_BID_01.03.2024-31.03.2024.csv";
    let f = parse(name, gmt, &opts());
    assert_eq!(f.format, Format::Dukascopy);
    let s = check_three_bars(&f, PriceSide::Bid);
    assert_eq!(s.bars.volume, Some(vec![412.37, 298.1, 310.5]));
    assert_eq!(s.first_line, vec![2, 3, 4]);

    let local = "Local time,Open,High,Low,Close,Volume
05.03.2024 23:00:00.000 GMT+0100,1.08542,1.08551,1.08539,1.08547,412.37
05.03.2024 23:01:00.000 GMT+0100,1.08547,1.08549,1.08531,1.08533,298.1
05.03.2024 23:02:00.000 GMT+0100,1.08533,1.08540,1.08529,1.08538,310.5
";
    let ask_name = "EURUSD_Candlestick_1_M_ASK_01.03.2024-31.03.2024.csv";
    let f = parse(ask_name, local, &opts());
    check_three_bars(&f, PriceSide::Ask);
    assert!(f.tz.contains("stamped"), "{}", f.tz);
}

#[test]
fn mt4_and_mt5_in_ny_close_server_time() {
    let f = parse("EURUSD1.csv", MT4, &ny());
    assert_eq!(f.format, Format::Mt4);
    assert_eq!(f.tz, "ny-close");
    let s = check_three_bars(&f, PriceSide::Bid);
    assert_eq!(s.bars.volume, Some(vec![57.0, 41.0, 38.0]));
    assert_eq!(s.bars.spread, None);

    let f = parse("EURUSD_M1.csv", MT5, &ny());
    assert_eq!(f.format, Format::Mt5);
    let s = check_three_bars(&f, PriceSide::Bid);
    assert_eq!(s.bars.volume, Some(vec![57.0, 41.0, 38.0]));
    // 12 points on a 5-digit pair = 1.2 pips = 0.00012.
    let spread = s.bars.spread.as_ref().unwrap();
    assert!(
        close_to(spread[0], 0.00012) && close_to(spread[1], 0.00009),
        "{spread:?}"
    );
}

#[test]
fn mt4_timeframe_from_the_file_name() {
    let h1 = "2024.03.06,00:00,1.08542,1.08551,1.08539,1.08547,57
2024.03.06,01:00,1.08547,1.08549,1.08531,1.08533,41
";
    assert_eq!(
        parse("EURUSD60.csv", h1, &ny()).series[0].timeframe,
        Timeframe::H1
    );
    // No period in the name: the most common spacing.
    assert_eq!(
        parse("eurusd_export.csv", h1, &ny()).series[0].timeframe,
        Timeframe::H1
    );
    let d1 = "2024.03.06,00:00,1.08542,1.08551,1.08539,1.08547,57\n";
    assert_eq!(
        parse("EURUSD1440.csv", d1, &ny()).series[0].timeframe,
        Timeframe::D1
    );
}

#[test]
fn ny_close_across_the_us_dst_change() {
    let text = "2024.03.08,00:00,1.08542,1.08551,1.08539,1.08547,57
2024.07.01,00:00,1.08547,1.08549,1.08531,1.08533,41
";
    let f = parse("EURUSD1440.csv", text, &ny());
    assert_eq!(
        stamps(&f.series[0]),
        ["2024-03-07T22:00:00Z", "2024-06-30T21:00:00Z"]
    );
}

#[test]
fn mt5_utf16le_with_bom() {
    let mut bytes = vec![0xFF, 0xFE];
    for u in MT5.encode_utf16() {
        bytes.extend_from_slice(&u.to_le_bytes());
    }
    let f = parse_bytes("EURUSD_M1.csv", &bytes, &ny()).unwrap();
    assert_eq!(f.format, Format::Mt5);
    check_three_bars(&f, PriceSide::Bid);
    assert_eq!(f.bytes, bytes.len() as u64);
    assert_eq!(f.sha256, bqx_ingest::sha256_hex(&bytes));
    assert!(f.text.starts_with("<DATE>"));
}

#[test]
fn generic_csv_canonical_header() {
    let text = "timestamp,pair,open,high,low,close,volume
2024-03-05T22:00:00Z,EURUSD,1.08542,1.08551,1.08539,1.08547,57
2024-03-05T22:01:00Z,EURUSD,1.08547,1.08549,1.08531,1.08533,41
2024-03-05T22:02:00Z,EURUSD,1.08533,1.08540,1.08529,1.08538,38
";
    let f = parse("bars.csv", text, &opts());
    assert_eq!(f.format, Format::GenericCsv);
    assert_eq!(f.tz, "UTC");
    let s = check_three_bars(&f, PriceSide::Mid);
    assert_eq!(s.bars.volume, Some(vec![57.0, 41.0, 38.0]));
    // With an explicit side and offsets instead of Z.
    let text = "timestamp,open,high,low,close
2024-03-05T23:00:00+01:00,1.08542,1.08551,1.08539,1.08547
2024-03-05T23:01:00+01:00,1.08547,1.08549,1.08531,1.08533
2024-03-05T17:02:00-05:00,1.08533,1.08540,1.08529,1.08538
";
    let o = IngestOptions {
        side: Some(PriceSide::Bid),
        ..opts()
    };
    let f = parse("EURUSD_bars.csv", text, &o);
    assert_eq!(f.tz, "stamped per row");
    let s = check_three_bars(&f, PriceSide::Bid);
    assert_eq!(s.bars.volume, None);
}

#[test]
fn generic_naive_stamps_use_tz_or_utc_with_a_note() {
    let text = "timestamp,open,high,low,close
2024-03-05 22:00:00,1.08542,1.08551,1.08539,1.08547
";
    let f = parse("EURUSD.csv", text, &opts());
    assert_eq!(stamps(&f.series[0]), [MINUTES[0]]);
    assert!(
        f.notes.iter().any(|n| n.contains("read as UTC")),
        "{:?}",
        f.notes
    );
    let o = IngestOptions {
        tz: Some("UTC+2".parse().unwrap()),
        ..opts()
    };
    let f = parse("EURUSD.csv", text, &o);
    assert_eq!(stamps(&f.series[0]), ["2024-03-05T20:00:00Z"]);
    assert_eq!(f.tz, "UTC+02:00");
}

#[test]
fn yfinance_daily() {
    let text = "Date,Open,High,Low,Close,Adj Close,Volume
2024-03-04,1.0838,1.0862,1.0830,1.0840,1.0840,0
2024-03-05,1.0854,1.0870,1.0840,1.0855,1.0855,0
2024-03-06,1.0856,1.0900,1.0850,1.0890,1.0890,0
";
    let f = parse("EURUSD=X.csv", text, &opts());
    let s = &f.series[0];
    assert_eq!(s.pair.name(), "EURUSD");
    assert_eq!(s.timeframe, Timeframe::D1);
    assert_eq!(s.bars.volume, None, "yfinance FX volume 0 means unknown");
    assert_eq!(stamps(s)[1], "2024-03-05T00:00:00Z");
    assert!(f.notes.iter().any(|n| n.contains("unreliable")));
}

#[test]
fn truefx_ticks_aggregate_by_hand() {
    let text = "EUR/USD,20240305 22:00:00.118,1.08541,1.08549
EUR/USD,20240305 22:00:00.342,1.08542,1.08550
EUR/USD,20240305 22:00:01.027,1.08540,1.08551
EUR/USD,20240305 22:01:05.000,1.08547,1.08555
EUR/USD,20240305 22:02:30.500,1.08533,1.08541
";
    let f = parse("EURUSD-2024-03.csv", text, &opts());
    assert_eq!(f.format, Format::Truefx);
    assert_eq!(f.series.len(), 3);
    // One record per (tick, side).
    assert_eq!((f.read, f.accepted), (15, 15));
    let [bid, ask, mid] = [&f.series[0], &f.series[1], &f.series[2]];
    assert_eq!(
        [bid.side, ask.side, mid.side],
        [PriceSide::Bid, PriceSide::Ask, PriceSide::Mid]
    );
    for s in [bid, ask, mid] {
        assert_eq!(stamps(s), MINUTES);
        assert_eq!(s.records, vec![3, 1, 1]);
        assert_eq!(s.first_line, vec![1, 4, 5]);
        assert_eq!(s.bars.volume.as_ref().unwrap(), &vec![3.0, 1.0, 1.0]);
        // Spreads 8, 8 and 11 points: mean 9 points.
        assert!(close_to(s.bars.spread.as_ref().unwrap()[0], 0.00009));
    }
    let ohlc = |s: &ParsedSeries| {
        [
            s.bars.open[0],
            s.bars.high[0],
            s.bars.low[0],
            s.bars.close[0],
        ]
    };
    let want_bid = [1.08541, 1.08542, 1.08540, 1.08540];
    let want_ask = [1.08549, 1.08551, 1.08549, 1.08551];
    let want_mid = [1.08545, 1.08546, 1.08545, 1.085455];
    for (got, want) in [
        (ohlc(bid), want_bid),
        (ohlc(ask), want_ask),
        (ohlc(mid), want_mid),
    ] {
        for k in 0..4 {
            assert!(close_to(got[k], want[k]), "{got:?} vs {want:?}");
        }
    }
    assert!(f.notes.iter().all(|n| !n.contains("rollover")));
    // A rollover tick 30 points wide among 1-point ticks is kept and flagged.
    let wide = "EUR/USD,20240305 22:00:00.100,1.08540,1.08541
EUR/USD,20240305 22:00:00.200,1.08540,1.08541
EUR/USD,20240305 22:00:00.300,1.08520,1.08550
EUR/USD,20240305 22:00:00.400,1.08540,1.08541
";
    let w = parse("EURUSD-2024-03.csv", wide, &opts());
    assert_eq!(w.accepted, 12);
    assert!(
        w.notes
            .iter()
            .any(|n| n == "1 ticks with spread > 10x median (rollover) kept and flagged"),
        "{:?}",
        w.notes
    );
    // --side keeps only that series.
    let o = IngestOptions {
        side: Some(PriceSide::Bid),
        ..opts()
    };
    let f = parse("EURUSD-2024-03.csv", text, &o);
    assert_eq!(f.series.len(), 1);
    assert_eq!((f.read, f.accepted), (5, 5));
}

#[test]
fn other_tick_layouts_map_to_the_same_minutes() {
    let hist = "20240305 170000118,1.08541,1.08549,0
20240305 170105000,1.08547,1.08555,0
20240305 170230500,1.08533,1.08541,0
";
    let duka = "Gmt time,Ask,Bid,AskVolume,BidVolume
05.03.2024 22:00:00.118,1.08549,1.08541,1.5,2.25
05.03.2024 22:01:05.000,1.08555,1.08547,1,1
05.03.2024 22:02:30.500,1.08541,1.08533,1,1
";
    let mt5 = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>
2024.03.06\t00:00:00.118\t1.08541\t1.08549\t\t\t6
2024.03.06\t00:01:05.000\t1.08547\t1.08555\t\t\t6
2024.03.06\t00:02:30.500\t1.08533\t\t\t\t2
";
    for (name, text, o, fmt) in [
        (
            "DAT_ASCII_EURUSD_T_202403.csv",
            hist,
            opts(),
            Format::HistdataTick,
        ),
        (
            "EURUSD_Ticks_05.03.2024.csv",
            duka,
            opts(),
            Format::DukascopyTick,
        ),
        ("EURUSD_ticks.csv", mt5, ny(), Format::Mt5Tick),
    ] {
        let f = parse(name, text, &o);
        assert_eq!(f.format, fmt);
        assert_eq!(f.series.len(), 3, "{name}");
        for s in &f.series {
            assert_eq!(stamps(s), MINUTES, "{name}");
        }
        let bid = &f.series[0];
        assert!(close_to(bid.bars.close[2], 1.08533), "{name}");
        let ask = &f.series[1];
        // MT5: the empty ask of the last tick carries 1.08555 forward.
        let want_ask = if fmt == Format::Mt5Tick {
            1.08555
        } else {
            1.08541
        };
        assert!(
            close_to(ask.bars.close[2], want_ask),
            "{name} {}",
            ask.bars.close[2]
        );
    }
}

#[test]
fn mt5_tick_without_a_first_bid_is_missing_value() {
    let text = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>
2024.03.06\t00:00:00.118\t\t1.08549\t\t\t4
2024.03.06\t00:00:01.000\t1.08541\t\t\t\t2
";
    let f = parse("EURUSD_ticks.csv", text, &ny());
    // Line 2 has no bid to carry forward; line 3 takes the ask of line 2.
    assert_eq!(f.rejected.len(), 3);
    assert!(
        f.rejected
            .iter()
            .all(|r| r.line == 2 && r.kind == RejectKind::MissingValue)
    );
    assert!(close_to(f.series[1].bars.open[0], 1.08549));
}

fn ecb_excerpt() -> &'static str {
    "Date,USD,JPY,BGN,GBP,CHF,AUD,CAD,NZD,
2024-03-06,1.0890,162.10,1.9558,0.85500,0.96200,1.6700,1.4750,1.7850,
2024-03-05,1.0850,162.50,1.9558,0.85400,0.96000,1.6650,1.4700,1.7800,
2024-03-04,1.0860,N/A,1.9558,0.85450,0.95900,1.6600,1.4720,1.7820,
"
}

#[test]
fn ecb_excerpt_yields_28_pairs_by_hand() {
    let f = parse("eurofxref-hist.csv", ecb_excerpt(), &opts());
    assert_eq!(f.format, Format::Ecb);
    assert_eq!(f.series.len(), 28);
    assert_eq!(f.read, 3 * 28);
    // Line 4 has no JPY rate: the 7 JPY pairs are rejected there.
    assert_eq!(f.rejected.len(), 7);
    assert!(
        f.rejected
            .iter()
            .all(|r| r.line == 4 && r.kind == RejectKind::MissingValue)
    );
    assert_eq!(f.accepted, 84 - 7);
    let get = |n: &str| f.series.iter().find(|s| s.pair.name() == n).unwrap();
    let gbpjpy = get("GBPJPY");
    assert_eq!(gbpjpy.side, PriceSide::Fix);
    assert_eq!(gbpjpy.timeframe, Timeframe::D1);
    // 14:15 Berlin (CET) = 13:15 UTC; oldest first.
    assert_eq!(
        stamps(gbpjpy),
        ["2024-03-05T13:15:00Z", "2024-03-06T13:15:00Z"]
    );
    assert_eq!(gbpjpy.first_line, vec![3, 2]);
    let v = 162.50 / 0.85400;
    assert!(close_to(gbpjpy.bars.close[0], v));
    assert_eq!(
        [gbpjpy.bars.open[0], gbpjpy.bars.high[0], gbpjpy.bars.low[0]],
        [v, v, v]
    );
    assert_eq!(get("EURUSD").bars.close, vec![1.0860, 1.0850, 1.0890]);
    // AUDNZD = EURNZD / EURAUD.
    assert!(close_to(get("AUDNZD").bars.close[0], 1.7820 / 1.6600));
    assert_eq!(get("EURJPY").bars.len(), 2);
}

#[test]
fn ecb_real_file() {
    let path = format!(
        "{}/../../data/ecb/eurofxref-hist.zip",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    let files = read_path(std::path::Path::new(&path), &opts()).unwrap();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert!(
        f.source.ends_with("eurofxref-hist.zip!eurofxref-hist.csv"),
        "{}",
        f.source
    );
    assert_eq!(f.format, Format::Ecb);
    assert_eq!(f.read, 7126 * 28);
    assert_eq!(f.accepted, 7126 * 28);
    assert!(
        f.rejected.is_empty(),
        "{:?}",
        &f.rejected[..f.rejected.len().min(3)]
    );
    assert_eq!(f.series.len(), 28);
    for s in &f.series {
        assert_eq!(s.bars.len(), 7126, "{}", s.pair);
        assert_eq!(s.timeframe, Timeframe::D1);
        assert_eq!(s.side, PriceSide::Fix);
        assert_eq!(format_utc_micros(s.bars.ts[0]), "1999-01-04T13:15:00Z");
        assert!(s.bars.ts.windows(2).all(|w| w[0] < w[1]));
    }
    let gbpjpy = f.series.iter().find(|s| s.pair.name() == "GBPJPY").unwrap();
    let last = *gbpjpy.bars.close.last().unwrap();
    assert!(close_to(last, 175.68 / 0.8338), "{last}");
    assert!(f.accounting_holds());
}

fn zip_bytes(members: &[(&str, &str)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, body) in members {
        w.start_file(*name, o).unwrap();
        w.write_all(body.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn zip_members_gap_report_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let bad_second = HISTDATA.replace("1.085490;1.085310", "1.085490;x");
    let bytes = zip_bytes(&[
        ("DAT_ASCII_EURUSD_M1_2024.csv", &bad_second),
        (
            "DAT_ASCII_EURUSD_M1_2024.txt",
            "HistData.com (c) 2024\nFile: DAT_ASCII_EURUSD_M1_2024.csv Status Report\n\
             Gap of 62s found between 20240102170000 and 20240102170102.\n",
        ),
        ("DAT_ASCII_GBPUSD_M1_2024.csv", HISTDATA),
    ]);
    let path = dir.path().join("HISTDATA_COM_ASCII_EURUSD_M1_2024.zip");
    std::fs::write(&path, &bytes).unwrap();
    let files = read_path(&path, &opts()).unwrap();
    assert_eq!(files.len(), 2);
    assert!(
        files[0]
            .source
            .ends_with(".zip!DAT_ASCII_EURUSD_M1_2024.csv")
    );
    assert!(
        files[0]
            .notes
            .iter()
            .any(|n| n == "ignored gap report member DAT_ASCII_EURUSD_M1_2024.txt"),
        "{:?}",
        files[0].notes
    );
    // Line numbers are relative to the member.
    assert_eq!(files[0].rejected.len(), 1);
    assert_eq!(files[0].rejected[0].line, 2);
    assert_eq!(files[0].rejected[0].kind, RejectKind::BadNumber);
    assert_eq!(files[1].series[0].pair.name(), "GBPUSD");
    assert_eq!(
        files[0].sha256,
        bqx_ingest::sha256_hex(bad_second.as_bytes())
    );

    for cut in [bytes.len() / 2, bytes.len() - 10] {
        let p = dir.path().join(format!("cut{cut}.zip"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let e = read_path(&p, &opts()).unwrap_err();
        assert!(e.reason.contains("zip"), "{e}");
    }
    // A corrupted member (flipped compressed byte) fails as a whole too.
    let mut corrupt = bytes.clone();
    corrupt[60] ^= 0xFF;
    let p = dir.path().join("corrupt.zip");
    std::fs::write(&p, &corrupt).unwrap();
    assert!(read_path(&p, &opts()).is_err());
}

#[test]
fn pair_from_flag_column_or_file_name() {
    let flag = IngestOptions {
        pair: Some(Pair::parse("GBPJPY").unwrap()),
        ..opts()
    };
    assert_eq!(
        parse("data.csv", HISTDATA, &flag).series[0].pair.name(),
        "GBPJPY"
    );
    assert_eq!(
        parse("DAT_ASCII_AUDUSD_M1_2024.csv", HISTDATA, &opts()).series[0]
            .pair
            .name(),
        "AUDUSD"
    );
    let e = parse_bytes("data.csv", HISTDATA.as_bytes(), &opts()).unwrap_err();
    assert!(e.reason.contains("pass --pair"), "{e}");
    assert!(e.to_string().starts_with("data.csv: "), "{e}");

    let two = "timestamp,pair,open,high,low,close
2024-03-05T22:00:00Z,GBPUSD,1.27,1.28,1.26,1.275
2024-03-05T22:00:00Z,EUR/USD,1.08,1.09,1.07,1.085
2024-03-05T22:01:00Z,EURSEK,11.2,11.3,11.1,11.25
2024-03-05T22:01:00Z,EURUSD,1.08,1.09,1.07,1.085
";
    let f = parse("bars.csv", two, &opts());
    let names: Vec<&str> = f.series.iter().map(|s| s.pair.name()).collect();
    assert_eq!(names, ["EURUSD", "GBPUSD"]);
    assert_eq!(f.series[0].bars.len(), 2);
    assert_eq!(f.rejected.len(), 1);
    assert_eq!(
        (f.rejected[0].line, f.rejected[0].kind),
        (4, RejectKind::UnknownPair)
    );
    // --pair with a pair column keeps that pair and rejects the others.
    let f = parse(
        "bars.csv",
        two,
        &IngestOptions {
            pair: Some(Pair::parse("EURUSD").unwrap()),
            ..opts()
        },
    );
    assert_eq!(f.series.len(), 1);
    assert_eq!(f.rejected.len(), 2);
}

#[test]
fn unusable_inputs() {
    let e = parse_bytes("EURUSD1.csv", MT4.as_bytes(), &opts()).unwrap_err();
    assert!(
        e.reason.contains("--tz") && e.reason.contains("ny-close"),
        "{e}"
    );

    let e = parse_bytes("x.csv", b"\n\nhello world\nfoo bar\n", &opts()).unwrap_err();
    assert!(e.to_string().starts_with("x.csv:3: unknown format"), "{e}");

    let e = parse_bytes("empty.csv", b"", &opts()).unwrap_err();
    assert!(e.reason.contains("empty"));
    let e = parse_bytes("blank.csv", b"\n \n", &opts()).unwrap_err();
    assert!(e.reason.contains("empty"));
    let e = parse_bytes("EURUSD.csv", b"timestamp,open,high,low,close\n\n", &opts()).unwrap_err();
    assert!(e.reason.contains("no data rows"), "{e}");

    let forced = IngestOptions {
        format: FormatChoice::Mt4,
        ..ny()
    };
    let e = parse_bytes("DAT_ASCII_EURUSD_M1_2024.csv", HISTDATA.as_bytes(), &forced).unwrap_err();
    assert_eq!(e.line, Some(1));
    assert!(e.reason.contains("expected MT4"), "{e}");

    let e = parse_bytes(
        "EURUSD.csv",
        b"timestamp,pair,open,close\n2024-03-05T22:00:00Z,EURUSD,1,1\n",
        &IngestOptions {
            format: FormatChoice::Csv,
            ..opts()
        },
    )
    .unwrap_err();
    assert!(
        e.reason.contains("missing required column(s) high, low"),
        "{e}"
    );

    let e = parse_bytes(
        "f.csv",
        b"20240305 170000;1.0;1.0;1.0;1.0;0\n\xFF\n",
        &opts(),
    )
    .unwrap_err();
    assert_eq!(e.line, Some(2));

    assert!(is_parquet(b"PAR1\x15\x04"));
    assert!(parse_bytes("x.parquet", b"PAR1\x15\x04", &opts()).is_err());
}

#[test]
fn forced_format_parses_and_auto_sniffs() {
    let o = IngestOptions {
        format: FormatChoice::Histdata,
        ..opts()
    };
    let f = parse("DAT_ASCII_EURUSD_M1_2024.csv", HISTDATA, &o);
    assert_eq!(f.format, Format::HistdataM1);
    assert_eq!(
        sniff(HISTDATA.lines().next().unwrap(), None),
        Some(Format::HistdataM1)
    );
    assert_eq!("mt5".parse::<FormatChoice>().unwrap(), FormatChoice::Mt5);
    assert!("xls".parse::<FormatChoice>().is_err());
}

#[test]
fn histdata_tz_override_is_noted() {
    let o = IngestOptions {
        tz: Some(SourceTz::Utc),
        ..opts()
    };
    let f = parse("DAT_ASCII_EURUSD_M1_2024.csv", HISTDATA, &o);
    assert_eq!(stamps(&f.series[0])[0], "2024-03-05T17:00:00Z");
    assert!(f.notes.iter().any(|n| n.contains("overrides HistData")));
    assert_eq!(f.tz, "UTC");
}

#[test]
fn dukascopy_flats() {
    // Tuesday 2024-03-05 10:00 UTC: a normal bar, an isolated flat zero-volume minute (kept),
    // another normal bar; Saturday 2024-03-09 12:00: a weekend flat (skipped); Wednesday
    // 2024-12-25 from 00:00: 60 flat zero-volume minutes at one price (a holiday, skipped) and
    // then a flat with volume (kept).
    let mut text = String::from("Gmt time,Open,High,Low,Close,Volume\n");
    text += "05.03.2024 10:00:00.000,1.0850,1.0852,1.0849,1.0851,12.5\n";
    text += "05.03.2024 10:01:00.000,1.0851,1.0851,1.0851,1.0851,0\n";
    text += "05.03.2024 10:02:00.000,1.0851,1.0853,1.0850,1.0852,3\n";
    text += "09.03.2024 12:00:00.000,1.0940,1.0940,1.0940,1.0940,0\n";
    for m in 0..60 {
        text += &format!("25.12.2024 00:{m:02}:00.000,1.0400,1.0400,1.0400,1.0400,0\n");
    }
    text += "25.12.2024 01:00:00.000,1.0400,1.0400,1.0400,1.0400,0.5\n";
    let f = parse("EURUSD_Candlestick_1_M_BID_x.csv", &text, &opts());
    assert_eq!(f.skipped_flats, 61);
    assert_eq!(f.accepted, 4);
    let s = &f.series[0];
    assert_eq!(
        stamps(s),
        [
            "2024-03-05T10:00:00Z",
            "2024-03-05T10:01:00Z",
            "2024-03-05T10:02:00Z",
            "2024-12-25T01:00:00Z"
        ]
    );
}

#[test]
fn parquet_columns() {
    let us = |m: i64| 1_709_676_000_000_000 + m * 60_000_000;
    let cols = RawColumns {
        ts_micros: vec![Some(us(1)), Some(us(0)), None, Some(us(2))],
        pair: Some(vec![
            Some("EURUSD".into()),
            Some("EURUSD".into()),
            Some("EURUSD".into()),
            Some("EURXXX".into()),
        ]),
        open: vec![Some(1.08547), Some(1.08542), Some(1.0), Some(1.0)],
        high: vec![Some(1.08549), Some(1.08551), Some(1.0), Some(1.0)],
        low: vec![Some(1.08531), Some(1.08539), Some(1.0), Some(1.0)],
        close: vec![Some(1.08533), Some(1.08547), Some(1.0), Some(1.0)],
        volume: Some(vec![Some(41.0), Some(57.0), Some(1.0), Some(1.0)]),
        spread: None,
    };
    let f = from_columns("bars.parquet", cols, &opts()).unwrap();
    assert!(f.accounting_holds());
    assert_eq!(f.format, Format::Parquet);
    let s = &f.series[0];
    assert_eq!(stamps(s), &MINUTES[..2]);
    assert_eq!(s.first_line, vec![2, 1]);
    assert_eq!(s.side, PriceSide::Mid);
    assert_eq!(f.rejected.len(), 2);
    assert_eq!(
        (f.rejected[0].line, f.rejected[0].kind),
        (3, RejectKind::MissingValue)
    );
    assert_eq!(f.rejected[0].raw, ",EURUSD,1,1,1,1,1");
    assert_eq!(
        (f.rejected[1].line, f.rejected[1].kind),
        (4, RejectKind::UnknownPair)
    );
    assert_eq!(f.rejected[1].raw, "2024-03-05T22:02:00Z,EURXXX,1,1,1,1,1");
}

#[test]
fn a_timeframe_option_names_the_period_only_where_the_file_cannot() {
    let one = "timestamp,pair,open,high,low,close\n2024-03-05T13:00:00Z,EURUSD,1.1,1.2,1.0,1.1\n";
    let hint = IngestOptions {
        timeframe: Some(Timeframe::H1),
        ..opts()
    };
    // One bar: no spacing to read, so the option decides (without it M1 is guessed).
    assert_eq!(
        parse("one.csv", one, &hint).series[0].timeframe,
        Timeframe::H1
    );
    assert_eq!(
        parse("one.csv", one, &opts()).series[0].timeframe,
        Timeframe::M1
    );
    // Two bars a day apart: the file's spacing wins over the option.
    let two = "timestamp,pair,open,high,low,close\n2024-03-05T13:00:00Z,EURUSD,1.1,1.2,1.0,1.1\n\
               2024-03-06T13:00:00Z,EURUSD,1.1,1.2,1.0,1.1\n";
    assert_eq!(
        parse("two.csv", two, &hint).series[0].timeframe,
        Timeframe::D1
    );
}
