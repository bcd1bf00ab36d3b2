//! Failed sign-ins slow down, they never lock anyone out.
//!
//! Each failure is counted against up to two keys: the client's address, and either the user
//! name (an unknown browser) or the browser's device token (one that signed in as that user
//! before). A key's first failures are free; after that each further failure doubles the wait
//! before the key's next attempt (1 s, 2 s, 4 s...), up to a cap. An attempt before the wait
//! is over is answered "try again in N seconds" without checking the password. A key is
//! forgotten 15 minutes after its last failure.
//!
//! Why device tokens: a per-name delay alone lets a stranger who keeps guessing hold the real
//! user back. A browser that signed in as a user gets a random device token (a cookie); sign-ins
//! as that user from that browser are limited by the token's own failures only, so a stranger's
//! guesses never delay the real user there, and a stolen-password guesser without the cookie
//! stays on the slow per-name path. Tokens live in memory: after a restart every browser is
//! unknown again until it signs in once (the failure counts restart from zero as well).
//!
//! Every attempt is counted as a failure when it begins (so parallel attempts cannot outrun
//! the limit); a success takes it back. `ward-collector user unlock NAME` clears a name's
//! delay and the failures of its devices.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered at most; past that the stale ones are swept, then new keys go uncounted.
const MAX_TRACKED: usize = 50_000;
/// Device tokens remembered at most; the least recently used go first.
const MAX_DEVICES: usize = 20_000;

/// How one kind of key slows down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures before any wait.
    pub free: u32,
    /// The first wait; each further failure doubles it.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Backoff {
    /// The wait after `failures` failures.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures < self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free).min(20);
        self.base.saturating_mul(1u32 << doublings).min(self.cap)
    }
}

/// The limiter's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub per_address: Backoff,
    pub per_user: Backoff,
    pub per_device: Backoff,
    /// A key is forgotten this long after its last failure.
    pub forget_after: Duration,
}

impl Default for Policy {
    /// An address: 20 free failures, then 1 s doubling up to 5 minutes. A name from an unknown
    /// browser: 5 free, then 1 s doubling up to 1 minute. A known browser: the same as a name,
    /// on its own count. Forgotten after 15 quiet minutes.
    fn default() -> Self {
        Self {
            per_address: Backoff {
                free: 20,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(300),
            },
            per_user: Backoff {
                free: 5,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
            per_device: Backoff {
                free: 5,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
            forget_after: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    User(String),
    Device(String),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug, Clone)]
struct Device {
    user: String,
    last_used: Instant,
}

#[derive(Debug, Default)]
struct Tables {
    failures: HashMap<Key, Failures>,
    /// Device token hash -> the user it signed in as.
    devices: HashMap<String, Device>,
}

#[derive(Debug)]
pub struct LoginLimiter {
    policy: Policy,
    tables: Mutex<Tables>,
}

/// One attempt under way: give it back to [`LoginLimiter::succeeded`] if it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    keys: Vec<Key>,
    /// A known browser signed in as this user before.
    pub trusted_device: bool,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self::new(Policy::default())
    }
}

impl LoginLimiter {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            tables: Mutex::new(Tables::default()),
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    fn backoff(&self, key: &Key) -> Backoff {
        match key {
            Key::Ip(_) => self.policy.per_address,
            Key::User(_) => self.policy.per_user,
            Key::Device(_) => self.policy.per_device,
        }
    }

