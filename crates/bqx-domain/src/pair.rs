use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The 8 major currencies, in market priority: a pair's base is the higher-priority currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    EUR,
    GBP,
    AUD,
    NZD,
    USD,
    CAD,
    CHF,
    JPY,
}

impl Currency {
    /// All currencies in market priority order.
    pub const ALL: [Currency; 8] = [
        Currency::EUR,
        Currency::GBP,
        Currency::AUD,
        Currency::NZD,
        Currency::USD,
        Currency::CAD,
        Currency::CHF,
        Currency::JPY,
    ];

    /// Position in market priority (EUR = 0 … JPY = 7).
    pub fn priority(self) -> usize {
        self as usize
    }

    pub fn code(self) -> &'static str {
        match self {
            Currency::EUR => "EUR",
            Currency::GBP => "GBP",
            Currency::AUD => "AUD",
            Currency::NZD => "NZD",
            Currency::USD => "USD",
            Currency::CAD => "CAD",
            Currency::CHF => "CHF",
            Currency::JPY => "JPY",
        }
    }

    /// The 7 pairs that contain this currency, in canonical pair order.
    pub fn pairs(self) -> impl Iterator<Item = Pair> {
        Pair::ALL
            .into_iter()
            .filter(move |p| p.base() == self || p.quote() == self)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = ParsePairError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParsePairError(s.to_string()))
    }
}

/// One of the 28 pairs of the 8 majors, in market convention. The index (0..28) follows the
/// canonical order EURGBP, EURAUD, …, CHFJPY.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair(u8);

/// A string that is not one of the 28 pairs (or 8 currencies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not one of the 28 major FX pairs (e.g. EURUSD, EUR/USD, GBPJPY)")]
pub struct ParsePairError(pub String);

const fn pair_currencies(index: usize) -> (usize, usize) {
    // Enumerate i < j over the priority order; index counts in that order.
    let mut i = 0;
    let mut k = 0;
    while i < 8 {
        let mut j = i + 1;
        while j < 8 {
            if k == index {
                return (i, j);
            }
            k += 1;
            j += 1;
        }
        i += 1;
    }
    panic!("pair index out of range")
}

impl Pair {
    pub const COUNT: usize = 28;

    /// All 28 pairs in canonical order.
    pub const ALL: [Pair; 28] = {
        let mut all = [Pair(0); 28];
        let mut i = 0;
        while i < 28 {
            all[i] = Pair(i as u8);
            i += 1;
        }
        all
    };

    /// The pair at canonical position `index` (0..28).
    pub fn from_index(index: usize) -> Option<Pair> {
        (index < Self::COUNT).then_some(Pair(index as u8))
    }

    /// The pair of two distinct currencies, oriented in market convention.
    pub fn of(a: Currency, b: Currency) -> Option<Pair> {
        if a == b {
            return None;
        }
        let (base, quote) = if a.priority() < b.priority() {
            (a, b)
        } else {
            (b, a)
        };
        Pair::ALL
            .into_iter()
            .find(|p| p.base() == base && p.quote() == quote)
    }

    pub fn index(self) -> usize {
        self.0 as usize
    }

    pub fn base(self) -> Currency {
        Currency::ALL[pair_currencies(self.index()).0]
    }

    pub fn quote(self) -> Currency {
        Currency::ALL[pair_currencies(self.index()).1]
    }

