//! Helpers shared by the end-to-end tests: run the real `bqx` binary on a store.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs `bqx --store STORE ARGS…` and returns its output.
pub fn bqx(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bqx"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .expect("run bqx")
}

/// Asserts success and parses the JSON on stdout.
pub fn json_ok(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "bqx failed ({:?}): {}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}
