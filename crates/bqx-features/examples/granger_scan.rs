//! The Rust side of `benches/granger_peer.py`: the Granger tests of 27 leaders on one follower,
//! lag orders 1..15, on the series the script wrote (little-endian f64: follower, then the
//! leaders). Prints the same checksum (the sum of every ssr F) and the seconds.
//!
//! ```sh
//! python crates/bqx-features/benches/granger_peer.py 200000 --write /tmp/granger.f64
//! cargo run --release --example granger_scan -p bqx-features -- /tmp/granger.f64
//! ```

use std::time::Instant;

const LEADERS: usize = 27;
const MAX_LAG: usize = 15;

fn main() {
    let path = std::env::args().nth(1).expect("usage: granger_scan FILE");
    let bytes = std::fs::read(&path).expect("read the series");
    let all: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let n = all.len() / (LEADERS + 1);
    assert_eq!(
        n * (LEADERS + 1),
        all.len(),
        "the file holds 28 equal series"
    );
    let y = &all[..n];
    let t0 = Instant::now();
    let mut checksum = 0.0;
    for k in 1..=LEADERS {
        let x = &all[k * n..(k + 1) * n];
        let tests = bqx_features::granger_tests(y, x, MAX_LAG).expect("valid series");
        checksum += tests.iter().map(|t| t.f).sum::<f64>();
    }
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "bqx-features: {LEADERS} leaders -> 1 follower, n = {n}, maxlag = {MAX_LAG} ({} tests)",
        LEADERS * MAX_LAG
    );
    println!("sum of F (checksum): {checksum:.6}");
    println!("seconds: {secs:.3}");
}
