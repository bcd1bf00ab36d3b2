//! Failed sign-ins, counted per address and per user name over a sliding window. Once either
//! count reaches its limit, sign-ins for that address or name are refused (even with the right
//! password) until the oldest failure leaves the window. Every attempt is counted when it begins
//! (so parallel attempts cannot outrun the limit); a success takes it back and clears the user's
//! count.

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

    /// Reserves one sign-in attempt from `ip` as `user` (`None`: a name that is not even valid,
    /// counted against the address only). The check and the count happen under one lock, so
    /// parallel attempts cannot all pass the check before any is recorded: every attempt counts
    /// as a failure until [`succeeded`](Self::succeeded) takes it back. False: refused, nothing
    /// recorded.
    pub fn try_begin(&self, ip: IpAddr, user: Option<&str>, now: Instant) -> bool {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let ip_key = Key::Ip(ip);
        let user_key = user.map(|u| Key::User(u.to_ascii_lowercase()));
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
        let allowed = count(&mut map, &ip_key) < self.per_ip
            && user_key
                .as_ref()
                .is_none_or(|k| count(&mut map, k) < self.per_user);
        if !allowed {
            return false;
        }
        if map.len() >= MAX_TRACKED {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        for key in std::iter::once(ip_key).chain(user_key) {
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
        true
    }

    /// The attempt reserved at `began` succeeded: the user's failures are cleared and the
    /// attempt no longer counts against the address.
    pub fn succeeded(&self, ip: IpAddr, user: &str, began: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&Key::User(user.to_ascii_lowercase()));
        if let Some(q) = map.get_mut(&Key::Ip(ip))
            && let Some(at) = q.iter().rposition(|t| *t == began)
        {
            q.remove(at);
        }
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
        assert!(limiter.try_begin(a, Some("bob"), t));
        assert!(limiter.try_begin(b, Some("bob"), t));
        assert!(
            !limiter.try_begin(a, Some("bob"), t),
            "user limit, any address"
        );
        assert!(
            !limiter.try_begin(b, Some("BOB"), t),
            "names compare case-insensitively"
        );
        assert!(limiter.try_begin(a, Some("carol"), t));
        assert!(limiter.try_begin(a, Some("dave"), t));
        assert!(limiter.try_begin(a, None, t), "invalid names count too");
        assert!(
            !limiter.try_begin(a, Some("frank"), t),
            "address limit, any user"
        );
        assert!(!limiter.try_begin(a, None, t));
        assert!(limiter.try_begin(b, Some("frank"), t));
        // The window passes.
        let later = t + Duration::from_secs(61);
        assert!(limiter.try_begin(a, Some("bob"), later));
        // A success takes its attempt back and clears the user's failures.
        let c = "10.0.0.3".parse().unwrap();
        assert!(limiter.try_begin(c, Some("gina"), t));
        assert!(limiter.try_begin(c, Some("gina"), t + Duration::from_secs(1)));
        limiter.succeeded(c, "gina", t + Duration::from_secs(1));
        assert!(limiter.try_begin(c, Some("gina"), t));
        assert!(limiter.try_begin(c, Some("gina"), t));
    }

    /// Many attempts at once: exactly the limit get through, however they interleave.
    #[test]
    fn parallel_attempts_get_no_more_than_the_limit() {
        let limiter = std::sync::Arc::new(LoginLimiter::new(Duration::from_secs(60), 100, 5));
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let l = limiter.clone();
                std::thread::spawn(move || l.try_begin(a, Some("vic"), t))
            })
            .collect();
        let passed = threads
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(passed, 5);
    }
}
