//! The feature set: the registry of implemented families, itself a [`Kernel`].

use crate::{
    BarInput, BollingerKernel, BqxKernel, CalendarKernel, Domain, FeatureSpec, Kernel, LagsKernel,
    MicrostructureKernel, MomentsKernel, MovingAverageKernel, MultiResKernel, REG_WINDOWS,
    RegBqxKernel, RegRateKernel, TechnicalKernel, TermCovKernel, VolatilityKernel,
};

/// What a bar source carries, which decides its per-pair schema ([`FeatureSet::for_source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SourceCaps {
    /// open = high = low = close (e.g. ECB fixes): range-based features are absent.
    pub close_only: bool,
    /// The bars carry a spread column: the spread features are present.
    pub has_spread: bool,
    /// The bars carry a tick-volume column: the volume features are present.
    pub has_volume: bool,
}

impl SourceCaps {
    /// The capabilities of a bar series: spread/volume when its columns exist; `close_only` is
    /// the caller's judgement (the app decides it from the bars).
    pub fn of(bars: &bqx_domain::BarColumns, close_only: bool) -> SourceCaps {
        SourceCaps {
            close_only,
            has_spread: bars.spread.is_some(),
            has_volume: bars.volume.is_some(),
        }
    }
}

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
    /// Kernels whose columns follow the differences (source-dependent families), so that the
    /// standard columns keep their positions.
    tail: Vec<Box<dyn Kernel>>,
    tail_widths: Vec<usize>,
    /// The output columns, as indices into the full row, when some are dropped (close-only
    /// sources); `None` keeps every column.
    keep: Option<Vec<usize>>,
    /// The full row, when columns are dropped.
    scratch: Vec<f64>,
    /// Which kernels (then tail kernels) are advanced; `None`: all ([`FeatureSet::retain_for`]).
    active: Option<(Vec<bool>, Vec<bool>)>,
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
            tail: Vec::new(),
            tail_widths: Vec::new(),
            keep: None,
            scratch: Vec::new(),
            active: None,
        }
    }

    /// Advances only the kernels that the named output columns need (a difference column needs
    /// both of its kernels); every other column stays NaN. The named columns are bit-identical
    /// to the full set's (each kernel's state depends on the bars alone), the names and the
    /// width do not change. For a consumer that reads a few columns bar by bar (the online
    /// loop), the skipped kernels are pure savings.
    ///
    /// # Errors
    /// A name that is not an output column of the set.
    pub fn retain_for(&mut self, names: &[String]) -> Result<(), String> {
        let out = self.catalog();
        let full: Vec<usize> = match &self.keep {
            Some(keep) => keep.clone(),
            None => (0..out.len()).collect(),
        };
        let base: usize = self.widths.iter().sum();
        let n_diff = self.differences.len();
        let kernel_of = |i: usize, widths: &[usize]| -> usize {
            let mut end = 0;
            widths
                .iter()
                .position(|w| {
                    end += w;
                    i < end
                })
                .expect("index inside the widths")
        };
        let mut on = vec![false; self.kernels.len()];
        let mut tail_on = vec![false; self.tail.len()];
        for name in names {
            let pos = out
                .iter()
                .position(|s| &s.name == name)
                .ok_or_else(|| format!("{name:?} is not a column of the feature set"))?;
            let i = full[pos];
            if i < base {
                on[kernel_of(i, &self.widths)] = true;
            } else if i < base + n_diff {
                let d = &self.differences[i - base];
                on[kernel_of(d.a, &self.widths)] = true;
                on[kernel_of(d.b, &self.widths)] = true;
            } else {
                tail_on[kernel_of(i - base - n_diff, &self.tail_widths)] = true;
            }
        }
        self.active = Some((on, tail_on));
        Ok(())
    }

    /// The per-pair set for a source: [`FeatureSet::standard`], without the range-based
    /// columns ([`is_range_based`]) for close-only sources, followed by the microstructure
    /// columns the source supports (3 with spread, 4 with volume; absent otherwise). Every
    /// column present in the standard set is bit-identical to it.
    pub fn for_source(caps: SourceCaps) -> FeatureSet {
        let mut set = FeatureSet::standard();
        if caps.has_spread || caps.has_volume {
            set.push_tail(Box::new(MicrostructureKernel::new(
                caps.has_spread,
                caps.has_volume,
            )));
        }
        if caps.close_only {
            set.drop_columns(is_range_based);
        }
        set
    }

    /// [`FeatureSet::for_source`] for a source without spread and volume (kept for callers
    /// that only know whether the source is close-only).
    pub fn standard_for_source(close_only: bool) -> FeatureSet {
        FeatureSet::for_source(SourceCaps {
            close_only,
            has_spread: false,
            has_volume: false,
        })
    }

    /// Appends a kernel whose columns follow the difference columns.
    ///
    /// # Panics
    /// If columns were already dropped from the set.
    pub fn push_tail(&mut self, k: Box<dyn Kernel>) {
        assert!(self.keep.is_none(), "push_tail after drop_columns");
        self.tail_widths.push(k.width());
        self.tail.push(k);
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
        c.extend(self.tail.iter().flat_map(|k| k.catalog()));
        c
    }

    fn full_width(&self) -> usize {
        self.widths.iter().sum::<usize>()
            + self.differences.len()
            + self.tail_widths.iter().sum::<usize>()
    }

    fn update_full(&mut self, bar: &BarInput, out: &mut [f64]) {
        let (on, tail_on) = match &self.active {
            Some((a, t)) => (Some(a.as_slice()), Some(t.as_slice())),
            None => (None, None),
        };
        let mut off = 0;
        for (j, (k, &w)) in self.kernels.iter_mut().zip(&self.widths).enumerate() {
            if on.is_none_or(|a| a[j]) {
                k.update(bar, &mut out[off..off + w]);
            } else {
                out[off..off + w].fill(f64::NAN);
            }
            off += w;
        }
        // A skipped kernel's columns are NaN, so are the differences that read them.
        for (i, d) in self.differences.iter().enumerate() {
            out[off + i] = out[d.a] - out[d.b];
        }
        off += self.differences.len();
        for (j, (k, &w)) in self.tail.iter_mut().zip(&self.tail_widths).enumerate() {
            if tail_on.is_none_or(|a| a[j]) {
                k.update(bar, &mut out[off..off + w]);
            } else {
                out[off..off + w].fill(f64::NAN);
            }
            off += w;
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
        self.tail.iter_mut().for_each(|k| k.reset());
    }
}
