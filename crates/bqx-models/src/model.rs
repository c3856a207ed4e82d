//! The uniform model interface: kinds, specifications, fit reports and the [`Model`] enum.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CardMeta, ModelCard, SavedModel};
use crate::error::{Error, Result, check_targets};
use crate::forest::{ForestConfig, RandomForest};
use crate::matrix::Matrix;
use crate::mlp::{Mlp, MlpConfig};
use crate::net::{MultiTaskConfig, Tasks};
use crate::ridge::{Ridge, RidgeConfig};

/// The model families this crate provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Always predicts 0 (the natural baseline of the BQX target).
    Zero,
    /// Always predicts the training mean of the target (the drift baseline: in trending
    /// periods a constant forecast earns a directional accuracy far from 50 %).
    Drift,
    /// Ridge regression on standardized features (smartcore).
    Ridge,
    /// Random forest regressor (smartcore).
    RandomForest,
    /// Multi-layer perceptron (candle).
    Mlp,
    /// Stage 2.18's multi-task network (candle; BQX, volatility and regime heads).
    MultiTask,
    /// Its single-task control (the same trunk, BQX head only).
    SingleTask,
}

impl ModelKind {
    /// Every kind, in a stable order.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Zero,
        ModelKind::Drift,
        ModelKind::Ridge,
        ModelKind::RandomForest,
        ModelKind::Mlp,
        ModelKind::MultiTask,
        ModelKind::SingleTask,
    ];

    /// Stable snake_case identifier (`"zero"`, `"ridge"`, `"random_forest"`, `"mlp"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Zero => "zero",
            ModelKind::Drift => "drift",
            ModelKind::Ridge => "ridge",
            ModelKind::RandomForest => "random_forest",
            ModelKind::Mlp => "mlp",
            ModelKind::MultiTask => "multitask",
            ModelKind::SingleTask => "singletask",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A model and its hyper-parameters, as written in configuration and model cards
/// (`{"kind": "ridge", "alpha": 1.0}`, `{"kind": "zero"}`…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// The zero forecast.
    Zero,
    /// The drift baseline: the training mean.
    Drift,
    /// Ridge regression.
    Ridge(RidgeConfig),
    /// Random forest.
    RandomForest(ForestConfig),
    /// Multi-layer perceptron.
    Mlp(MlpConfig),
    /// Stage 2.18's multi-task network or its single-task control (`net.tasks`), trained per
    /// unit with its auxiliary targets by `bqx-eval` (not through [`Model`]).
    MultiTask(NetworkUnitSpec),
}

/// A stage-2.18 network as a backtest unit trains it: the network, the seeds whose
/// predictions are averaged, and the budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkUnitSpec {
    pub net: MultiTaskConfig,
    /// Networks trained per unit with seeds `seed, seed + 1, …`; their predictions are
    /// averaged (default 3).
    pub seeds: usize,
    /// At most this many evenly spaced training rows (`None` = all). Neighbouring rows share
    /// most of their h-bar labels, so spaced rows lose little information.
    pub max_train_rows: Option<usize>,
    /// Only the last this-many folds train the network (`None` = every fold).
    pub last_folds: Option<usize>,
}

impl Default for NetworkUnitSpec {
    fn default() -> Self {
        NetworkUnitSpec {
            net: MultiTaskConfig::default(),
            seeds: 3,
            max_train_rows: None,
            last_folds: None,
        }
    }
}

impl ModelSpec {
    /// The four baselines/models with default hyper-parameters.
    pub fn defaults() -> Vec<ModelSpec> {
        vec![
            ModelSpec::Zero,
            ModelSpec::Ridge(RidgeConfig::default()),
            ModelSpec::RandomForest(ForestConfig::default()),
            ModelSpec::Mlp(MlpConfig::default()),
        ]
    }

