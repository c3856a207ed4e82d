//! A per-address request budget (token bucket) for clients that are not on loopback.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// `burst` requests at once, refilled at `per_second`. Loopback clients (the local UI, the
/// desktop app, benchmarks on the same machine) are not limited.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> RateLimit {
        RateLimit {
            per_second: 50.0,
            burst: 200.0,
        }
    }
}

/// The buckets of every client address seen.
#[derive(Debug)]
pub(crate) struct Buckets {
    limit: RateLimit,
    state: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Addresses tracked before idle buckets are dropped.
const MAX_TRACKED: usize = 10_000;

impl Buckets {
    pub fn new(limit: RateLimit) -> Buckets {
        Buckets {
            limit,
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `ip`'s budget; false when it is exhausted.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if ip.is_loopback() {
            return true;
        }
        let mut st = self.state.lock().expect("rate limit lock");
        if st.len() >= MAX_TRACKED {
            let burst = self.limit.burst;
            let rate = self.limit.per_second;
            // Full buckets carry no information: forget them.
            st.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = st.entry(ip).or_insert((self.limit.burst, now));
        let refill = now.duration_since(*at).as_secs_f64() * self.limit.per_second;
        *tokens = (*tokens + refill).min(self.limit.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_and_loopback_is_free() {
        let b = Buckets::new(RateLimit {
            per_second: 10.0,
            burst: 3.0,
        });
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        assert!((0..3).all(|_| b.allow(ip, t0)));
        assert!(!b.allow(ip, t0));
        assert!(b.allow(ip, t0 + Duration::from_millis(150)));
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!((0..1000).all(|_| b.allow(lo, t0)));
    }
}
