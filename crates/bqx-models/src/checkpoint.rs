//! Checkpoints: a JSON model card for every model, plus safetensors weights for networks.
//!
//! `save(dir, stem, meta)` writes `<dir>/<stem>.json` and, for an MLP,
//! `<dir>/<stem>.safetensors`. Both files are written to a temporary name and renamed, and
//! their bytes depend only on the model and `meta` (no clock, no hash-map order), so saving the
//! same model twice gives identical files. Loading checks, in this order: the card parses, its
//! format version is known, its feature-schema hash equals the caller's (else
//! [`Error::SchemaMismatch`]), the weights file has the SHA-256 recorded in the card and
//! carries the same schema hash in its safetensors metadata.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::mlp::{Mlp, MlpArchitecture, NamedTensor, TargetScaling};
use crate::model::{
    DriftForecast, FitReport, Model, ModelKind, ModelSpec, Regressor, ZeroForecast,
};
use crate::ridge::{Ridge, RidgeState};
use crate::scaler::StandardScaler;

/// Tensors by name: shape and row-major `f32` values.
pub type NamedValues = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Version of the card format written by this crate.
pub const CARD_FORMAT_VERSION: u32 = 1;

/// Key of the single entry of the safetensors `__metadata__` map.
pub const SAFETENSORS_SCHEMA_KEY: &str = "bqx_schema_hash";

/// What the caller knows about the training context and the card records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardMeta {
    /// Hash of the feature schema the model was trained on; loading requires the same hash.
    pub schema_hash: String,
    /// Names of the input columns, in order (as many as the model's features).
    pub feature_names: Vec<String>,
    /// The walk-forward fold the model was fitted on, if any.
    pub fold_id: Option<u32>,
}

/// The ridge part of a card: the restorable state plus the coefficients on raw features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RidgeCard {
    /// Scaler, standardized-space coefficients and intercept (used to restore the model).
    pub state: RidgeState,
    /// Coefficients on the raw features (for reading only).
    pub raw_coefficients: Vec<f64>,
    /// Intercept on the raw features (for reading only).
    pub raw_intercept: f64,
}

/// The weights file a card points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightsFile {
    /// File name, relative to the card's directory.
    pub file: String,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// A model card: what the model is, what it was trained on and how it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// [`CARD_FORMAT_VERSION`] at writing time.
    pub format_version: u32,
    /// `"bqx-models"`.
    pub crate_name: String,
    /// Version of this crate that wrote the card.
    pub crate_version: String,
    /// Model family.
    pub kind: ModelKind,
    /// Model name.
    pub name: String,
    /// Kind and hyper-parameters (including the seed).
    pub spec: ModelSpec,
    /// Seed of a randomized model.
    pub seed: Option<u64>,
    /// Fold the model was fitted on.
    pub fold_id: Option<u32>,
    /// Feature-schema hash (checked on load).
    pub schema_hash: String,
    /// Input column names.
    pub feature_names: Vec<String>,
    /// Number of input features.
    pub n_features: usize,
    /// Training metrics.
    pub fit_report: Option<FitReport>,
    /// Network architecture (MLP).
    #[serde(default)]
    pub architecture: Option<MlpArchitecture>,
    /// Feature scaler (MLP; a ridge's is inside [`RidgeCard`]).
    #[serde(default)]
    pub scaler: Option<StandardScaler>,
    /// Target scaling (MLP).
    #[serde(default)]
    pub target_scaling: Option<TargetScaling>,
    /// Ridge state and coefficients.
    #[serde(default)]
    pub ridge: Option<RidgeCard>,
    /// The training mean (drift baseline).
    #[serde(default)]
    pub drift_mean: Option<f64>,
    /// Impurity feature importances (random forest).
    #[serde(default)]
    pub feature_importances: Option<Vec<f64>>,
    /// Weights file (MLP).
    #[serde(default)]
    pub weights: Option<WeightsFile>,
}

/// Paths written by a save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedModel {
    /// The JSON card.
    pub card: PathBuf,
    /// The safetensors weights, for networks.
    pub weights: Option<PathBuf>,
}

