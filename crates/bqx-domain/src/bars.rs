use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which price a bar series carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSide {
    Bid,
    Ask,
    Mid,
    /// A reference fixing (e.g. the ECB's daily rate): one price, not an OHLC bar.
    Fix,
}

impl PriceSide {
    pub const ALL: [PriceSide; 4] = [
        PriceSide::Bid,
        PriceSide::Ask,
        PriceSide::Mid,
        PriceSide::Fix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PriceSide::Bid => "bid",
            PriceSide::Ask => "ask",
            PriceSide::Mid => "mid",
            PriceSide::Fix => "fix",
        }
    }

    /// Stable small integer used as the storage code.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<PriceSide> {
        PriceSide::ALL.get(code as usize).copied()
    }
}

impl fmt::Display for PriceSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PriceSide {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PriceSide::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("'{s}' is not a price side (bid, ask, mid, fix)"))
    }
}

/// A bar period, as a whole number of seconds (m1 = 60, h1 = 3600, d1 = 86400).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Timeframe {
    secs: u32,
}

impl Timeframe {
    pub const M1: Timeframe = Timeframe { secs: 60 };
    pub const M5: Timeframe = Timeframe { secs: 300 };
    pub const M15: Timeframe = Timeframe { secs: 900 };
    pub const M30: Timeframe = Timeframe { secs: 1800 };
    pub const H1: Timeframe = Timeframe { secs: 3600 };
    pub const H4: Timeframe = Timeframe { secs: 14_400 };
    pub const D1: Timeframe = Timeframe { secs: 86_400 };
    pub const W1: Timeframe = Timeframe { secs: 604_800 };

    pub const fn from_secs(secs: u32) -> Timeframe {
        Timeframe { secs }
    }

    pub fn secs(self) -> u32 {
        self.secs
    }

    pub fn micros(self) -> i64 {
        self.secs as i64 * 1_000_000
    }

    /// MetaTrader's period in minutes (`EURUSD1.csv`, `EURUSD60.csv`, `EURUSD1440.csv`).
    pub fn from_mt_minutes(minutes: u32) -> Option<Timeframe> {
        matches!(minutes, 1 | 5 | 15 | 30 | 60 | 240 | 1440 | 10080 | 43200)
            .then(|| Timeframe::from_secs(minutes * 60))
    }

    pub fn name(self) -> String {
        let s = self.secs;
        if s.is_multiple_of(86_400) {
            format!("d{}", s / 86_400)
        } else if s.is_multiple_of(3600) {
            format!("h{}", s / 3600)
        } else if s.is_multiple_of(60) {
            format!("m{}", s / 60)
        } else {
            format!("s{s}")
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl From<Timeframe> for String {
    fn from(t: Timeframe) -> String {
        t.name()
    }
}

impl TryFrom<String> for Timeframe {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl FromStr for Timeframe {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let err = || format!("'{s}' is not a timeframe (e.g. s30, m1, m5, h1, d1)");
        let (unit, n) = t.split_at(1.min(t.len()));
        let n: u32 = n.parse().map_err(|_| err())?;
        if n == 0 {
            return Err(err());
        }
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(err()),
        };
        Ok(Timeframe::from_secs(n * mult))
    }
}

/// A batch of bars of one series in columnar form, timestamps in UTC microseconds at bar open.
/// `volume` and `spread` are `None` when the source does not carry them (never zeros).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BarColumns {
    pub ts: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Option<Vec<f64>>,
    pub spread: Option<Vec<f64>>,
}

impl BarColumns {
    pub fn with_capacity(n: usize, volume: bool, spread: bool) -> BarColumns {
        BarColumns {
            ts: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: volume.then(|| Vec::with_capacity(n)),
            spread: spread.then(|| Vec::with_capacity(n)),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    /// A copy of the bars in `rows`.
    pub fn slice(&self, rows: std::ops::Range<usize>) -> BarColumns {
        BarColumns {
            ts: self.ts[rows.clone()].to_vec(),
            open: self.open[rows.clone()].to_vec(),
            high: self.high[rows.clone()].to_vec(),
            low: self.low[rows.clone()].to_vec(),
            close: self.close[rows.clone()].to_vec(),
            volume: self.volume.as_ref().map(|v| v[rows.clone()].to_vec()),
            spread: self.spread.as_ref().map(|v| v[rows].to_vec()),
        }
    }

    /// Appends one bar; `volume`/`spread` are ignored when the batch has no such column.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        ts: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
        spread: f64,
    ) {
        self.ts.push(ts);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        if let Some(v) = &mut self.volume {
            v.push(volume);
        }
        if let Some(s) = &mut self.spread {
            s.push(spread);
        }
    }

    /// A new batch with the rows at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> BarColumns {
        let pick = |v: &Vec<f64>| idx.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        BarColumns {
            ts: idx.iter().map(|&i| self.ts[i]).collect(),
            open: pick(&self.open),
            high: pick(&self.high),
            low: pick(&self.low),
            close: pick(&self.close),
            volume: self.volume.as_ref().map(pick),
            spread: self.spread.as_ref().map(pick),
        }
    }

    /// Appends all rows of `other` (which must have the same optional columns).
    pub fn extend(&mut self, other: &BarColumns) {
        self.ts.extend_from_slice(&other.ts);
        self.open.extend_from_slice(&other.open);
        self.high.extend_from_slice(&other.high);
        self.low.extend_from_slice(&other.low);
        self.close.extend_from_slice(&other.close);
        if let (Some(a), Some(b)) = (&mut self.volume, &other.volume) {
            a.extend_from_slice(b);
        }
        if let (Some(a), Some(b)) = (&mut self.spread, &other.spread) {
            a.extend_from_slice(b);
        }
    }

    /// True when the bars at `i` and `j` carry the same prices, volume and spread.
    pub fn same_values(&self, i: usize, other: &BarColumns, j: usize) -> bool {
        let opt_eq = |a: &Option<Vec<f64>>, b: &Option<Vec<f64>>| match (a, b) {
            (Some(a), Some(b)) => a[i] == b[j],
            (None, None) => true,
            _ => false,
        };
        self.open[i] == other.open[j]
            && self.high[i] == other.high[j]
            && self.low[i] == other.low[j]
            && self.close[i] == other.close[j]
            && opt_eq(&self.volume, &other.volume)
            && opt_eq(&self.spread, &other.spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframe_names_round_trip() {
        for (s, secs) in [
            ("m1", 60),
            ("m5", 300),
            ("h1", 3600),
            ("d1", 86_400),
            ("s30", 30),
        ] {
            let t: Timeframe = s.parse().unwrap();
            assert_eq!(t.secs(), secs);
            assert_eq!(t.name(), s);
        }
        assert!("x1".parse::<Timeframe>().is_err());
        assert!("m0".parse::<Timeframe>().is_err());
        assert_eq!(Timeframe::from_mt_minutes(60), Some(Timeframe::H1));
        assert_eq!(Timeframe::from_mt_minutes(7), None);
    }

    #[test]
    fn side_codes_round_trip() {
        for s in PriceSide::ALL {
            assert_eq!(PriceSide::from_code(s.code()), Some(s));
            assert_eq!(s.as_str().parse::<PriceSide>().unwrap(), s);
        }
    }
}