    /// `EURUSD`.
    pub fn name(self) -> &'static str {
        const NAMES: [&str; 28] = [
            "EURGBP", "EURAUD", "EURNZD", "EURUSD", "EURCAD", "EURCHF", "EURJPY", "GBPAUD",
            "GBPNZD", "GBPUSD", "GBPCAD", "GBPCHF", "GBPJPY", "AUDNZD", "AUDUSD", "AUDCAD",
            "AUDCHF", "AUDJPY", "NZDUSD", "NZDCAD", "NZDCHF", "NZDJPY", "USDCAD", "USDCHF",
            "USDJPY", "CADCHF", "CADJPY", "CHFJPY",
        ];
        NAMES[self.index()]
    }

    /// Size of one pip in price units: 0.01 for JPY-quoted pairs, 0.0001 otherwise.
    pub fn pip(self) -> f64 {
        if self.quote() == Currency::JPY {
            0.01
        } else {
            0.0001
        }
    }

    pub fn contains(self, c: Currency) -> bool {
        self.base() == c || self.quote() == c
    }

    /// The 12 pairs that share exactly one currency with this one, in canonical order.
    pub fn sisters(self) -> Vec<Pair> {
        Pair::ALL
            .into_iter()
            .filter(|&p| p != self && (p.contains(self.base()) || p.contains(self.quote())))
            .collect()
    }

    /// The 6 triangles that contain this pair.
    pub fn triangles(self) -> Vec<Triangle> {
        Triangle::all()
            .into_iter()
            .filter(|t| t.pairs().contains(&self))
            .collect()
    }

    /// Parses `EURUSD`, `eurusd`, `EUR/USD`, `EUR_USD`, `EUR-USD`. A reversed pair (`USDEUR`) is
    /// rejected: prices would have to be inverted, which ingest does not do silently.
    pub fn parse(s: &str) -> Result<Pair, ParsePairError> {
        let cleaned: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '/' | '_' | '-' | ' '))
            .collect::<String>()
            .to_ascii_uppercase();
        Pair::ALL
            .into_iter()
            .find(|p| p.name() == cleaned)
            .ok_or_else(|| ParsePairError(s.to_string()))
    }

    /// Finds a pair name embedded in a longer string such as a file name
    /// (`DAT_ASCII_EURUSD_M1_2024.csv`, `EURUSD_Candlestick_1_M_BID_….csv`, `EURUSD=X.csv`).
    /// Returns `None` when no pair or more than one distinct pair appears.
    pub fn find_in(s: &str) -> Option<Pair> {
        let upper = s.to_ascii_uppercase();
        let bytes = upper.as_bytes();
        let mut found: Option<Pair> = None;
        for start in 0..bytes.len() {
            for sep in [0usize, 1] {
                let end = start + 6 + sep;
                if end > bytes.len() {
                    continue;
                }
                let cand = if sep == 1 {
                    if bytes[start + 3] != b'/' && bytes[start + 3] != b'_' {
                        continue;
                    }
                    format!("{}{}", &upper[start..start + 3], &upper[start + 4..end])
                } else {
                    upper[start..end].to_string()
                };
                let boundary_before = start == 0 || !bytes[start - 1].is_ascii_alphabetic();
                let boundary_after = end == bytes.len() || !bytes[end].is_ascii_alphabetic();
                if !(boundary_before && boundary_after) {
                    continue;
                }
                if let Ok(p) = Pair::parse(&cand) {
                    match found {
                        Some(q) if q != p => return None,
                        _ => found = Some(p),
                    }
                }
            }
        }
        found
    }
}

impl fmt::Display for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Pair {
    type Err = ParsePairError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pair::parse(s)
    }
}

impl Serialize for Pair {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pair::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Three currencies `a`, `b`, `c` in priority order; its pairs `ab`, `ac`, `bc` satisfy
/// `P_ab · P_bc = P_ac`, so the log residual `ln P_ab − ln P_ac + ln P_bc` is 0 for
/// consistent quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Triangle {
    pub a: Currency,
    pub b: Currency,
    pub c: Currency,
}

impl Triangle {
    /// All 56 triangles, ordered by (a, b, c) priority.
    pub fn all() -> Vec<Triangle> {
        let mut out = Vec::with_capacity(56);
        for i in 0..8 {
            for j in i + 1..8 {
                for k in j + 1..8 {
                    out.push(Triangle {
                        a: Currency::ALL[i],
                        b: Currency::ALL[j],
                        c: Currency::ALL[k],
                    });
                }
            }
        }
        out
    }

