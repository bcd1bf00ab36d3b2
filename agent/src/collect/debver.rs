//! Debian version ordering, as dpkg compares versions (deb-version(7), dpkg's `verrevcmp`).
//!
//! A version is `[epoch:]upstream[-revision]`: the epoch compares as a number, then the upstream
//! part, then the revision (after the last `-`; none compares like `0`). Each part is compared by
//! alternating runs: a run of non-digits character by character, where `~` sorts before
//! everything (even the end of the string), then the end, then letters, then everything else in
//! ASCII order; then a run of digits, numerically.
//!
//! Written here rather than taken from the `debversion` crate: that one parses with regexes and
//! big integers, and the agent compares a few hundred thousand versions per collection, so the
//! comparison has to work on the borrowed strings without allocating.

use std::cmp::Ordering;

/// Compares two Debian version strings the way `dpkg --compare-versions` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a_epoch, a_upstream, a_revision) = split(a);
    let (b_epoch, b_upstream, b_revision) = split(b);
    a_epoch
        .cmp(&b_epoch)
        .then_with(|| verrevcmp(a_upstream.as_bytes(), b_upstream.as_bytes()))
        .then_with(|| verrevcmp(a_revision.as_bytes(), b_revision.as_bytes()))
}

/// `(epoch, upstream, revision)`. A missing or unparsable epoch is 0, as in dpkg's lenient parse.
fn split(v: &str) -> (u64, &str, &str) {
    let v = v.trim();
    let (epoch, rest) = match v.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => {
            (e.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, v),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// The sort weight of one character of a non-digit run; `None` (end of the run) weighs 0.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // The digit run: skip leading zeros, then the longer run is larger, else the first
        // differing digit decides.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::{Equal, Greater, Less};

    use super::compare;

    #[track_caller]
    fn check(a: &str, expected: std::cmp::Ordering, b: &str) {
        assert_eq!(compare(a, b), expected, "{a} vs {b}");
        assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
    }

    #[test]
    fn classic_cases() {
        check("1.0~rc1", Less, "1.0");
        check("1.0~rc1", Less, "1.0~rc2");
        check("1.0~~", Less, "1.0~");
        check("1.0~", Less, "1.0");
        check("1:0.9", Greater, "2.0");
        check("0:2.0", Equal, "2.0");
        check("1.0-1", Less, "1.0-1ubuntu1");
        check("2.30-1", Greater, "2.3-1");
        check("2.3-1", Less, "2.3-2");
        check("1.0", Equal, "1.0-0");
        check("1.0", Equal, "1.00");
        check("1.0a", Greater, "1.0");
        check("1.0a", Less, "1.0+");
        check("1.0+", Less, "1.0.");
        check("1.0a", Less, "1.0b");
        check("1.2.3", Less, "1.10");
        check("7.6p2-4", Greater, "7.6-0");
        check("1.0.3-3", Greater, "1.0-1");
        check("1.3", Greater, "1.2.2-2");
        check("1.3", Greater, "1.2.2");
        check("0-pre", Equal, "0-pre");
        check("0-pre", Less, "0-pree");
        check("1.1.6r2-2", Greater, "1.1.6r-1");
        check("2.6b2-1", Greater, "2.6b-2");
        check("98.1p5-1", Less, "98.1-pre2-b6-2");
        check("0.4a6-2", Greater, "0.4-1");
        check("1:3.0.5-2", Less, "1:3.0.5.1");
        check("10.11.1.3-2", Greater, "10.11.1.3-1");
        check("4.4.3-2", Greater, "4.4.3-1ubuntu1~");
        check("3.0.2-0ubuntu1.15", Greater, "3.0.2-0ubuntu1.9");
        check("12.4+deb12u15", Greater, "12.4+deb12u11");
        check("3.0.22-1~deb12u2", Greater, "3.0.19-1~deb12u2");
        check("5.2.15-2+b13", Greater, "5.2.15-2+b8");
        check("1.10.1-3+deb12u1", Greater, "1.10.1-3");
        check("2:1.0", Greater, "1:9.9");
        check("1.0-1~bpo12+1", Less, "1.0-1");
    }
}