    /// The kind of model this spec builds.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSpec::Zero => ModelKind::Zero,
            ModelSpec::Drift => ModelKind::Drift,
            ModelSpec::Ridge(_) => ModelKind::Ridge,
            ModelSpec::RandomForest(_) => ModelKind::RandomForest,
            ModelSpec::Mlp(_) => ModelKind::Mlp,
            ModelSpec::MultiTask(n) => match n.net.tasks {
                Tasks::Multi => ModelKind::MultiTask,
                Tasks::Single => ModelKind::SingleTask,
            },
        }
    }

    /// The seed of a randomized model (`None` for zero, drift and ridge, which use no
    /// randomness).
    pub fn seed(&self) -> Option<u64> {
        match self {
            ModelSpec::Zero | ModelSpec::Drift | ModelSpec::Ridge(_) => None,
            ModelSpec::RandomForest(c) => Some(c.seed),
            ModelSpec::Mlp(c) => Some(c.seed),
            ModelSpec::MultiTask(n) => Some(n.net.seed),
        }
    }

    /// The same spec with another seed (no effect on deterministic models).
    pub fn with_seed(mut self, seed: u64) -> Self {
        match &mut self {
            ModelSpec::Zero | ModelSpec::Drift | ModelSpec::Ridge(_) => {}
            ModelSpec::RandomForest(c) => c.seed = seed,
            ModelSpec::Mlp(c) => c.seed = seed,
            ModelSpec::MultiTask(n) => n.net.seed = seed,
        }
        self
    }

    /// Checks the hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        match self {
            ModelSpec::Zero | ModelSpec::Drift => Ok(()),
            ModelSpec::Ridge(c) => c.validate(),
            ModelSpec::RandomForest(c) => c.validate(),
            ModelSpec::Mlp(c) => c.validate(),
            ModelSpec::MultiTask(n) => {
                n.net.validate()?;
                if n.seeds == 0
                    || n.max_train_rows.is_some_and(|r| r < 2)
                    || n.last_folds == Some(0)
                {
                    return Err(Error::InvalidConfig(
                        "network unit: seeds ≥ 1, max_train_rows ≥ 2, last_folds ≥ 1".into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The hyper-parameters as JSON (the spec without its `kind` tag).
    pub fn params(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.remove("kind");
        }
        v
    }
}

/// One epoch of network training. Losses are mean squared errors on the **standardized**
/// target (see [`MlpConfig`]); the training loss is the mean of the mini-batch losses in
/// training mode (with dropout), the validation loss is computed in evaluation mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean mini-batch training loss.
    pub train_loss: f64,
    /// Validation loss, if a validation set was given.
    pub valid_loss: Option<f64>,
}

/// What happened during `fit`. Contains no wall-clock times, so it is reproducible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// The model kind.
    pub kind: ModelKind,
    /// Training rows given.
    pub n_train: usize,
    /// Training rows actually used (fewer for a random forest above its row cap).
    pub n_train_used: usize,
    /// Validation rows given (0 without validation).
    pub n_valid: usize,
    /// Number of features.
    pub n_features: usize,
    /// Mean squared error of the fitted model on all given training rows, in target units.
    pub train_mse: f64,
    /// Mean squared error on the validation rows, in target units.
    pub valid_mse: Option<f64>,
    /// Per-epoch losses (networks only; empty otherwise).
    pub epochs: Vec<EpochRecord>,
    /// The epoch whose weights were kept (networks only).
    pub best_epoch: Option<usize>,
    /// Whether early stopping ended training before `max_epochs` (networks only).
    pub stopped_early: bool,
}

impl FitReport {
    pub(crate) fn basic(
        kind: ModelKind,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
        predict: impl Fn(&Matrix) -> Result<Vec<f64>>,
    ) -> Result<Self> {
        let train_mse = mse(&predict(x)?, y);
        let valid_mse = match valid {
            Some((vx, vy)) if vx.rows() > 0 => Some(mse(&predict(vx)?, vy)),
            _ => None,
        };
        Ok(FitReport {
            kind,
            n_train: x.rows(),
            n_train_used: x.rows(),
            n_valid: valid.map_or(0, |(vx, _)| vx.rows()),
            n_features: x.cols(),
            train_mse,
            valid_mse,
            epochs: Vec::new(),
            best_epoch: None,
            stopped_early: false,
        })
    }
}

/// Mean squared error (0 for empty input).
pub(crate) fn mse(pred: &[f64], y: &[f64]) -> f64 {
    if y.is_empty() {
        return 0.0;
    }
    pred.iter()
        .zip(y)
        .map(|(p, t)| (p - t) * (p - t))
        .sum::<f64>()
        / y.len() as f64
}