pub(crate) fn card_for(model: &Model, meta: &CardMeta) -> Result<ModelCard> {
    let n_features = model.n_features().ok_or(Error::NotFitted(model.kind()))?;
    if meta.schema_hash.is_empty() {
        return Err(Error::InvalidConfig(
            "the schema hash of a model card is empty".into(),
        ));
    }
    if meta.feature_names.len() != n_features {
        return Err(Error::Shape(format!(
            "{} feature names for a model with {n_features} features",
            meta.feature_names.len()
        )));
    }
    let spec = model.spec();
    let mut card = ModelCard {
        format_version: CARD_FORMAT_VERSION,
        crate_name: env!("CARGO_PKG_NAME").into(),
        crate_version: env!("CARGO_PKG_VERSION").into(),
        kind: model.kind(),
        name: model.name().into(),
        seed: spec.seed(),
        spec,
        fold_id: meta.fold_id,
        schema_hash: meta.schema_hash.clone(),
        feature_names: meta.feature_names.clone(),
        n_features,
        fit_report: model.fit_report().cloned(),
        architecture: None,
        scaler: None,
        target_scaling: None,
        ridge: None,
        drift_mean: None,
        feature_importances: None,
        weights: None,
    };
    match model {
        Model::Zero(_) => {}
        Model::Drift(d) => {
            card.drift_mean = Some(d.mean().ok_or(Error::NotFitted(ModelKind::Drift))?);
        }
        Model::Ridge(r) => {
            let state = r.state().ok_or(Error::NotFitted(ModelKind::Ridge))?.clone();
            let (raw_coefficients, raw_intercept) = state.raw_coefficients();
            card.ridge = Some(RidgeCard {
                state,
                raw_coefficients,
                raw_intercept,
            });
        }
        Model::RandomForest(f) => {
            card.feature_importances = f.feature_importances().map(<[f64]>::to_vec);
        }
        Model::Mlp(m) => {
            card.architecture = m.architecture().cloned();
            card.scaler = m.scaler().cloned();
            card.target_scaling = m.target_scaling();
        }
    }
    Ok(card)
}

