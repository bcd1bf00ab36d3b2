//! Failed sign-ins, counted per address and per user name over a sliding window. Once either
//! count reaches its limit, sign-ins for that address or name are refused (even with the right
//! password) until the oldest failure leaves the window. A success clears the user's count.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered at most; past that the oldest windows are swept, then new keys refused.
const MAX_TRACKED: usize = 50_000;

#[derive(Debug)]
pub struct LoginLimiter {
    window: Duration,
    per_ip: usize,
    per_user: usize,
    failures: Mutex<HashMap<Key, VecDeque<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    User(String),
}

impl Default for LoginLimiter {
    /// 20 failures per address and 5 per user name in 15 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 20, 5)
    }
}

impl LoginLimiter {
    pub fn new(window: Duration, per_ip: usize, per_user: usize) -> Self {
        Self {
            window,
            per_ip,
            per_user,
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether a sign-in from `ip` as `user` may be tried now.
    pub fn allowed(&self, ip: IpAddr, user: &str, now: Instant) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = |map: &mut HashMap<Key, VecDeque<Instant>>, key: &Key| {
            map.get_mut(key).map_or(0, |q| {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= self.window)
                {
                    q.pop_front();
                }
                q.len()
            })
        };
        count(&mut map, &Key::Ip(ip)) < self.per_ip
            && count(&mut map, &Key::User(user.to_ascii_lowercase())) < self.per_user
    }

    pub fn failed(&self, ip: IpAddr, user: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_TRACKED {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in [Key::Ip(ip), Key::User(user.to_ascii_lowercase())] {
            if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
                continue;
            }
            let q = map.entry(key).or_default();
            q.push_back(now);
            // Only the newest `limit` failures matter.
            while q.len() > self.per_ip.max(self.per_user) {
                q.pop_front();
            }
        }
    }

    pub fn succeeded(&self, user: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::User(user.to_ascii_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_user_and_per_ip_limits() {
        let limiter = LoginLimiter::new(Duration::from_secs(60), 4, 2);
        let t = Instant::now();
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limiter.allowed(a, "bob", t));
        limiter.failed(a, "bob", t);
        limiter.failed(b, "bob", t);
        assert!(!limiter.allowed(a, "bob", t), "user limit, any address");
        assert!(
            !limiter.allowed(b, "BOB", t),
            "names compare case-insensitively"
        );
        assert!(limiter.allowed(a, "carol", t));
        limiter.failed(a, "carol", t);
        limiter.failed(a, "dave", t);
        limiter.failed(a, "erin", t);
        assert!(!limiter.allowed(a, "frank", t), "address limit, any user");
        assert!(limiter.allowed(b, "frank", t));
        // The window passes.
        let later = t + Duration::from_secs(61);
        assert!(limiter.allowed(a, "bob", later));
        limiter.failed(b, "gina", t);
        limiter.succeeded("gina");
        assert!(limiter.allowed(b, "gina", t));
    }
}
