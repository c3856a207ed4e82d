//! The FX universe of BQX ML: the 8 major currencies, the 28 pairs in market convention, each
//! pair's 12 sisters, the 56 triangles, bars, price sides and timeframes.
//!
//! No IO and no clock: everything here is a pure value or a pure function.

mod bars;
mod pair;
mod time;

pub use bars::{BarColumns, PriceSide, Timeframe};
pub use pair::{Currency, Pair, ParsePairError, Triangle};
pub use time::{
    MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, MICROS_PER_SECOND, format_utc_micros,
    is_fx_weekend, micros_from_datetime, micros_to_datetime,
};
