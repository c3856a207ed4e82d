//! The stage networks in candle: the autoencoder of stage 2.17 and the multi-task network of
//! stage 2.18 (with its single-task control), their blocks, and their checkpoints.

mod autoencoder;
mod card;
mod layers;
mod multitask;

pub use autoencoder::{
    AeEpoch, AeFitReport, Autoencoder, AutoencoderConfig, RowSource, fit_scaler,
};
pub use card::{
    CANDLE_VERSION, NETWORK_CARD_VERSION, NetMeta, Network, NetworkCard, NetworkConfig,
    load_inputs, load_network, read_network_card, save_inputs, save_network,
};
pub use layers::Activation;
pub use multitask::{
    HeadEpoch, HeadLosses, LossWeights, MultiOutput, MultiTargets, MultiTaskConfig, MultiTaskNet,
    NetFitReport, Tasks,
};
