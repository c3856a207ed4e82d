//! The feature set: the registry of implemented families, itself a [`Kernel`].

use crate::{
    BarInput, BollingerKernel, BqxKernel, CalendarKernel, Domain, FeatureSpec, Kernel, LagsKernel,
    MomentsKernel, MovingAverageKernel, MultiResKernel, REG_WINDOWS, RegBqxKernel, RegRateKernel,
    TechnicalKernel, TermCovKernel, VolatilityKernel,
};

/// A column computed from two columns of the same row: `a − b`.
#[derive(Debug, Clone)]
struct Difference {
    spec: FeatureSpec,
    a: usize,
    b: usize,
}

/// An ordered list of kernels whose columns are concatenated, followed by derived difference
/// columns (computed from the same row's values, so they share the one code path too).
pub struct FeatureSet {
    kernels: Vec<Box<dyn Kernel>>,
    widths: Vec<usize>,
    base_catalog: Vec<FeatureSpec>,
    differences: Vec<Difference>,
    /// The output columns, as indices into the full row, when some are dropped (close-only
    /// sources); `None` keeps every column.
    keep: Option<Vec<usize>>,
    /// The full row, when columns are dropped.
    scratch: Vec<f64>,
}

/// Features that need a real open, high and low. A close-only source (open = high = low =
/// close, e.g. the ECB's daily fixes) would turn them into zeros or into a disguised
/// close-to-close figure, so for such sources they are absent from the schema instead
/// ([`FeatureSet::standard_for_source`]), the way microstructure features are absent without
/// spread or volume.
pub fn is_range_based(name: &str) -> bool {
    const PREFIXES: [&str; 12] = [
        "vol_parkinson_",
        "vol_garman_klass_",
        "vol_rogers_satchell_",
        "vol_yang_zhang_",
        "ta_rate_stoch_",
        "ta_rate_willr_",
        "ta_rate_cci_",
        "ta_rate_adx_",
        "ta_rate_plus_di_",
        "ta_rate_minus_di_",
        "ta_rate_atr_",
        "mr_range_",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
}

impl std::fmt::Debug for FeatureSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureSet")
            .field("widths", &self.widths)
            .field("differences", &self.differences.len())
            .finish_non_exhaustive()
    }
}

impl FeatureSet {
    pub fn new(kernels: Vec<Box<dyn Kernel>>) -> FeatureSet {
        let widths = kernels.iter().map(|k| k.width()).collect();
        let base_catalog = kernels.iter().flat_map(|k| k.catalog()).collect();
        FeatureSet {
            kernels,
            widths,
            base_catalog,
            differences: Vec::new(),
            keep: None,
            scratch: Vec::new(),
        }
    }

    /// The standard set for a source: close-only sources (open = high = low = close) get it
    /// without the range-based columns ([`is_range_based`]); the remaining columns are
    /// bit-identical to the standard set's.
    pub fn standard_for_source(close_only: bool) -> FeatureSet {
        let mut set = FeatureSet::standard();
        if close_only {
            set.drop_columns(is_range_based);
        }
        set
    }

    /// Removes the columns whose name matches `drop` from the output (they are still computed,
    /// so every other column keeps its exact value).
    fn drop_columns(&mut self, drop: impl Fn(&str) -> bool) {
        let full = self.full_catalog();
        self.scratch = vec![f64::NAN; full.len()];
        self.keep = Some(
            full.iter()
                .enumerate()
                .filter(|(_, s)| !drop(&s.name))
                .map(|(i, _)| i)
                .collect(),
        );
    }

    fn full_catalog(&self) -> Vec<FeatureSpec> {
        let mut c = self.base_catalog.clone();
        c.extend(self.differences.iter().map(|d| d.spec.clone()));
        c
    }

    fn full_width(&self) -> usize {
        self.widths.iter().sum::<usize>() + self.differences.len()
    }

    fn update_full(&mut self, bar: &BarInput, out: &mut [f64]) {
        let mut off = 0;
        for (k, &w) in self.kernels.iter_mut().zip(&self.widths) {
            k.update(bar, &mut out[off..off + w]);
            off += w;
        }
        for (i, d) in self.differences.iter().enumerate() {
            out[off + i] = out[d.a] - out[d.b];
        }
    }