/// Checks what every `fit` needs: at least one row, as many targets as rows, finite targets,
/// and a validation set with the same columns.
pub(crate) fn check_fit_inputs(
    kind: ModelKind,
    x: &Matrix,
    y: &[f64],
    valid: Option<(&Matrix, &[f64])>,
) -> Result<()> {
    if x.rows() == 0 {
        return Err(Error::InvalidTrainingData {
            kind,
            reason: "no training rows".into(),
        });
    }
    if y.len() != x.rows() {
        return Err(Error::Shape(format!(
            "{} training rows but {} targets",
            x.rows(),
            y.len()
        )));
    }
    check_targets(y)?;
    if let Some((vx, vy)) = valid {
        if vx.cols() != x.cols() {
            return Err(Error::Shape(format!(
                "validation has {} columns, training has {}",
                vx.cols(),
                x.cols()
            )));
        }
        if vy.len() != vx.rows() {
            return Err(Error::Shape(format!(
                "{} validation rows but {} targets",
                vx.rows(),
                vy.len()
            )));
        }
        check_targets(vy)?;
    }
    Ok(())
}

/// Checks that a prediction input has the fitted number of columns.
pub(crate) fn check_predict_cols(expected: usize, x: &Matrix) -> Result<()> {
    if x.cols() != expected {
        return Err(Error::Shape(format!(
            "model was fitted on {expected} features, input has {}",
            x.cols()
        )));
    }
    Ok(())
}

/// What the orchestration needs from every model, whatever its kind.
///
/// * `fit` learns from the training rows only; the optional validation set is used for early
///   stopping (networks) and reported (all models). Any scaling is fitted inside, on the
///   training rows. Fitting again replaces the previous fit.
/// * `predict` returns one value per row of `x`, in target units.
/// * Results depend only on the data, the hyper-parameters and the seed.
pub trait Regressor: fmt::Debug + Send {
    /// The model family.
    fn kind(&self) -> ModelKind;
    /// A display name (defaults to the kind's identifier).
    fn name(&self) -> &str;
    /// The hyper-parameters as JSON.
    fn params(&self) -> serde_json::Value;
    /// Fits on `(x, y)`, using `valid` for early stopping / reporting.
    fn fit(&mut self, x: &Matrix, y: &[f64], valid: Option<(&Matrix, &[f64])>)
    -> Result<FitReport>;
    /// Predicts one value per row.
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>>;
    /// Number of input features once fitted.
    fn n_features(&self) -> Option<usize>;
    /// The report of the last fit.
    fn fit_report(&self) -> Option<&FitReport>;
}

/// The zero forecast: predicts 0 for every row. It needs no fit to predict; `fit` only
/// records the shape and the training/validation MSE (which is the mean of `y²`).
#[derive(Debug, Clone, Default)]
pub struct ZeroForecast {
    n_features: Option<usize>,
    report: Option<FitReport>,
}

impl ZeroForecast {
    /// A new zero forecast.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn restored(n_features: usize, report: Option<FitReport>) -> Self {
        ZeroForecast {
            n_features: Some(n_features),
            report,
        }
    }
}

impl Regressor for ZeroForecast {
    fn kind(&self) -> ModelKind {
        ModelKind::Zero
    }
    fn name(&self) -> &str {
        "zero"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn fit(
        &mut self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
    ) -> Result<FitReport> {
        check_fit_inputs(ModelKind::Zero, x, y, valid)?;
        self.n_features = Some(x.cols());
        let report = FitReport::basic(ModelKind::Zero, x, y, valid, |m| Ok(vec![0.0; m.rows()]))?;
        self.report = Some(report.clone());
        Ok(report)
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        if let Some(p) = self.n_features {
            check_predict_cols(p, x)?;
        }
        Ok(vec![0.0; x.rows()])
    }
    fn n_features(&self) -> Option<usize> {
        self.n_features
    }
    fn fit_report(&self) -> Option<&FitReport> {
        self.report.as_ref()
    }
}

/// The drift baseline: predicts the mean of the training targets for every row. `fit` records
/// the mean (and the shape, and the training/validation MSE of the constant forecast).
#[derive(Debug, Clone, Default)]
pub struct DriftForecast {
    mean: Option<f64>,
    n_features: Option<usize>,
    report: Option<FitReport>,
}

impl DriftForecast {
    /// A new, unfitted drift baseline.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fitted training mean.
    pub fn mean(&self) -> Option<f64> {
        self.mean
    }

