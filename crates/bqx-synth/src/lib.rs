//! A seeded synthetic 28-pair FX market: the workload of tests and benchmarks.
//!
//! # Model
//!
//! * **Currency factors.** Each of the 8 currencies has a log value `x_c` in a common numeraire,
//!   starting at its value in US dollars (EUR 1.08, GBP 1.27, AUD 0.66, NZD 0.61, USD 1, CAD 0.74,
//!   CHF 1.13, JPY 1/150). A pair's mid price is `exp(x_base − x_quote)`, so every one of the 56
//!   triangles holds exactly on mids (`P_ab · P_bc = P_ac`, up to the output rounding).
//! * **Correlated shocks.** Factor shocks share a fixed correlation built from a dollar factor, a
//!   risk-on factor (AUD, NZD, CAD up; JPY, CHF down), a safe-haven factor (CHF, JPY), a European
//!   block and an antipodean block, plus idiosyncratic parts; it is positive definite by
//!   construction and factored by Cholesky. Currency volatilities are 5-8 % a year, which gives
//!   pair volatilities of about 6-12.5 % a year (EURGBP lowest, AUDJPY highest). A weak mean
//!   reversion (half-life 3 years) keeps multi-year markets in plausible ranges.
//! * **Stochastic volatility.** Each currency's log volatility is a shared AR(1) component
//!   (half-life 5 trading days) plus its own (half-life 1 day), normalized so the long-run
//!   variance is unchanged; intraday it is multiplied by an hour-of-day (UTC) profile: quiet Asian
//!   hours, the London open, the busiest London/New York overlap, a thin rollover hour, tilted
//!   towards each currency's home session. Intraday bars also carry rare news jumps (about 1.5 a
//!   day across currencies, more likely in busy hours, 5 % of the variance).
//! * **Calendar.** Intraday: no bars from Friday 17:00 to Sunday 17:00 New York time
//!   (America/New_York, so the weekly open is Sunday 22:00 UTC in winter and 21:00 UTC in US
//!   summer time); a bar exists when its open time is in the open market. Daily (d1): one bar per
//!   weekday at 00:00 UTC. Closed time produces no bars; the first bar after a weekend carries a
//!   small gap shock (one trading hour's worth of variance) in its first substep, and the
//!   volatility state keeps evolving over the gap.
//! * **Intrabar path.** 6 substeps of the factors per bar: a pair's open is the previous close
//!   (or its start value), high/low are the extremes of its path over the substeps including
//!   open and close, the close is the last substep.
//! * **Bid, spread, volume.** The series are **bid** bars: bid OHLC = mid OHLC − spread/2 with
//!   one spread per bar, rounded to the pair's tick (pip/10: 5 decimals, 3 for JPY-quoted pairs),
//!   which keeps `low ≤ min(open, close) ≤ max(open, close) ≤ high` and prices > 0. The spread
//!   (in price units, on the same tick grid, ≥ 1 tick) is 0.6-1.0 pip for the USD majors, 1.5-3
//!   for crosses and up to 4 for thin crosses, wider at the 21:00-22:00 UTC rollover and in
//!   Asian hours, with the volatility and a random factor. Because the spread changes from bar
//!   to bar, the bid open differs from the previous bid close by a fraction of a pip; the mid
//!   (bid + spread/2) open equals the previous mid close up to rounding. Volume is a tick count
//!   (integer-valued, ≥ 1) that grows with the bar's volatility and range.
//! * **Planted signals.** See [`Plant`]. A lead-lag is applied on the factors, so the triangles
//!   keep holding and every pair containing the follower's currencies inherits part of the lead.
//! * **Determinism.** All factor draws come, in one fixed sequential order, from stream 0 of a
//!   ChaCha8 generator keyed by the seed; each pair's spread and volume draws from its own stream
//!   (1 + pair index). Only the pure per-pair derivation and the formatting run in parallel
//!   (rayon), so the output is byte-identical for a config whatever the number of threads.
//!
//! ```
//! use bqx_domain::Pair;
//! use bqx_synth::{SynthConfig, generate, write_generic_csv};
//!
//! let cfg = SynthConfig {
//!     bars: 500,
//!     plants: vec!["lead-lag:EURUSD:GBPJPY:5:0.3".parse()?],
//!     ..SynthConfig::default()
//! };
//! let market = generate(&cfg)?;
//! let eurusd = market.bars(Pair::parse("EURUSD")?);
//! assert_eq!(eurusd.len(), 500);
//! let mut csv = Vec::new();
//! assert_eq!(write_generic_csv(&market, &mut csv)?, 28 * 500);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod calendar;
mod config;
mod generate;
mod model;
mod write;

use bqx_domain::{BarColumns, Pair, Timeframe};

pub use config::{DEFAULT_START_MICROS, Plant, SynthConfig, SynthError};
pub use generate::generate;
pub use write::{write_generic_csv, write_histdata_dir};

/// A generated market: 28 series of bid bars in [`Pair::ALL`] order, all on the same
/// timestamps (UTC microseconds at bar open). `volume` is the tick count, `spread` the ask − bid
/// spread in price units; both are always present.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthMarket {
    pub timeframe: Timeframe,
    pub series: Vec<(Pair, BarColumns)>,
}

impl SynthMarket {
    /// The bars of `pair`. Panics if the market has no series for it.
    pub fn bars(&self, pair: Pair) -> &BarColumns {
        match self.series.get(pair.index()) {
            Some((p, bars)) if *p == pair => bars,
            _ => {
                &self
                    .series
                    .iter()
                    .find(|(p, _)| *p == pair)
                    .unwrap_or_else(|| panic!("no series for {pair}"))
                    .1
            }
        }
    }

    /// Bars per pair.
    pub fn len(&self) -> usize {
        self.series.first().map_or(0, |s| s.1.len())
    }

    /// True when the market has no bars.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mid price (bid + spread/2) of `pair`'s close at bar `i`.
    pub fn mid_close(&self, pair: Pair, i: usize) -> f64 {
        let b = self.bars(pair);
        b.close[i] + b.spread.as_ref().map_or(0.0, |s| s[i] / 2.0)
    }
}
