//! Models for BQX ML: the one crate where candle and smartcore live.
//!
//! * [`Matrix`] — dense row-major `f64` input, finite by construction (NaN/∞ are refused).
//! * [`StandardScaler`] — per-column standardization fitted on training rows only.
//! * [`Regressor`] — the uniform interface (`fit` with an optional validation tail, `predict`,
//!   `kind`, `name`, `params`), implemented by [`ZeroForecast`], [`Ridge`] (smartcore),
//!   [`RandomForest`] (smartcore) and [`Mlp`] (candle), and by the [`Model`] enum that builds
//!   any of them from a serializable [`ModelSpec`].
//! * [`checkpoint`] — JSON model cards for every model, safetensors weights for networks, and
//!   loading that refuses a model trained on another feature schema.
//! * [`net`] — the stage networks: the autoencoder (2.17) and the multi-task network with its
//!   single-task control (2.18), with safetensors + JSON-card checkpoints.
//!
//! No IO other than saving and loading checkpoints, no clock in any result, and the same data,
//! hyper-parameters and seed give the same predictions (bit-identical on the CPU; see [`Mlp`]).
//!
//! Cargo features: `cpu` (default), `cuda`, `metal` select the device of the networks (see
//! [`DeviceChoice`]); the GPU paths are not built or tested on the project's machines.

pub mod checkpoint;
mod device;
mod error;
mod forest;
mod lasso;
mod matrix;
mod mlp;
mod model;
pub mod net;
mod ridge;
mod scaler;

pub use checkpoint::{CardMeta, ModelCard, RidgeCard, SavedModel, WeightsFile};
pub use device::{DeviceChoice, configure_cpu_threads, device_name};
pub use error::{Error, Result};
pub use forest::{ForestConfig, RandomForest};
pub use lasso::{LassoFit, lasso, lasso_path_entry};
pub use matrix::{Matrix, select_values};
pub use mlp::{Mlp, MlpArchitecture, MlpConfig, NamedTensor, TargetScaling};
pub use model::{
    DriftForecast, EpochRecord, FitReport, Model, ModelKind, ModelSpec, NetworkUnitSpec, Regressor,
    ZeroForecast,
};
pub use net::{
    Autoencoder, AutoencoderConfig, MultiOutput, MultiTargets, MultiTaskConfig, MultiTaskNet,
    Network, NetworkCard, RowSource, Tasks,
};
pub use ridge::{Ridge, RidgeConfig, RidgeState};
pub use scaler::StandardScaler;