    pub(crate) fn restored(n_features: usize, mean: f64, report: Option<FitReport>) -> Self {
        DriftForecast {
            mean: Some(mean),
            n_features: Some(n_features),
            report,
        }
    }
}

impl Regressor for DriftForecast {
    fn kind(&self) -> ModelKind {
        ModelKind::Drift
    }
    fn name(&self) -> &str {
        "drift"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({ "mean": self.mean })
    }
    fn fit(
        &mut self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
    ) -> Result<FitReport> {
        check_fit_inputs(ModelKind::Drift, x, y, valid)?;
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        self.mean = Some(mean);
        self.n_features = Some(x.cols());
        let report = FitReport::basic(ModelKind::Drift, x, y, valid, |m| Ok(vec![mean; m.rows()]))?;
        self.report = Some(report.clone());
        Ok(report)
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        let mean = self.mean.ok_or(Error::NotFitted(ModelKind::Drift))?;
        if let Some(p) = self.n_features {
            check_predict_cols(p, x)?;
        }
        Ok(vec![mean; x.rows()])
    }
    fn n_features(&self) -> Option<usize> {
        self.n_features
    }
    fn fit_report(&self) -> Option<&FitReport> {
        self.report.as_ref()
    }
}

/// Any model of this crate, built from a [`ModelSpec`]: the type the orchestration loops over.
///
/// ```no_run
/// # use bqx_models::*;
/// # fn run(train_x: &Matrix, train_y: &[f64], valid_x: &Matrix, valid_y: &[f64],
/// #        test_x: &Matrix) -> Result<()> {
/// for spec in ModelSpec::defaults() {
///     let mut model = Model::new(spec.with_seed(7))?;
///     let report = model.fit(train_x, train_y, Some((valid_x, valid_y)))?;
///     let predictions = model.predict(test_x)?;
///     # let _ = (report, predictions);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub enum Model {
    /// See [`ZeroForecast`].
    Zero(ZeroForecast),
    /// See [`DriftForecast`].
    Drift(DriftForecast),
    /// See [`Ridge`].
    Ridge(Ridge),
    /// See [`RandomForest`].
    RandomForest(RandomForest),
    /// See [`Mlp`].
    Mlp(Mlp),
}

impl Model {
    /// An unfitted model for `spec` (validated).
    pub fn new(spec: ModelSpec) -> Result<Self> {
        spec.validate()?;
        Ok(match spec {
            ModelSpec::Zero => Model::Zero(ZeroForecast::new()),
            ModelSpec::Drift => Model::Drift(DriftForecast::new()),
            ModelSpec::Ridge(c) => Model::Ridge(Ridge::new(c)?),
            ModelSpec::RandomForest(c) => Model::RandomForest(RandomForest::new(c)?),
            ModelSpec::Mlp(c) => Model::Mlp(Mlp::new(c)?),
            ModelSpec::MultiTask(n) => {
                return Err(Error::InvalidConfig(format!(
                    "{} trains with its auxiliary targets through bqx-eval's network units, not as a Model",
                    n.net.name()
                )));
            }
        })
    }

    /// The spec this model was built from.
    pub fn spec(&self) -> ModelSpec {
        match self {
            Model::Zero(_) => ModelSpec::Zero,
            Model::Drift(_) => ModelSpec::Drift,
            Model::Ridge(m) => ModelSpec::Ridge(m.config().clone()),
            Model::RandomForest(m) => ModelSpec::RandomForest(m.config().clone()),
            Model::Mlp(m) => ModelSpec::Mlp(m.config().clone()),
        }
    }