    /// Reserves one sign-in attempt from `ip` as `user` (`None`: a name that is not even valid,
    /// counted against the address only), from a browser holding `device` (the hash of its
    /// device token, if any). The check and the count happen under one lock, so parallel
    /// attempts cannot all pass the check before any is recorded. `Err(wait)`: refused,
    /// nothing recorded; try again after `wait`.
    pub fn try_begin(
        &self,
        ip: IpAddr,
        user: Option<&str>,
        device: Option<&str>,
        now: Instant,
    ) -> Result<Attempt, Duration> {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let user = user.map(str::to_ascii_lowercase);
        let trusted = match (device, &user) {
            (Some(d), Some(u)) => tables.devices.get(d).is_some_and(|dev| dev.user == *u),
            _ => false,
        };
        // A known browser answers for itself only; anyone else for the address and the name.
        let keys: Vec<Key> = match (trusted, device, user) {
            (true, Some(d), _) => vec![Key::Device(d.to_owned())],
            (_, _, Some(u)) => vec![Key::Ip(ip), Key::User(u)],
            (_, _, None) => vec![Key::Ip(ip)],
        };
        let forget = self.policy.forget_after;
        let mut wait = Duration::ZERO;
        for key in &keys {
            if let Some(f) = tables.failures.get(key) {
                if now.saturating_duration_since(f.last) >= forget {
                    tables.failures.remove(key);
                    continue;
                }
                let ready_at = f.last + self.backoff(key).delay(f.count);
                wait = wait.max(ready_at.saturating_duration_since(now));
            }
        }
        if !wait.is_zero() {
            return Err(wait);
        }
        if tables.failures.len() >= MAX_TRACKED {
            tables
                .failures
                .retain(|_, f| now.saturating_duration_since(f.last) < forget);
        }
        for key in &keys {
            if tables.failures.len() >= MAX_TRACKED && !tables.failures.contains_key(key) {
                continue;
            }
            let f = tables.failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
            });
            f.count = f.count.saturating_add(1);
            f.last = f.last.max(now);
        }
        Ok(Attempt {
            keys,
            trusted_device: trusted,
        })
    }

    /// The attempt succeeded: it no longer counts against the address, and the name's (or the
    /// browser's) failures are cleared. `new_device`: the hash of a device token just given to
    /// this browser, remembered as known for `user`.
    pub fn succeeded(&self, attempt: &Attempt, user: &str, new_device: Option<&str>, now: Instant) {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        for key in &attempt.keys {
            match key {
                Key::Ip(_) => {
                    if let Some(f) = tables.failures.get_mut(key) {
                        f.count = f.count.saturating_sub(1);
                    }
                }
                Key::User(_) | Key::Device(_) => {
                    tables.failures.remove(key);
                }
            }
        }
        if let Some(hash) = new_device {
            if tables.devices.len() >= MAX_DEVICES
                && let Some(oldest) = tables
                    .devices
                    .iter()
                    .min_by_key(|(_, d)| d.last_used)
                    .map(|(k, _)| k.clone())
            {
                tables.devices.remove(&oldest);
            }
            tables.devices.insert(
                hash.to_owned(),
                Device {
                    user: user.to_ascii_lowercase(),
                    last_used: now,
                },
            );
        }
        for key in &attempt.keys {
            if let Key::Device(hash) = key
                && let Some(d) = tables.devices.get_mut(hash)
            {
                d.last_used = now;
            }
        }
    }

    /// Clears the delay on `user`'s name and on every browser known for it. Returns whether
    /// there was anything to clear.
    pub fn unlock(&self, user: &str) -> bool {
        let user = user.to_ascii_lowercase();
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let mut cleared = tables.failures.remove(&Key::User(user.clone())).is_some();
        let devices: Vec<String> = tables
            .devices
            .iter()
            .filter(|(_, d)| d.user == user)
            .map(|(k, _)| k.clone())
            .collect();
        for hash in devices {
            cleared |= tables.failures.remove(&Key::Device(hash)).is_some();
        }
        cleared
    }

    /// Forgets every device token of `user` (password changed, user removed).
    pub fn forget_devices_of(&self, user: &str) {
        let user = user.to_ascii_lowercase();
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables.devices.retain(|_, d| d.user != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(Policy {
            per_address: Backoff {
                free: 4,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(300),
            },
            per_user: Backoff {
                free: 2,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
            per_device: Backoff {
                free: 2,
                base: Duration::from_secs(1),
                cap: Duration::from_secs(60),
            },
            forget_after: Duration::from_secs(900),
        })
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let b = Policy::default().per_user;
        let waits: Vec<u64> = (0..14).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(waits, [0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn per_user_and_per_address_slow_down() {
        let l = limiter();
        let t = Instant::now();
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(l.try_begin(a, Some("bob"), None, t).is_ok());
        assert!(l.try_begin(b, Some("bob"), None, t).is_ok());
        assert_eq!(
            l.try_begin(a, Some("BOB"), None, t),
            Err(Duration::from_secs(1)),
            "the name's wait, from any address, any case"
        );
        let t1 = t + Duration::from_secs(1);
        assert!(l.try_begin(a, Some("bob"), None, t1).is_ok());
        assert_eq!(
            l.try_begin(a, Some("bob"), None, t1),
            Err(Duration::from_secs(2)),
            "doubled"
        );
        // The address: 4 free (3 used), then waits for any name.
        assert!(
            l.try_begin(a, None, None, t1).is_ok(),
            "invalid names count"
        );
        assert!(l.try_begin(a, Some("carol"), None, t1).is_ok());
        assert!(l.try_begin(a, Some("dave"), None, t1).is_err());
        assert!(l.try_begin(b, Some("carol"), None, t1).is_ok());
        // Quiet for 15 minutes: forgotten.
        let later = t + Duration::from_secs(901);
        assert!(l.try_begin(a, Some("bob"), None, later).is_ok());
    }

    /// Issue 16: five failures locked a named user out for 15 minutes, whoever sent them. Now
    /// a stranger who guesses without end holds the name back at most a minute at a time, and
    /// never the browser the user signed in from before.
    #[test]
    fn a_stranger_never_locks_the_user_out() {
        let l = limiter();
        let t0 = Instant::now();
        let home: IpAddr = "10.1.1.1".parse().unwrap();
        // Vic signs in once from her browser, which gets a device token.
        let first = l.try_begin(home, Some("vic"), None, t0).unwrap();
        assert!(!first.trusted_device);
        l.succeeded(&first, "vic", Some("device-hash-1"), t0);
        // A stranger guesses as fast as allowed for an hour, from many addresses.
        let mut t = t0;
        let mut longest = Duration::ZERO;
        for i in 0..10_000u32 {
            let ip: IpAddr = format!("10.9.{}.{}", (i / 250) % 250, i % 250)
                .parse()
                .unwrap();
            match l.try_begin(ip, Some("vic"), None, t) {
                Ok(_) => {}
                Err(wait) => {
                    longest = longest.max(wait);
                    t += wait;
                }
            }
            if t > t0 + Duration::from_secs(3600) {
                break;
            }
        }
        assert!(longest <= Duration::from_secs(60), "{longest:?}");
        // Meanwhile Vic's browser is never held back.
        let mine = l
            .try_begin(home, Some("vic"), Some("device-hash-1"), t)
            .unwrap();
        assert!(mine.trusted_device);
        // A forged token is no help: it is an unknown browser, on the name's slow path.
        if let Ok(attempt) = l.try_begin(home, Some("vic"), Some("device-hash-2"), t) {
            assert!(!attempt.trusted_device);
        }
        // A known browser's own failures slow it down too.
        let t = t + Duration::from_secs(1);
        assert!(
            l.try_begin(home, Some("vic"), Some("device-hash-1"), t)
                .is_ok()
        );
        assert!(
            l.try_begin(home, Some("vic"), Some("device-hash-1"), t)
                .is_err()
        );
        // The unlock command clears the name and the device.
        assert!(l.unlock("VIC"));
        assert!(
            l.try_begin(home, Some("vic"), Some("device-hash-1"), t)
                .is_ok()
        );
        assert!(
            l.try_begin("10.2.2.2".parse().unwrap(), Some("vic"), None, t)
                .is_ok()
        );
        assert!(!l.unlock("nobody"));
        l.forget_devices_of("vic");
        let after = l
            .try_begin(home, Some("vic"), Some("device-hash-1"), t)
            .unwrap();
        assert!(!after.trusted_device);
    }

    #[test]
    fn a_success_takes_its_attempt_back() {
        let l = limiter();
        let t = Instant::now();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        assert!(l.try_begin(c, Some("gina"), None, t).is_ok());
        let ok = l.try_begin(c, Some("gina"), None, t).unwrap();
        l.succeeded(&ok, "gina", None, t);
        assert!(l.try_begin(c, Some("gina"), None, t).is_ok());
        assert!(l.try_begin(c, Some("gina"), None, t).is_ok());
    }

    /// Many attempts at once: exactly the free ones get through, however they interleave.
    #[test]
    fn parallel_attempts_get_no_more_than_the_free_ones() {
        let limiter = std::sync::Arc::new(LoginLimiter::default());
        let t = Instant::now();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let threads: Vec<_> = (0..32)
            .map(|_| {
                let l = limiter.clone();
                std::thread::spawn(move || l.try_begin(a, Some("vic"), None, t).is_ok())
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
