//! Cross-sectional features on the aligned 28-pair panel: the [`PanelKernel`] trait, the
//! [`PanelSet`] of panel families, and the batch path over a panel.
//!
//! **Input layout.** One time grid `ts[row]` shared by all pairs and one close column per pair,
//! `close[pair.index()][row]` in canonical pair order (EURGBP … CHFJPY) — exactly
//! `bqx_panel::Panel { ts, close, .. }`. A pair without a bar at a grid time has `NaN` there;
//! nothing is carried forward. Any other value must be a finite positive price.
//!
//! **Windows count grid rows** (the panel's rows, not the pair's own bars), since a
//! cross-sectional value compares all pairs at one time.
//!
//! **NaN propagation.** A value that needs a missing close is `NaN` (a one-bar or W-bar log
//! return needs both of its endpoints, a currency strength all 7 of its pairs' returns, a
//! triangle residual its 3 closes). A rolling statistic (z-score, percentile, beta,
//! correlation) is `NaN` while its window holds a `NaN` input, i.e. for `W` rows after a
//! missing input; it is never computed over a shortened window. A feature is thus never
//! silently built from stale prices; the catalog's warm-up is the first defined row of a panel
//! without holes.
//!
//! **Output layout.** Every pair gets the same columns ([`PanelKernel::catalog`], one entry per
//! column, shared by the 28 pairs). `update` writes one row for all pairs, pair-major:
//! `out[pair.index() * width + j]`. [`compute_panel_batch`] returns one column-major
//! [`FeatureMatrix`] per pair on the panel's grid (`n_rows = ts.len()`); to store it next to
//! the pair's per-pair features, take the grid rows at which the pair has a bar
//! ([`FeatureMatrix::take_rows`]) — the join key is the time stamp.

use bqx_domain::Pair;

use crate::{FeatureError, FeatureMatrix, FeatureSpec};

/// Number of pairs in a panel row.
pub const N_PAIRS: usize = Pair::COUNT;

/// An incremental, causal cross-sectional feature family: advance one panel row, write this
/// row's values for every pair.
pub trait PanelKernel: Send {
    /// The catalog entries of the columns written **per pair** (the same for every pair).
    fn catalog(&self) -> Vec<FeatureSpec>;

    /// Column names per pair, in output order.
    fn names(&self) -> Vec<String> {
        self.catalog().into_iter().map(|s| s.name).collect()
    }

    /// Number of columns per pair.
    fn width(&self) -> usize;

    /// The first row at which every column is defined on a panel without holes.
    fn warmup(&self) -> usize {
        self.catalog().iter().map(|s| s.warmup).max().unwrap_or(0)
    }

    /// Consumes the next panel row (`closes[pair.index()]`, `NaN` = no bar) and writes
    /// `N_PAIRS × width()` values, `out[pair.index() * width() + j]`.
    ///
    /// Precondition: every close is `NaN` or finite and positive ([`validate_panel`]).
    fn update(&mut self, ts: i64, closes: &[f64; N_PAIRS], out: &mut [f64]);

    /// Forgets all history.
    fn reset(&mut self);
}

impl<K: PanelKernel + ?Sized> PanelKernel for Box<K> {
    fn catalog(&self) -> Vec<FeatureSpec> {
        (**self).catalog()
    }
    fn names(&self) -> Vec<String> {
        (**self).names()
    }
    fn width(&self) -> usize {
        (**self).width()
    }
    fn warmup(&self) -> usize {
        (**self).warmup()
    }
    fn update(&mut self, ts: i64, closes: &[f64; N_PAIRS], out: &mut [f64]) {
        (**self).update(ts, closes, out)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
}

/// Panel kernels whose per-pair columns are concatenated.
pub struct PanelSet {
    kernels: Vec<Box<dyn PanelKernel>>,
    widths: Vec<usize>,
    scratch: Vec<Vec<f64>>,
}

impl std::fmt::Debug for PanelSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PanelSet")
            .field("widths", &self.widths)
            .finish_non_exhaustive()
    }
}

impl PanelSet {
    pub fn new(kernels: Vec<Box<dyn PanelKernel>>) -> PanelSet {
        let widths: Vec<usize> = kernels.iter().map(|k| k.width()).collect();
        let scratch = widths.iter().map(|w| vec![f64::NAN; w * N_PAIRS]).collect();
        PanelSet {
            kernels,
            widths,
            scratch,
        }
    }

    /// The unfitted cross-sectional families: currency strength (12 per pair), then triangular
    /// consistency (12 per pair). The fitted USD factor is separate
    /// ([`crate::UsdFactorKernel`], fitted per fold), or use [`PanelSet::with_usd_factor`].
    pub fn standard() -> PanelSet {
        PanelSet::new(vec![
            Box::new(crate::CurrencyStrengthKernel::new()),
            Box::new(crate::TriangularKernel::new()),
        ])
    }

