use std::fmt;
use std::str::FromStr;

use bqx_domain::{Pair, Timeframe};
use serde::{Deserialize, Serialize};

/// 2024-01-01T00:00:00Z in UTC microseconds (a Monday, the market is open).
pub const DEFAULT_START_MICROS: i64 = 1_704_067_200_000_000;

/// Earliest and latest accepted start (1900-01-01 and 2200-01-01 UTC).
const MIN_START_MICROS: i64 = -2_208_988_800_000_000;
const MAX_START_MICROS: i64 = 7_258_118_400_000_000;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    /// Bars per pair, i.e. the number of open-market time steps (all 28 pairs share them).
    pub bars: usize,
    /// Bar period: any whole number of minutes below a day (m1, m5, m15, h1, h4, …) or d1.
    pub timeframe: Timeframe,
    /// Seed of every random draw; the same config gives byte-identical output.
    pub seed: u64,
    /// First candidate bar time, UTC microseconds; rounded up to the timeframe grid and moved
    /// past a weekend if it falls in one.
    pub start_micros: i64,
    /// Signals planted into the market.
    pub plants: Vec<Plant>,
}

impl Default for SynthConfig {
    /// 10 000 M1 bars from 2024-01-01T00:00:00Z, seed 42, no plants.
    fn default() -> Self {
        SynthConfig {
            bars: 10_000,
            timeframe: Timeframe::M1,
            seed: 42,
            start_micros: DEFAULT_START_MICROS,
            plants: Vec::new(),
        }
    }
}

/// A signal planted into the synthetic market.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Plant {
    /// The follower's log return at bar `t` gets `strength ×` the leader's log return of bar
    /// `t − lag` (mid, close to close). Planted at the factor level (`+strength/2 · r` on the
    /// follower's base currency, `−strength/2 · r` on its quote currency), so triangles still
    /// hold and every other pair that contains one of those currencies inherits half the lead
    /// (if the leader itself contains one, its own returns become slightly autocorrelated).
    /// Requires `lag ≥ 1`, `leader ≠ follower`, `|strength| < 1`.
    LeadLag {
        leader: Pair,
        follower: Pair,
        lag: usize,
        strength: f64,
    },
    /// A volatility regime switch: from bar `from` on, every currency's diffusion volatility
    /// is multiplied by `factor` (> 0). Written `vol-break:FROM:FACTOR`.
    VolBreak { from: usize, factor: f64 },
    /// A trend switch in one pair: from bar `from` on, the pair's log return gets `per_bar`
    /// added every bar (half on its base currency, half against its quote currency, so the
    /// triangles hold). Written `drift:PAIR:FROM:PER_BAR`, e.g. `drift:EURUSD:6000:0.0002`.
    Drift {
        pair: Pair,
        from: usize,
        per_bar: f64,
    },
}

