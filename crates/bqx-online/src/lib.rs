//! Stage 2.19 of BQX ML: the local online loop.
//!
//! - [`engine`]: the bar-by-bar loop — incremental features (the batch kernels), predictions,
//!   matured labels paired with the inputs they were predicted from, learning, ensemble
//!   weights, detectors, alerts, and a serializable state for checkpoints;
//! - [`adwin`], [`page_hinkley`], [`psi`]: the drift detectors;
//! - [`rls`]: recursive least squares with forgetting, and [`tree`]: a Hoeffding tree
//!   regressor — the online learners;
//! - [`champion`]: champion/challenger for the frozen member — retrain after a confirmed
//!   drift, shadow predictions, a paired promotion test, a decision log and rollback;
//! - [`ensemble`]: error windows and softmax weights scaled to the error level.
//!
//! No IO, no clock, no randomness: the app layer feeds bars and persists the state.

pub mod adwin;
pub mod champion;
pub mod engine;
pub mod ensemble;
pub mod page_hinkley;
pub mod psi;
pub mod rls;
pub mod tree;

pub use adwin::{Adwin, AdwinConfig};
pub use champion::{
    Challenger, Champion, Decision, DecisionKind, PairedTest, RetrainRequest, hac_interval,
};
pub use engine::{
    Alert, BarOutcome, Block, Evidence, LinearModel, LoopState, MEMBERS, Matured, OnlineConfig,
    OnlineError, OnlineLoop, PairModel, PairState, RestoreError, Severity, Signal, Totals,
};
pub use ensemble::{ErrorWindow, softmax_weights};
pub use page_hinkley::{PageHinkley, PageHinkleyConfig};
pub use psi::{PsiMonitor, PsiReference};
pub use rls::{Rls, RlsConfig};
pub use tree::{HoeffdingTree, TreeConfig};