    /// [`PanelSet::standard`] followed by the USD-factor columns (5 per pair) of `params`.
    pub fn with_usd_factor(
        params: &crate::FittedParams<crate::UsdFactorParams>,
    ) -> Result<PanelSet, FeatureError> {
        let mut s = PanelSet::standard();
        s.push(Box::new(crate::UsdFactorKernel::new(params)?));
        Ok(s)
    }

    /// Appends a kernel (its columns follow the existing ones).
    pub fn push(&mut self, k: Box<dyn PanelKernel>) {
        let w = k.width();
        self.widths.push(w);
        self.scratch.push(vec![f64::NAN; w * N_PAIRS]);
        self.kernels.push(k);
    }
}

impl PanelKernel for PanelSet {
    fn catalog(&self) -> Vec<FeatureSpec> {
        self.kernels.iter().flat_map(|k| k.catalog()).collect()
    }

    fn width(&self) -> usize {
        self.widths.iter().sum()
    }

    fn update(&mut self, ts: i64, closes: &[f64; N_PAIRS], out: &mut [f64]) {
        let width = self.width();
        let mut off = 0;
        for ((k, &w), buf) in self
            .kernels
            .iter_mut()
            .zip(&self.widths)
            .zip(&mut self.scratch)
        {
            k.update(ts, closes, buf);
            for p in 0..N_PAIRS {
                out[p * width + off..p * width + off + w].copy_from_slice(&buf[p * w..(p + 1) * w]);
            }
            off += w;
        }
    }

    fn reset(&mut self) {
        self.kernels.iter_mut().for_each(|k| k.reset());
    }
}

/// Checks the panel layout: 28 close columns of `ts.len()` rows, each value `NaN` (no bar) or
/// a finite positive price.
pub fn validate_panel<C: AsRef<[f64]>>(ts: &[i64], close: &[C]) -> Result<(), FeatureError> {
    if close.len() != N_PAIRS {
        return Err(FeatureError::PanelShape { got: close.len() });
    }
    for (p, col) in close.iter().enumerate() {
        let col = col.as_ref();
        if col.len() != ts.len() {
            return Err(FeatureError::RaggedColumns);
        }
        if let Some(row) = col
            .iter()
            .position(|c| !(c.is_nan() || (c.is_finite() && *c > 0.0)))
        {
            return Err(FeatureError::BadPanelClose {
                pair: Pair::ALL[p],
                row,
                close: col[row],
            });
        }
    }
    Ok(())
}

/// Runs `kernel` over the panel rows in order, calling `sink(row, values)` after each `update`
/// (`values[pair.index() * width + j]`). The one loop behind the panel batch path.
pub fn run_panel_rows<K: PanelKernel + ?Sized, C: AsRef<[f64]>>(
    kernel: &mut K,
    ts: &[i64],
    close: &[C],
    mut sink: impl FnMut(usize, &[f64]),
) -> Result<(), FeatureError> {
    validate_panel(ts, close)?;
    let cols: Vec<&[f64]> = close.iter().map(AsRef::as_ref).collect();
    let mut row = vec![f64::NAN; kernel.width() * N_PAIRS];
    let mut closes = [f64::NAN; N_PAIRS];
    for (i, &t) in ts.iter().enumerate() {
        for (c, col) in closes.iter_mut().zip(&cols) {
            *c = col[i];
        }
        kernel.update(t, &closes, &mut row);
        sink(i, &row);
    }
    Ok(())
}

/// Computes a panel kernel over a whole panel with a fresh (reset) kernel: one column-major
/// [`FeatureMatrix`] per pair (index = `pair.index()`), all on the panel's grid with the same
/// column names.
pub fn compute_panel_batch<K: PanelKernel + ?Sized, C: AsRef<[f64]>>(
    kernel: &mut K,
    ts: &[i64],
    close: &[C],
) -> Result<Vec<FeatureMatrix>, FeatureError> {
    kernel.reset();
    let n = ts.len();
    let width = kernel.width();
    let names = kernel.names();
    let mut data: Vec<Vec<f64>> = (0..N_PAIRS).map(|_| vec![0.0; n * width]).collect();
    run_panel_rows(kernel, ts, close, |i, row| {
        for (p, d) in data.iter_mut().enumerate() {
            for (j, &v) in row[p * width..(p + 1) * width].iter().enumerate() {
                d[j * n + i] = v;
            }
        }
    })?;
    Ok(data
        .into_iter()
        .map(|data| FeatureMatrix {
            names: names.clone(),
            n_rows: n,
            data,
        })
        .collect())
}
