//! Generates the Tauri context. The app manifest lists our own commands, so the webview may call
//! them only where a capability grants them (`capabilities/default.json`).

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(&["api", "pick_and_ingest"])),
    )
    .expect("tauri-build failed");
}