    /// `[ab, ac, bc]`.
    pub fn pairs(&self) -> [Pair; 3] {
        [
            Pair::of(self.a, self.b).expect("distinct currencies"),
            Pair::of(self.a, self.c).expect("distinct currencies"),
            Pair::of(self.b, self.c).expect("distinct currencies"),
        ]
    }

    /// `ln P_ab − ln P_ac + ln P_bc` for prices of `[ab, ac, bc]`.
    pub fn log_residual(prices: [f64; 3]) -> f64 {
        prices[0].ln() - prices[1].ln() + prices[2].ln()
    }

    pub fn name(&self) -> String {
        format!("{}-{}-{}", self.a, self.b, self.c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_28_pairs_in_spec_order() {
        let spec = "EURGBP EURAUD EURNZD EURUSD EURCAD EURCHF EURJPY GBPAUD GBPNZD GBPUSD GBPCAD \
                    GBPCHF GBPJPY AUDNZD AUDUSD AUDCAD AUDCHF AUDJPY NZDUSD NZDCAD NZDCHF NZDJPY \
                    USDCAD USDCHF USDJPY CADCHF CADJPY CHFJPY";
        let names: Vec<&str> = Pair::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, spec.split_whitespace().collect::<Vec<_>>());
        for p in Pair::ALL {
            assert_eq!(format!("{}{}", p.base(), p.quote()), p.name());
            assert!(p.base().priority() < p.quote().priority());
        }
    }

    #[test]
    fn every_currency_in_seven_pairs_and_every_pair_has_twelve_sisters() {
        for c in Currency::ALL {
            assert_eq!(c.pairs().count(), 7);
        }
        for p in Pair::ALL {
            let s = p.sisters();
            assert_eq!(s.len(), 12, "{p}");
            assert!(!s.contains(&p));
            assert_eq!(p.triangles().len(), 6, "{p}");
        }
        assert_eq!(Triangle::all().len(), 56);
    }

    #[test]
    fn triangle_identity_holds_for_consistent_prices() {
        // Arbitrary currency values in a common numeraire; P_xy = value(x) / value(y).
        let value = [1.08, 1.27, 0.66, 0.61, 1.0, 0.73, 1.13, 0.0067];
        for t in Triangle::all() {
            let price = |p: Pair| value[p.base().priority()] / value[p.quote().priority()];
            let [ab, ac, bc] = t.pairs();
            let r = Triangle::log_residual([price(ab), price(ac), price(bc)]);
            assert!(r.abs() < 1e-12, "{} residual {r}", t.name());
        }
    }

    #[test]
    fn parses_common_spellings_and_finds_pairs_in_file_names() {
        assert_eq!(Pair::parse("EUR/USD").unwrap().name(), "EURUSD");
        assert_eq!(Pair::parse("gbp_jpy").unwrap().name(), "GBPJPY");
        assert!(Pair::parse("USDEUR").is_err());
        assert!(Pair::parse("EURSEK").is_err());
        let f = |s: &str| Pair::find_in(s).map(|p| p.name());
        assert_eq!(f("DAT_ASCII_EURUSD_M1_2024.csv"), Some("EURUSD"));
        assert_eq!(f("HISTDATA_COM_ASCII_GBPJPY_M1_2024.zip"), Some("GBPJPY"));
        assert_eq!(
            f("EURUSD_Candlestick_1_M_BID_01.03.2024-31.03.2024.csv"),
            Some("EURUSD")
        );
        assert_eq!(f("EURUSD=X.csv"), Some("EURUSD"));
        assert_eq!(f("EURUSD1.csv"), Some("EURUSD"));
        assert_eq!(f("EURUSD-2024-03.csv"), Some("EURUSD"));
        assert_eq!(f("bars.csv"), None);
        assert_eq!(f("EURUSD_vs_GBPUSD.csv"), None);
    }
}
