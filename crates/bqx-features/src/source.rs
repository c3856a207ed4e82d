//! The input series the families are computed on, derived causally from the closes.

use crate::bqx::BqxReturn;

/// Which series a kernel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// `r(t)`, defined from row 0.
    Close,
    /// `ln(r(t)/r(t−1))`, defined from row 1.
    LogReturn,
    /// `bqx_return_W(t)`, defined from row W.
    Bqx(usize),
}

impl Source {
    /// Row of the first defined value.
    pub(crate) fn first_row(self) -> usize {
        match self {
            Source::Close => 0,
            Source::LogReturn => 1,
            Source::Bqx(w) => w,
        }
    }

    pub(crate) fn text(self) -> String {
        match self {
            Source::Close => "r(t)".into(),
            Source::LogReturn => "ln(r(t)/r(t-1))".into(),
            Source::Bqx(w) => format!("bqx_return_{w}(t)"),
        }
    }
}

/// Incremental state of a [`Source`].
#[derive(Debug, Clone)]
pub(crate) struct SourceState {
    source: Source,
    prev: Option<f64>,
    bqx: Option<BqxReturn>,
}

impl SourceState {
    pub(crate) fn new(source: Source) -> SourceState {
        SourceState {
            source,
            prev: None,
            bqx: match source {
                Source::Bqx(w) => Some(BqxReturn::new(w)),
                _ => None,
            },
        }
    }

    /// Consumes close `r(t)`; returns the series value at t (`NaN` before its first row).
    pub(crate) fn update(&mut self, close: f64) -> f64 {
        match self.source {
            Source::Close => close,
            Source::LogReturn => {
                let v = self.prev.map_or(f64::NAN, |p| (close / p).ln());
                self.prev = Some(close);
                v
            }
            Source::Bqx(_) => self.bqx.as_mut().expect("bqx state").update(close),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.prev = None;
        if let Some(b) = &mut self.bqx {
            b.clear();
        }
    }
}