    fn inner(&self) -> &dyn Regressor {
        match self {
            Model::Zero(m) => m,
            Model::Drift(m) => m,
            Model::Ridge(m) => m,
            Model::RandomForest(m) => m,
            Model::Mlp(m) => m,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn Regressor {
        match self {
            Model::Zero(m) => m,
            Model::Drift(m) => m,
            Model::Ridge(m) => m,
            Model::RandomForest(m) => m,
            Model::Mlp(m) => m,
        }
    }

    /// The model card of the fitted model (see [`ModelCard`]).
    pub fn card(&self, meta: &CardMeta) -> Result<ModelCard> {
        checkpoint::card_for(self, meta)
    }

    /// Saves `<dir>/<stem>.json` (the card) and, for a network, `<dir>/<stem>.safetensors`.
    pub fn save(&self, dir: &Path, stem: &str, meta: &CardMeta) -> Result<SavedModel> {
        checkpoint::save(self, dir, stem, meta)
    }

    /// Loads a model saved by [`Model::save`] (`path` is the card, the weights file or their
    /// common stem), refusing it unless it was trained on `expected_schema_hash`.
    /// Random forests cannot be restored ([`Error::NotRestorable`]).
    pub fn load(path: &Path, expected_schema_hash: &str) -> Result<(Model, ModelCard)> {
        checkpoint::load(path, expected_schema_hash)
    }
}

impl Regressor for Model {
    fn kind(&self) -> ModelKind {
        self.inner().kind()
    }
    fn name(&self) -> &str {
        self.inner().name()
    }
    fn params(&self) -> serde_json::Value {
        self.inner().params()
    }
    fn fit(
        &mut self,
        x: &Matrix,
        y: &[f64],
        valid: Option<(&Matrix, &[f64])>,
    ) -> Result<FitReport> {
        self.inner_mut().fit(x, y, valid)
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f64>> {
        self.inner().predict(x)
    }
    fn n_features(&self) -> Option<usize> {
        self.inner().n_features()
    }
    fn fit_report(&self) -> Option<&FitReport> {
        self.inner().fit_report()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_can_move_to_and_be_shared_between_threads() {
        fn check<T: Send + Sync>() {}
        check::<Model>();
        check::<FitReport>();
    }

    #[test]
    fn zero_forecast_predicts_zero() {
        let x = Matrix::from_columns(&[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]]).unwrap();
        let y = [1.0, -2.0, 3.0];
        let mut m = Model::new(ModelSpec::Zero).unwrap();
        let r = m.fit(&x, &y, Some((&x, &y))).unwrap();
        assert_eq!(m.predict(&x).unwrap(), vec![0.0; 3]);
        assert!((r.train_mse - 14.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.valid_mse, Some(r.train_mse));
        assert_eq!(m.kind(), ModelKind::Zero);
        assert_eq!(m.name(), "zero");
        // Wrong width is refused once fitted.
        assert!(
            m.predict(&Matrix::from_columns(&[&[1.0]]).unwrap())
                .is_err()
        );
    }

    #[test]
    fn fit_checks_targets() {
        let x = Matrix::from_columns(&[&[1.0, 2.0]]).unwrap();
        let mut m = ZeroForecast::new();
        assert!(matches!(
            m.fit(&x, &[1.0, f64::NAN], None),
            Err(Error::NonFiniteTarget { index: 1, .. })
        ));
        assert!(matches!(m.fit(&x, &[1.0], None), Err(Error::Shape(_))));
        assert!(matches!(
            m.fit(&x, &[1.0, 2.0], Some((&x, &[0.0, f64::INFINITY]))),
            Err(Error::NonFiniteTarget { index: 1, .. })
        ));
    }

    #[test]
    fn spec_serde_and_seed() {
        for spec in ModelSpec::defaults() {
            let json = serde_json::to_string(&spec).unwrap();
            assert!(
                json.contains(&format!("\"kind\":\"{}\"", spec.kind())),
                "{json}"
            );
            let back: ModelSpec = serde_json::from_str(&json).unwrap();
            assert_eq!(back, spec);
            assert!(spec.params().get("kind").is_none());
            spec.validate().unwrap();
        }
        let s = ModelSpec::Mlp(MlpConfig::default()).with_seed(9);
        assert_eq!(s.seed(), Some(9));
        assert_eq!(ModelSpec::Zero.with_seed(9).seed(), None);
        let r: ModelSpec = serde_json::from_str(r#"{"kind":"ridge","alpha":3.0}"#).unwrap();
        assert_eq!(
            r,
            ModelSpec::Ridge(RidgeConfig {
                alpha: 3.0,
                ..RidgeConfig::default()
            })
        );
    }
}
