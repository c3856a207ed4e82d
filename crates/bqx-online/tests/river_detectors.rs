//! ADWIN and Page–Hinkley against river on the same streams: the same detections at the same
//! indices. The reference file is written by `golden/gen_river_detectors.py` (river in a
//! throwaway virtualenv; see the script's header).

use bqx_online::{Adwin, AdwinConfig, PageHinkley, PageHinkleyConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    values: Vec<f64>,
    adwin_0_002: Vec<usize>,
    adwin_0_002_final_width: usize,
    adwin_0_01: Vec<usize>,
    page_hinkley: Vec<usize>,
}

#[derive(Deserialize)]
struct Golden {
    river: String,
    cases: Vec<Case>,
}

fn golden() -> Golden {
    let text = include_str!("golden/river_detectors.json");
    serde_json::from_str(text).expect("golden parses")
}

fn detections(mut update: impl FnMut(f64) -> bool, xs: &[f64]) -> Vec<usize> {
    xs.iter()
        .enumerate()
        .filter_map(|(i, &x)| update(x).then_some(i))
        .collect()
}

#[test]
fn adwin_detects_where_river_does() {
    let g = golden();
    assert!(!g.river.is_empty());
    let mut total = 0;
    for c in &g.cases {
        let mut a = Adwin::new(AdwinConfig::with_delta(0.002));
        let got = detections(|x| a.update(x), &c.values);
        assert_eq!(got, c.adwin_0_002, "{} (delta 0.002)", c.name);
        assert_eq!(
            a.width(),
            c.adwin_0_002_final_width,
            "{} final width",
            c.name
        );
        let mut w = Adwin::new(AdwinConfig::with_delta(0.01));
        assert_eq!(
            detections(|x| w.update(x), &c.values),
            c.adwin_0_01,
            "{} (delta 0.01)",
            c.name
        );
        total += got.len();
    }
    // The golden streams exercise detections, not only their absence.
    assert!(total >= 5, "{total}");
}

#[test]
fn page_hinkley_detects_where_river_does() {
    for c in &golden().cases {
        let mut ph = PageHinkley::new(PageHinkleyConfig::default());
        assert_eq!(
            detections(|x| ph.update(x), &c.values),
            c.page_hinkley,
            "{}",
            c.name
        );
    }
}
