//! `bqx serve` as a real process on a real loopback socket: it prints its URL, answers the API
//! and the UI files, requires its token when bound beyond loopback, and stops cleanly on
//! SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// A running `bqx serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    lines: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(store: &std::path::Path, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bqx"))
        .arg("--store")
        .arg(store)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start bqx serve");
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    // The server prints its header (listening, store, ui, token) before it serves.
    for _ in 0..4 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        lines.push(line.trim_end().to_string());
    }
    let addr = lines
        .iter()
        .find_map(|l| l.strip_prefix("listening on http://"))
        .unwrap_or_else(|| panic!("no URL in {lines:?}"))
        .to_string();
    Server { child, addr, lines }
}

/// A minimal HTTP/1.1 exchange: status code and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp[9..12].parse().expect("status code");
    let body = resp.split_once("\r\n\r\n").map_or("", |x| x.1).to_string();
    (status, body)
}

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