impl Plant {
    /// Checks the plant's parameters.
    pub fn validate(&self) -> Result<(), SynthError> {
        match *self {
            Plant::LeadLag {
                leader,
                follower,
                lag,
                strength,
            } => {
                let bad = |why: String| Err(SynthError::BadPlant(format!("{self}: {why}")));
                if lag == 0 {
                    return bad("lag must be at least 1 bar".into());
                }
                if leader == follower {
                    return bad("leader and follower must be different pairs".into());
                }
                if !strength.is_finite() || strength.abs() >= 1.0 {
                    return bad(format!(
                        "strength must be a number with |strength| < 1, got {strength}"
                    ));
                }
                Ok(())
            }
            Plant::VolBreak { factor, .. } => {
                if !(factor.is_finite() && factor > 0.0 && factor <= 100.0) {
                    return Err(SynthError::BadPlant(format!(
                        "{self}: factor must be in (0, 100], got {factor}"
                    )));
                }
                Ok(())
            }
            Plant::Drift { per_bar, .. } => {
                if !(per_bar.is_finite() && per_bar.abs() < 0.01) {
                    return Err(SynthError::BadPlant(format!(
                        "{self}: per-bar drift must be a log return with |drift| < 0.01, got \
                         {per_bar}"
                    )));
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Plant {
    /// `lead-lag:EURUSD:GBPJPY:5:0.3`, the form [`Plant::from_str`] parses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Plant::LeadLag {
                leader,
                follower,
                lag,
                strength,
            } => write!(f, "lead-lag:{leader}:{follower}:{lag}:{strength}"),
            Plant::VolBreak { from, factor } => write!(f, "vol-break:{from}:{factor}"),
            Plant::Drift {
                pair,
                from,
                per_bar,
            } => write!(f, "drift:{pair}:{from}:{per_bar}"),
        }
    }
}

const PLANT_FORM: &str = "expected lead-lag:LEADER:FOLLOWER:LAG:STRENGTH (e.g. \
     lead-lag:EURUSD:GBPJPY:5:0.3), vol-break:FROM:FACTOR (e.g. vol-break:5000:3) or \
     drift:PAIR:FROM:PER_BAR (e.g. drift:EURUSD:5000:0.0002)";

impl FromStr for Plant {
    type Err = SynthError;

    /// Parses `lead-lag:EURUSD:GBPJPY:5:0.3` (leader, follower, lag in bars, strength) and
    /// validates it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |why: String| SynthError::BadPlant(format!("'{s}': {why}"));
        let fields: Vec<&str> = s.trim().split(':').map(str::trim).collect();
        let kind = fields[0].to_ascii_lowercase();
        let bar = |v: &str| -> Result<usize, SynthError> {
            v.parse()
                .map_err(|_| err(format!("bar '{v}' is not a whole number of bars")))
        };
        let num = |what: &str, v: &str| -> Result<f64, SynthError> {
            v.parse()
                .map_err(|_| err(format!("{what} '{v}' is not a number")))
        };
        match kind.as_str() {
            "vol-break" | "vol_break" if fields.len() == 3 => {
                let plant = Plant::VolBreak {
                    from: bar(fields[1])?,
                    factor: num("factor", fields[2])?,
                };
                plant.validate()?;
                return Ok(plant);
            }
            "drift" if fields.len() == 4 => {
                let plant = Plant::Drift {
                    pair: Pair::parse(fields[1]).map_err(|e| err(format!("pair: {e}")))?,
                    from: bar(fields[2])?,
                    per_bar: num("per-bar drift", fields[3])?,
                };
                plant.validate()?;
                return Ok(plant);
            }
            "vol-break" | "vol_break" | "drift" => {
                return Err(err(format!(
                    "{} fields separated by ':', {PLANT_FORM}",
                    fields.len()
                )));
            }
            "lead-lag" | "leadlag" | "lead_lag" => {}
            _ => {
                return Err(err(format!(
                    "unknown plant kind '{}' (known: lead-lag, vol-break, drift); {PLANT_FORM}",
                    fields[0]
                )));
            }
        }
        if fields.len() != 5 {
            return Err(err(format!(
                "{} fields separated by ':', {PLANT_FORM}",
                fields.len()
            )));
        }
        let pair =
            |role: &str, v: &str| Pair::parse(v).map_err(|e| err(format!("{role} pair: {e}")));
        let leader = pair("leader", fields[1])?;
        let follower = pair("follower", fields[2])?;
        let lag: usize = fields[3].parse().map_err(|_| {
            err(format!(
                "lag '{}' is not a whole number of bars (≥ 1)",
                fields[3]
            ))
        })?;
        let strength: f64 = fields[4]
            .parse()
            .map_err(|_| err(format!("strength '{}' is not a number", fields[4])))?;
        let plant = Plant::LeadLag {
            leader,
            follower,
            lag,
            strength,
        };
        plant.validate()?;
        Ok(plant)
    }
}

/// A configuration the generator cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SynthError {
    #[error("bars must be at least 1")]
    NoBars,
    #[error(
        "timeframe {0} is not supported: use a whole number of minutes below a day (m1, m5, m15, h1, h4, …) or d1"
    )]
    UnsupportedTimeframe(Timeframe),
    #[error("start time {0} µs is outside 1900-2200")]
    BadStart(i64),
    #[error("bad plant {0}")]
    BadPlant(String),
}

