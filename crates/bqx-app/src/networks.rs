//! The stage networks' configurations: the files of the top-level `models/` folder, built into
//! the binary, and the profile (or file) a run chooses.
//!
//! * `multitask.json` — profiles of stage 2.18's network as a backtest unit
//!   ([`NetworkUnitSpec`]): `full` (features.md's architecture and training, every fold) and
//!   `quick` (a smaller trunk, at most 1,000 spaced training rows, the last 3 folds);
//! * `singletask.json` — the control: derived from the multi-task profile with the volatility
//!   and regime heads removed, so the two never differ in anything else;
//! * `autoencoder.json` — stage 2.17's autoencoder (used by the embed stage);
//! * `mlp.json` — the MLP baseline (read by `bqx-eval`).
//!
//! A run picks `--networks quick|full|off` or a JSON file holding one multi-task profile.

use std::collections::BTreeMap;

use bqx_models::net::{AutoencoderConfig, Tasks};
use bqx_models::{ModelSpec, NetworkUnitSpec};
use serde::Deserialize;

use crate::{AppError, ErrorCode};

const MULTITASK_JSON: &str = include_str!("../../../models/multitask.json");
const SINGLETASK_JSON: &str = include_str!("../../../models/singletask.json");
const AUTOENCODER_JSON: &str = include_str!("../../../models/autoencoder.json");

/// The profile `bqx run` uses when none is named.
pub const DEFAULT_PROFILE: &str = "quick";

#[derive(Deserialize)]
struct MultiFile {
    network: String,
    profiles: BTreeMap<String, NetworkUnitSpec>,
}

#[derive(Deserialize)]
struct ControlFile {
    network: String,
    control_of: String,
    overrides: ControlOverrides,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlOverrides {
    tasks: Tasks,
}

#[derive(Deserialize)]
struct AeFile {
    network: String,
    profiles: BTreeMap<String, AutoencoderConfig>,
}

fn bad(m: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::InvalidArgument, m.into())
}

fn multi_profiles() -> BTreeMap<String, NetworkUnitSpec> {
    let f: MultiFile = serde_json::from_str(MULTITASK_JSON).expect("models/multitask.json parses");
    assert_eq!(f.network, "multitask");
    f.profiles
}

/// The single-task control of a multi-task unit spec (as `models/singletask.json` says).
fn control_of(spec: &NetworkUnitSpec) -> NetworkUnitSpec {
    let c: ControlFile =
        serde_json::from_str(SINGLETASK_JSON).expect("models/singletask.json parses");
    assert_eq!(
        (c.network.as_str(), c.control_of.as_str()),
        ("singletask", "multitask")
    );
    let mut s = spec.clone();
    s.net.tasks = c.overrides.tasks;
    s
}

/// The names of the built-in profiles.
pub fn profile_names() -> Vec<String> {
    multi_profiles().into_keys().collect()
}

/// The multi-task network and its single-task control for `choice` (a profile name, `off`,
/// or the path of a JSON file holding one profile), validated; empty for `off`.
pub fn network_specs(choice: &str) -> Result<Vec<ModelSpec>, AppError> {
    if choice == "off" {
        return Ok(Vec::new());
    }
    let spec = match multi_profiles().remove(choice) {
        Some(s) => s,
        None if choice.ends_with(".json") => {
            let text = std::fs::read_to_string(choice)
                .map_err(|e| bad(format!("--networks {choice}: {e}")))?;
            let s: NetworkUnitSpec = serde_json::from_str(&text)
                .map_err(|e| bad(format!("--networks {choice}: not a network profile: {e}")))?;
            if s.net.tasks != Tasks::Multi {
                return Err(bad(format!(
                    "--networks {choice}: the profile is the multi-task network's (tasks \"multi\"); the control is derived from it"
                )));
            }
            s
        }
        None => {
            return Err(bad(format!(
                "unknown network profile '{choice}' (profiles: {}, off, or a .json file)",
                profile_names().join(", ")
            )));
        }
    };
    let control = control_of(&spec);
    // The multi-task network first, then its control.
    let specs = vec![ModelSpec::MultiTask(spec), ModelSpec::MultiTask(control)];
    for s in &specs {
        s.validate()
            .map_err(|e| bad(format!("network profile '{choice}': {e}")))?;
    }
    Ok(specs)
}

/// The autoencoder of a profile (`full` or `quick`).
pub fn autoencoder_config(profile: &str) -> Result<AutoencoderConfig, AppError> {
    let f: AeFile = serde_json::from_str(AUTOENCODER_JSON).expect("models/autoencoder.json parses");
    assert_eq!(f.network, "autoencoder");
    let names: Vec<String> = f.profiles.keys().cloned().collect();
    let mut p = f.profiles;
    let cfg = p.remove(profile).ok_or_else(|| {
        bad(format!(
            "unknown autoencoder profile '{profile}' (profiles: {})",
            names.join(", ")
        ))
    })?;
    cfg.validate()
        .map_err(|e| bad(format!("autoencoder profile '{profile}': {e}")))?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bqx_models::net::MultiTaskConfig;

    #[test]
    fn the_models_folder_parses_and_validates() {
        for p in profile_names() {
            let specs = network_specs(&p).unwrap();
            assert_eq!(specs.len(), 2);
            assert_eq!(specs[0].kind().as_str(), "multitask");
            assert_eq!(specs[1].kind().as_str(), "singletask");
        }
        assert!(network_specs("off").unwrap().is_empty());
        assert!(network_specs("nope").is_err());
        autoencoder_config("full").unwrap();
        autoencoder_config("quick").unwrap();
    }

    #[test]
    fn the_full_profiles_are_the_specifications() {
        let ModelSpec::MultiTask(full) = &network_specs("full").unwrap()[0] else {
            panic!("not a network")
        };
        assert_eq!(
            full.net,
            MultiTaskConfig::default(),
            "features.md § Stage 2.18"
        );
        assert_eq!(
            (full.seeds, full.max_train_rows, full.last_folds),
            (3, None, None)
        );
        assert_eq!(
            autoencoder_config("full").unwrap(),
            AutoencoderConfig::default()
        );
    }

    #[test]
    fn the_control_differs_from_the_network_only_in_its_heads() {
        for p in profile_names() {
            let specs = network_specs(&p).unwrap();
            let (ModelSpec::MultiTask(m), ModelSpec::MultiTask(s)) = (&specs[0], &specs[1]) else {
                panic!("not networks")
            };
            let mut s = s.clone();
            assert_eq!(s.net.tasks, Tasks::Single);
            s.net.tasks = Tasks::Multi;
            assert_eq!(&s, m, "profile {p}");
        }
    }
}
