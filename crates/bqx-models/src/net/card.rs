//! Checkpoints of the stage networks: safetensors weights plus a JSON card that records what
//! was trained on what, and that must match at load time.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::autoencoder::{Autoencoder, AutoencoderConfig};
use super::multitask::{MultiTaskConfig, MultiTaskNet};
use crate::checkpoint::{
    SavedModel, WeightsFile, named_safetensors, read_weights, with_suffix, write_atomic,
};
use crate::error::{Error, Result};
use crate::mlp::TargetScaling;
use crate::scaler::StandardScaler;

/// Version of the network card format.
pub const NETWORK_CARD_VERSION: u32 = 1;

/// The candle release the networks are built with (checked against Cargo.lock by a test).
pub const CANDLE_VERSION: &str = "0.11.1";

/// A trained stage network.
#[derive(Debug)]
pub enum Network {
    MultiTask(MultiTaskNet),
    Autoencoder(Autoencoder),
}

/// A network's configuration, as its card records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "network", content = "config", rename_all = "snake_case")]
pub enum NetworkConfig {
    MultiTask(MultiTaskConfig),
    Autoencoder(AutoencoderConfig),
}

impl Network {
    fn config(&self) -> NetworkConfig {
        match self {
            Network::MultiTask(n) => NetworkConfig::MultiTask(n.config().clone()),
            Network::Autoencoder(a) => NetworkConfig::Autoencoder(a.config().clone()),
        }
    }

    /// `multitask`, `singletask` or `autoencoder`.
    pub fn name(&self) -> &'static str {
        match self {
            Network::MultiTask(n) => n.config().name(),
            Network::Autoencoder(_) => "autoencoder",
        }
    }
}

/// What the caller knows about the training context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetMeta {
    /// Hash of the feature schema (names and order); loading requires the same hash.
    pub schema_hash: String,
    /// Fingerprint of the training data (store content and fold rows).
    pub data_fingerprint: String,
    pub feature_names: Vec<String>,
    pub fold: Option<u32>,
    /// The pair of a per-pair network.
    pub pair: Option<String>,
    /// The device name it trained on (`cpu`, `cuda:0`…).
    pub device: String,
    /// Metrics the caller measured (validation and test).
    pub metrics: serde_json::Value,
}

/// The JSON card of a network checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkCard {
    pub format_version: u32,
    pub name: String,
    #[serde(flatten)]
    pub config: NetworkConfig,
    pub seed: u64,
    pub n_features: usize,
    pub scaler: StandardScaler,
    /// BQX and volatility target scalings (multi-task networks).
    pub target_scalings: Option<(TargetScaling, TargetScaling)>,
    pub candle_version: String,
    pub crate_version: String,
    #[serde(flatten)]
    pub meta: NetMeta,
    /// The training curve (per-epoch losses per head, or reconstruction MSE).
    pub curve: serde_json::Value,
    pub best_epoch: usize,
    pub weights: WeightsFile,
}

