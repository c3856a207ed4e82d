//! `bqx serve` as a real process on a real loopback socket: it prints its URL, answers the API
//! and the UI files, requires its token when bound beyond loopback, and stops cleanly on
//! SIGTERM.

#[path = "common/serve.rs"]
mod serve;
use serve::{http, start};
use std::process::Command;

#[test]
fn serve_answers_on_loopback_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ui = dir.path().join("ui");
    std::fs::create_dir_all(&ui).unwrap();
    std::fs::write(
        ui.join("index.html"),
        "<!doctype html><title>BQX ML</title>",
    )
    .unwrap();
    let mut server = start(
        &dir.path().join("store"),
        &["--bind", "127.0.0.1:0", "--ui", ui.to_str().unwrap()],
    );
    assert!(
        server.lines.iter().any(|l| l.starts_with("ui ")),
        "{:?}",
        server.lines
    );

    let (status, body) = http(&server.addr, "GET", "/api/v1/health", &[], "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| {
        // Chunked bodies carry a size line; the health JSON is small enough for one chunk.
        let json = body
            .lines()
            .find(|l| l.starts_with('{'))
            .unwrap_or_else(|| panic!("{e}: {body}"));
        serde_json::from_str(json).unwrap()
    });
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let (status, body) = http(&server.addr, "GET", "/api/v1/runs", &[], "");
    assert_eq!((status, body.contains("[]")), (200, true), "{body}");
    // The UI's files, with a strict content security policy; unknown paths get index.html.
    let (status, body) = http(&server.addr, "GET", "/runs/anything", &[], "");
    assert_eq!(status, 200);
    assert!(body.contains("<title>BQX ML</title>"));
    let (status, _) = http(&server.addr, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);

    // SIGTERM: graceful shutdown, exit status 0.
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_beyond_loopback_generates_and_requires_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("store"), &["--bind", "0.0.0.0:0"]);
    let token = server
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("token "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no token printed: {:?}", server.lines))
        .to_string();
    let port = server.addr.rsplit(':').next().unwrap();
    let addr = format!("127.0.0.1:{port}");
    let (status, body) = http(&addr, "GET", "/api/v1/health", &[], "");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("\"unauthorized\""));
    let bearer = format!("Bearer {token}");
    let (status, _) = http(
        &addr,
        "GET",
        "/api/v1/health",
        &[("Authorization", &bearer)],
        "",
    );
    assert_eq!(status, 200);
    // A POST from a foreign page is refused even with JSON.
    let (status, body) = http(
        &addr,
        "POST",
        "/api/v1/runs",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
            ("Origin", "https://evil.example"),
        ],
        "{}",
    );
    assert_eq!(status, 403, "{body}");
}