pub(crate) fn with_suffix(base: &Path, ext: &str) -> PathBuf {
    let mut s: OsString = base.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    s.into()
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = with_suffix(path, "tmp");
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::write(&tmp, bytes).map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

fn mlp_safetensors(mlp: &Mlp, schema_hash: &str) -> Result<Vec<u8>> {
    named_safetensors(&mlp.weights()?, schema_hash)
}

/// The safetensors bytes of `weights` (in their order), with the schema hash as metadata.
pub(crate) fn named_safetensors(weights: &[NamedTensor], schema_hash: &str) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = weights
        .iter()
        .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
        .collect();
    let views = weights
        .iter()
        .zip(&bytes)
        .map(|(t, data)| {
            Ok((
                t.name.as_str(),
                TensorView::new(Dtype::F32, t.shape.clone(), data)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    // One metadata entry only: safetensors serializes the map in hash order.
    let metadata = HashMap::from([(SAFETENSORS_SCHEMA_KEY.to_string(), schema_hash.to_string())]);
    Ok(safetensors::tensor::serialize(views, Some(metadata))?)
}

pub(crate) fn save(model: &Model, dir: &Path, stem: &str, meta: &CardMeta) -> Result<SavedModel> {
    if stem.is_empty() || stem.contains(['/', '\\']) || stem == "." || stem == ".." {
        return Err(Error::InvalidConfig(format!(
            "invalid checkpoint name {stem:?}"
        )));
    }
    let mut card = card_for(model, meta)?;
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let base = dir.join(stem);
    let mut weights_path = None;
    if let Model::Mlp(mlp) = model {
        let bytes = mlp_safetensors(mlp, &meta.schema_hash)?;
        let path = with_suffix(&base, "safetensors");
        write_atomic(&path, &bytes)?;
        card.weights = Some(WeightsFile {
            file: format!("{stem}.safetensors"),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
        });
        weights_path = Some(path);
    }
    let card_path = with_suffix(&base, "json");
    let mut json = serde_json::to_vec_pretty(&card)?;
    json.push(b'\n');
    write_atomic(&card_path, &json)?;
    Ok(SavedModel {
        card: card_path,
        weights: weights_path,
    })
}

/// Reads and checks a card without restoring the model: the format version and the schema hash
/// (refused with [`Error::SchemaMismatch`] when it differs from `expected_schema_hash`).
pub fn read_card(path: &Path, expected_schema_hash: &str) -> Result<(PathBuf, ModelCard)> {
    let base = match path.extension().and_then(|e| e.to_str()) {
        Some("json" | "safetensors") => path.with_extension(""),
        _ => path.to_path_buf(),
    };
    let card_path = with_suffix(&base, "json");
    let bad = |reason: String| Error::Checkpoint {
        path: card_path.clone(),
        reason,
    };
    let text = fs::read(&card_path).map_err(|source| Error::Io {
        path: card_path.clone(),
        source,
    })?;
    let card: ModelCard =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not a model card: {e}")))?;
    if card.format_version != CARD_FORMAT_VERSION {
        return Err(bad(format!(
            "card format {} is not supported (this build reads {CARD_FORMAT_VERSION})",
            card.format_version
        )));
    }
    if card.schema_hash != expected_schema_hash {
        return Err(Error::SchemaMismatch {
            expected: expected_schema_hash.to_string(),
            found: card.schema_hash,
        });
    }
    if card.spec.kind() != card.kind || card.feature_names.len() != card.n_features {
        return Err(bad("inconsistent kind or feature list".into()));
    }
    Ok((card_path, card))
}

pub(crate) fn load(path: &Path, expected_schema_hash: &str) -> Result<(Model, ModelCard)> {
    let (card_path, card) = read_card(path, expected_schema_hash)?;
    let bad = |reason: String| Error::Checkpoint {
        path: card_path.clone(),
        reason,
    };
    let model = match &card.spec {
        ModelSpec::Zero => Model::Zero(ZeroForecast::restored(
            card.n_features,
            card.fit_report.clone(),
        )),
        ModelSpec::Drift => Model::Drift(DriftForecast::restored(
            card.n_features,
            card.drift_mean
                .ok_or_else(|| bad("drift card without its mean".into()))?,
            card.fit_report.clone(),
        )),
        ModelSpec::Ridge(config) => {
            let rc = card
                .ridge
                .as_ref()
                .ok_or_else(|| bad("ridge card without state".into()))?;
            if rc.state.coefficients.len() != card.n_features {
                return Err(bad(
                    "ridge coefficients do not match the feature count".into()
                ));
            }
            Model::Ridge(
                Ridge::restored(config.clone(), rc.state.clone(), card.fit_report.clone())
                    .map_err(|e| bad(e.to_string()))?,
            )
        }
        ModelSpec::RandomForest(_) => return Err(Error::NotRestorable(ModelKind::RandomForest)),
        // Saved as network cards (`net::save_network`), not model cards.
        ModelSpec::MultiTask(_) => return Err(Error::NotRestorable(card.spec.kind())),
        ModelSpec::Mlp(config) => Model::Mlp(load_mlp(&card_path, &card, config.clone())?),
    };
    Ok((model, card))
}

fn load_mlp(card_path: &Path, card: &ModelCard, config: crate::mlp::MlpConfig) -> Result<Mlp> {
    let bad = |reason: String| Error::Checkpoint {
        path: card_path.to_path_buf(),
        reason,
    };
    let (Some(arch), Some(scaler), Some(target), Some(wf)) = (
        &card.architecture,
        &card.scaler,
        card.target_scaling,
        &card.weights,
    ) else {
        return Err(bad(
            "network card lacks architecture, scaler, target scaling or weights".into(),
        ));
    };
    if arch.n_inputs != card.n_features {
        return Err(bad("architecture does not match the feature count".into()));
    }
    let tensors = read_weights(card_path, wf, &card.schema_hash)?;
    Mlp::from_parts(
        config,
        arch.clone(),
        scaler.clone(),
        target,
        tensors,
        card.fit_report.clone(),
    )
    .map_err(|e| Error::Checkpoint {
        path: card_path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Reads the weights file `wf` beside `card_path`: checks its SHA-256 against the card's and
/// the schema hash in its metadata against `schema_hash`, then returns its `f32` tensors.
pub(crate) fn read_weights(
    card_path: &Path,
    wf: &WeightsFile,
    schema_hash: &str,
) -> Result<NamedValues> {
    if wf.file.contains(['/', '\\']) {
        return Err(Error::Checkpoint {
            path: card_path.to_path_buf(),
            reason: format!("weights file {:?} is not a plain file name", wf.file),
        });
    }
    let wpath = card_path.parent().unwrap_or(Path::new(".")).join(&wf.file);
    let wbad = |reason: String| Error::Checkpoint {
        path: wpath.clone(),
        reason,
    };
    let bytes = fs::read(&wpath).map_err(|source| Error::Io {
        path: wpath.clone(),
        source,
    })?;
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != wf.sha256 {
        return Err(wbad(format!(
            "SHA-256 {digest} differs from the card's {}",
            wf.sha256
        )));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| wbad(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| wbad(e.to_string()))?;
    let file_hash = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(SAFETENSORS_SCHEMA_KEY));
    if file_hash.map(String::as_str) != Some(schema_hash) {
        return Err(Error::SchemaMismatch {
            expected: schema_hash.to_string(),
            found: file_hash
                .cloned()
                .unwrap_or_else(|| "<none in weights file>".into()),
        });
    }
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(wbad(format!(
                "tensor {name} is {:?}, expected F32",
                view.dtype()
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        tensors.insert(name, (view.shape().to_vec(), values));
    }
    Ok(tensors)
}