/// Saves `net` as `<dir>/<stem>.safetensors` and `<dir>/<stem>.json` (atomically each; same
/// model and meta → identical bytes).
pub fn save_network(net: &Network, dir: &Path, stem: &str, meta: &NetMeta) -> Result<SavedModel> {
    if stem.is_empty() || stem.contains(['/', '\\']) || stem == "." || stem == ".." {
        return Err(Error::InvalidConfig(format!(
            "invalid checkpoint name {stem:?}"
        )));
    }
    let (weights, scaler, scalings, curve, best_epoch, seed, n) = match net {
        Network::MultiTask(m) => {
            let r = m
                .fit_report()
                .ok_or(Error::NotFitted(crate::ModelKind::Mlp))?;
            (
                m.weights()?,
                m.scaler().cloned(),
                m.target_scalings(),
                serde_json::to_value(&r.epochs)?,
                r.best_epoch,
                m.config().seed,
                m.n_features(),
            )
        }
        Network::Autoencoder(a) => {
            let r = a
                .fit_report()
                .ok_or(Error::NotFitted(crate::ModelKind::Mlp))?;
            (
                a.weights()?,
                a.scaler().cloned(),
                None,
                serde_json::to_value(&r.epochs)?,
                r.best_epoch,
                a.config().seed,
                a.n_features(),
            )
        }
    };
    let (Some(scaler), Some(n)) = (scaler, n) else {
        return Err(Error::NotFitted(crate::ModelKind::Mlp));
    };
    if meta.feature_names.len() != n {
        return Err(Error::Shape(format!(
            "{} feature names for a network of {n} inputs",
            meta.feature_names.len()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let base = dir.join(stem);
    let bytes = named_safetensors(&weights, &meta.schema_hash)?;
    let wpath = with_suffix(&base, "safetensors");
    write_atomic(&wpath, &bytes)?;
    let card = NetworkCard {
        format_version: NETWORK_CARD_VERSION,
        name: net.name().to_string(),
        config: net.config(),
        seed,
        n_features: n,
        scaler,
        target_scalings: scalings,
        candle_version: CANDLE_VERSION.to_string(),
        crate_version: env!("CARGO_PKG_VERSION").to_string(),
        meta: meta.clone(),
        curve,
        best_epoch,
        weights: WeightsFile {
            file: format!("{stem}.safetensors"),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
        },
    };
    let cpath = with_suffix(&base, "json");
    let mut json = serde_json::to_vec_pretty(&card)?;
    json.push(b'\n');
    write_atomic(&cpath, &json)?;
    Ok(SavedModel {
        card: cpath,
        weights: Some(wpath),
    })
}

/// Reads a network card (`<stem>.json`, or the stem, or the weights path) and checks its
/// format and schema hash.
pub fn read_network_card(
    path: &Path,
    expected_schema_hash: &str,
) -> Result<(PathBuf, NetworkCard)> {
    let base = match path.extension().and_then(|e| e.to_str()) {
        Some("json" | "safetensors") => path.with_extension(""),
        _ => path.to_path_buf(),
    };
    let cpath = with_suffix(&base, "json");
    let text = std::fs::read(&cpath).map_err(|source| Error::Io {
        path: cpath.clone(),
        source,
    })?;
    let card: NetworkCard = serde_json::from_slice(&text).map_err(|e| Error::Checkpoint {
        path: cpath.clone(),
        reason: format!("not a network card: {e}"),
    })?;
    if card.format_version != NETWORK_CARD_VERSION {
        return Err(Error::Checkpoint {
            path: cpath,
            reason: format!(
                "card format {} is not supported (this build reads {NETWORK_CARD_VERSION})",
                card.format_version
            ),
        });
    }
    if card.meta.schema_hash != expected_schema_hash {
        return Err(Error::SchemaMismatch {
            expected: expected_schema_hash.to_string(),
            found: card.meta.schema_hash,
        });
    }
    if card.meta.feature_names.len() != card.n_features
        || card.scaler.n_features() != card.n_features
    {
        return Err(Error::Checkpoint {
            path: cpath,
            reason: "feature list, scaler and input count disagree".into(),
        });
    }
    Ok((cpath, card))
}

/// Loads a network saved by [`save_network`], refusing another feature schema, a weights
/// file whose hash differs from the card's, or tensors of the wrong shape.
pub fn load_network(path: &Path, expected_schema_hash: &str) -> Result<(Network, NetworkCard)> {
    let (cpath, card) = read_network_card(path, expected_schema_hash)?;
    let tensors = read_weights(&cpath, &card.weights, &card.meta.schema_hash)?;
    let bad = |e: Error| Error::Checkpoint {
        path: cpath.clone(),
        reason: e.to_string(),
    };
    let net = match &card.config {
        NetworkConfig::MultiTask(c) => {
            let scalings = card.target_scalings.ok_or_else(|| {
                bad(Error::InvalidConfig(
                    "multi-task card without target scalings".into(),
                ))
            })?;
            Network::MultiTask(
                MultiTaskNet::from_parts(
                    c.clone(),
                    card.n_features,
                    card.scaler.clone(),
                    scalings,
                    tensors,
                )
                .map_err(bad)?,
            )
        }
        NetworkConfig::Autoencoder(c) => Network::Autoencoder(
            Autoencoder::from_parts(c.clone(), card.scaler.clone(), tensors).map_err(bad)?,
        ),
    };
    Ok((net, card))
}

/// Saves a network's input rows beside its checkpoint (`ts` as I64 `[n]`, `x` as F32
/// `[n, p]`, the schema hash as metadata): the rows a served model answers for.
pub fn save_inputs(path: &Path, schema_hash: &str, ts: &[i64], x: &crate::Matrix) -> Result<()> {
    use safetensors::tensor::{Dtype, TensorView};
    if ts.len() != x.rows() {
        return Err(Error::Shape(format!(
            "{} times for {} rows",
            ts.len(),
            x.rows()
        )));
    }
    let tb: Vec<u8> = ts.iter().flat_map(|v| v.to_le_bytes()).collect();
    let xb: Vec<u8> = x
        .as_slice()
        .iter()
        .flat_map(|&v| (v as f32).to_le_bytes())
        .collect();
    let views = vec![
        ("ts", TensorView::new(Dtype::I64, vec![ts.len()], &tb)?),
        (
            "x",
            TensorView::new(Dtype::F32, vec![x.rows(), x.cols()], &xb)?,
        ),
    ];
    let meta = std::collections::HashMap::from([(
        crate::checkpoint::SAFETENSORS_SCHEMA_KEY.to_string(),
        schema_hash.to_string(),
    )]);
    let bytes = safetensors::tensor::serialize(views, Some(meta))?;
    write_atomic(path, &bytes)
}

/// Loads what [`save_inputs`] wrote, refusing another schema.
pub fn load_inputs(path: &Path, schema_hash: &str) -> Result<(Vec<i64>, crate::Matrix)> {
    use safetensors::SafeTensors;
    use safetensors::tensor::Dtype;
    let bad = |reason: String| Error::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let found = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(crate::checkpoint::SAFETENSORS_SCHEMA_KEY))
        .cloned()
        .unwrap_or_default();
    if found != schema_hash {
        return Err(Error::SchemaMismatch {
            expected: schema_hash.to_string(),
            found,
        });
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let t = st.tensor("ts").map_err(|e| bad(e.to_string()))?;
    let x = st.tensor("x").map_err(|e| bad(e.to_string()))?;
    if t.dtype() != Dtype::I64 || x.dtype() != Dtype::F32 || x.shape().len() != 2 {
        return Err(bad("unexpected tensor types".into()));
    }
    let ts: Vec<i64> = t
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let (n, p) = (x.shape()[0], x.shape()[1]);
    if n != ts.len() {
        return Err(bad("ts and x disagree".into()));
    }
    let vals: Vec<f64> = x
        .data()
        .chunks_exact(4)
        .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))))
        .collect();
    Ok((ts, crate::Matrix::from_row_major(n, p, vals)?))
}
