//! A per-address fixed-window counter, for enrollment attempts.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; past that, expired windows are swept first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct RateLimiter {
    per_window: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn per_minute(per_window: u32) -> Self {
        Self {
            per_window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `addr`; `false` when it is over the limit.
    pub fn allow(&self, addr: IpAddr, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MAX_TRACKED {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
            if windows.len() >= MAX_TRACKED {
                // Still full: an address flood. Refuse unknown addresses rather than grow.
                return windows.contains_key(&addr) && self.bump(&mut windows, addr, now);
            }
        }
        self.bump(&mut windows, addr, now)
    }

    fn bump(
        &self,
        windows: &mut HashMap<IpAddr, (Instant, u32)>,
        addr: IpAddr,
        now: Instant,
    ) -> bool {
        let entry = windows.entry(addr).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.per_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_and_resets_after_the_window() {
        let limiter = RateLimiter::per_minute(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow(a, t0)));
        assert!(!limiter.allow(a, t0));
        assert!(limiter.allow(b, t0));
        assert!(limiter.allow(a, t0 + WINDOW));
    }
}