    /// Adds the derived column `name = a − b` (a and b are kernel columns of this set).
    ///
    /// # Panics
    /// If `a` or `b` is not a kernel column of this set.
    pub fn add_difference(&mut self, name: &str, family: &'static str, a: &str, b: &str) {
        let find = |n: &str| {
            self.base_catalog
                .iter()
                .position(|s| s.name == n)
                .unwrap_or_else(|| panic!("no column {n} in the feature set"))
        };
        let (ia, ib) = (find(a), find(b));
        let (sa, sb) = (&self.base_catalog[ia], &self.base_catalog[ib]);
        let spec = FeatureSpec {
            name: name.to_string(),
            family,
            domain: Domain::Bqx,
            window: sa.window.max(sb.window),
            formula: format!("{a} - {b}"),
            warmup: sa.warmup.max(sb.warmup),
        };
        self.differences.push(Difference { spec, a: ia, b: ib });
    }

    /// Every implemented family, in catalog order: bqx (37), reg_rate (42), reg_bqx (42),
    /// reg_bqx_cov (36), moments rate (24), moments bqx (24), bollinger rate (10), bollinger bqx
    /// (10), lags (27), moving averages rate (12), moving averages bqx (12), technical rate (15),
    /// technical bqx (14), volatility (10), multi-resolution (6), calendar (14), then the
    /// dual-domain differences (17): 352.
    pub fn standard() -> FeatureSet {
        let mut set = FeatureSet::new(vec![
            Box::new(BqxKernel::new()),
            Box::new(RegRateKernel::new()),
            Box::new(RegBqxKernel::new()),
            Box::new(TermCovKernel::new()),
            Box::new(MomentsKernel::new(Domain::Rate)),
            Box::new(MomentsKernel::new(Domain::Bqx)),
            Box::new(BollingerKernel::new(Domain::Rate)),
            Box::new(BollingerKernel::new(Domain::Bqx)),
            Box::new(LagsKernel::new()),
            Box::new(MovingAverageKernel::new(Domain::Rate)),
            Box::new(MovingAverageKernel::new(Domain::Bqx)),
            Box::new(TechnicalKernel::new(Domain::Rate)),
            Box::new(TechnicalKernel::new(Domain::Bqx)),
            Box::new(VolatilityKernel::new()),
            Box::new(MultiResKernel::new()),
            Box::new(CalendarKernel::new()),
        ]);
        // Dual-domain comparisons: rate minus bqx for the scale-free features.
        let dd = "dual_domain";
        for w in REG_WINDOWS {
            set.add_difference(
                &format!("dd_reg_r2_{w}"),
                dd,
                &format!("reg_rate_r2_{w}"),
                &format!("reg_bqx_r2_{w}"),
            );
        }
        for w in crate::BOLLINGER_WINDOWS {
            set.add_difference(
                &format!("dd_boll_pctb_{w}"),
                dd,
                &format!("boll_rate_pctb_{w}"),
                &format!("boll_bqx_pctb_{w}"),
            );
        }
        for w in crate::MOMENT_WINDOWS {
            for stat in ["skew", "kurt", "zscore"] {
                set.add_difference(
                    &format!("dd_mom_{stat}_{w}"),
                    dd,
                    &format!("mom_rate_{stat}_{w}"),
                    &format!("mom_bqx_{stat}_{w}"),
                );
            }
        }
        set
    }

    pub fn kernels(&self) -> &[Box<dyn Kernel>] {
        &self.kernels
    }
}

impl Kernel for FeatureSet {
    fn catalog(&self) -> Vec<FeatureSpec> {
        let full = self.full_catalog();
        match &self.keep {
            Some(keep) => keep.iter().map(|&i| full[i].clone()).collect(),
            None => full,
        }
    }

    fn width(&self) -> usize {
        match &self.keep {
            Some(keep) => keep.len(),
            None => self.full_width(),
        }
    }

    fn update(&mut self, bar: &BarInput, out: &mut [f64]) {
        match self.keep.take() {
            None => self.update_full(bar, out),
            Some(keep) => {
                let mut full = std::mem::take(&mut self.scratch);
                self.update_full(bar, &mut full);
                for (o, &i) in out.iter_mut().zip(&keep) {
                    *o = full[i];
                }
                self.scratch = full;
                self.keep = Some(keep);
            }
        }
    }

    fn reset(&mut self) {
        self.kernels.iter_mut().for_each(|k| k.reset());
    }
}