impl SynthConfig {
    /// Checks bars, timeframe, start and plants.
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.bars == 0 {
            return Err(SynthError::NoBars);
        }
        let secs = self.timeframe.secs();
        if !(secs > 0 && secs.is_multiple_of(60) && secs <= 86_400) {
            return Err(SynthError::UnsupportedTimeframe(self.timeframe));
        }
        if !(MIN_START_MICROS..=MAX_START_MICROS).contains(&self.start_micros) {
            return Err(SynthError::BadStart(self.start_micros));
        }
        for p in &self.plants {
            p.validate()?;
        }
        Ok(())
    }

    /// True for the daily timeframe (weekday bars at 00:00 UTC).
    pub(crate) fn is_daily(&self) -> bool {
        self.timeframe.secs() == 86_400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_regime_switches() {
        let v: Plant = "vol-break:5000:3".parse().unwrap();
        assert_eq!(
            v,
            Plant::VolBreak {
                from: 5000,
                factor: 3.0
            }
        );
        assert_eq!(v.to_string(), "vol-break:5000:3");
        let d: Plant = "drift:eurusd:100:-0.0002".parse().unwrap();
        assert_eq!(d.to_string(), "drift:EURUSD:100:-0.0002");
        let msg = |s: &str| s.parse::<Plant>().unwrap_err().to_string();
        assert!(msg("vol-break:5000:0").contains("factor must be in (0, 100]"));
        assert!(msg("vol-break:x:2").contains("bar 'x'"));
        assert!(msg("drift:EURUSD:10:0.5").contains("|drift| < 0.01"));
        assert!(msg("drift:EURUSD:10").contains("3 fields"));
        assert!(msg("jump:1").contains("known: lead-lag, vol-break, drift"));
    }

    #[test]
    fn parses_and_prints_lead_lag_plants() {
        let p: Plant = "lead-lag:EURUSD:GBPJPY:5:0.3".parse().unwrap();
        assert_eq!(
            p,
            Plant::LeadLag {
                leader: Pair::parse("EURUSD").unwrap(),
                follower: Pair::parse("GBPJPY").unwrap(),
                lag: 5,
                strength: 0.3
            }
        );
        assert_eq!(p.to_string(), "lead-lag:EURUSD:GBPJPY:5:0.3");
        assert_eq!(p.to_string().parse::<Plant>().unwrap(), p);
        let q: Plant = " lead-lag:eur/usd:AUDNZD:1:-0.5 ".parse().unwrap();
        assert!(matches!(q, Plant::LeadLag { lag: 1, strength, .. } if strength == -0.5));
    }

    #[test]
    fn rejects_bad_plants_with_clear_messages() {
        let msg = |s: &str| s.parse::<Plant>().unwrap_err().to_string();
        assert!(msg("granger:EURUSD:GBPJPY:5:0.3").contains("unknown plant kind 'granger'"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:5").contains("4 fields"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:5").contains("e.g. lead-lag:EURUSD:GBPJPY:5:0.3"));
        assert!(msg("lead-lag:EURSEK:GBPJPY:5:0.3").contains("leader pair"));
        assert!(msg("lead-lag:EURUSD:JPYGBP:5:0.3").contains("follower pair"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:x:0.3").contains("lag 'x'"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:-2:0.3").contains("lag '-2'"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:0:0.3").contains("lag must be at least 1"));
        assert!(msg("lead-lag:EURUSD:EURUSD:5:0.3").contains("must be different"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:5:1.0").contains("|strength| < 1"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:5:NaN").contains("|strength| < 1"));
        assert!(msg("lead-lag:EURUSD:GBPJPY:5:abc").contains("strength 'abc'"));
    }

    #[test]
    fn validates_configs() {
        let ok = SynthConfig::default();
        assert_eq!(ok.validate(), Ok(()));
        let with = |f: &dyn Fn(&mut SynthConfig)| {
            let mut c = SynthConfig::default();
            f(&mut c);
            c.validate()
        };
        assert_eq!(with(&|c| c.bars = 0), Err(SynthError::NoBars));
        for tf in ["s30", "m90000", "w1", "d2", "s90"] {
            let t: Timeframe = tf.parse().unwrap();
            assert_eq!(
                with(&|c| c.timeframe = t),
                Err(SynthError::UnsupportedTimeframe(t)),
                "{tf}"
            );
        }
        for tf in ["m1", "m5", "m7", "m15", "m30", "h1", "h4", "d1"] {
            let t: Timeframe = tf.parse().unwrap();
            assert_eq!(with(&|c| c.timeframe = t), Ok(()), "{tf}");
        }
        assert!(matches!(
            with(&|c| c.start_micros = i64::MAX),
            Err(SynthError::BadStart(_))
        ));
        let bad_plant = Plant::LeadLag {
            leader: Pair::ALL[0],
            follower: Pair::ALL[1],
            lag: 0,
            strength: 0.1,
        };
        assert!(matches!(
            with(&|c| c.plants = vec![bad_plant]),
            Err(SynthError::BadPlant(m)) if m.contains("lag must be at least 1")
        ));
    }
}
