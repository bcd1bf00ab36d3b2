//! Host firewall state: ufw's config, firewalld's state, and the kernel's nftables/iptables rules.
//!
//! "Enabled" means inbound traffic is filtered: an input hook chain that drops by default or holds
//! at least one rule. A ruleset with only NAT/forward chains (Docker's) does not count.

/// `/etc/ufw/ufw.conf`: `ENABLED=yes` (ufw's own on/off switch).
pub fn ufw_enabled(conf: &str) -> Option<bool> {
    conf.lines().find_map(|line| {
        let line = line.trim();
        let (k, v) = line.split_once('=')?;
        (k.trim() == "ENABLED").then(|| {
            v.trim()
                .trim_matches(['"', '\''])
                .eq_ignore_ascii_case("yes")
        })
    })
}

/// `firewall-cmd --state` prints `running` or `not running`.
pub fn firewalld_running(stdout: &str) -> Option<bool> {
    match stdout.trim() {
        "running" => Some(true),
        "not running" => Some(false),
        _ => None,
    }
}

/// `nft list ruleset`: is there a `type filter hook input` base chain with a drop/reject policy or
/// any rule?
pub fn nft_filters_input(ruleset: &str) -> bool {
    let mut in_chain = false;
    let (mut input_hook, mut drops, mut has_rules) = (false, false, false);
    for line in ruleset.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        if !in_chain {
            if line.starts_with("chain ") && line.ends_with('{') {
                in_chain = true;
                (input_hook, drops, has_rules) = (false, false, false);
            }
        } else if line == "}" {
            if input_hook && (drops || has_rules) {
                return true;
            }
            in_chain = false;
        } else if line.starts_with("type ") {
            input_hook = line.starts_with("type filter") && line.contains("hook input");
            drops = line.contains("policy drop");
        } else if line.starts_with("policy ") {
            drops = line.starts_with("policy drop");
        } else if !line.starts_with("comment ") {
            has_rules = true;
        }
    }
    false
}

/// `iptables -S`: `-P INPUT DROP` or any `-A INPUT` rule.
pub fn iptables_filters_input(rules: &str) -> bool {
    rules.lines().any(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        matches!(
            words.as_slice(),
            ["-P", "INPUT", "DROP" | "REJECT", ..] | ["-A", "INPUT", ..]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ufw_conf() {
        let conf = "# /etc/ufw/ufw.conf\n#\n\n# Set to yes to start on boot.\nENABLED=yes\n\nLOGLEVEL=low\n";
        assert_eq!(ufw_enabled(conf), Some(true));
        assert_eq!(ufw_enabled("ENABLED=no\n"), Some(false));
        assert_eq!(ufw_enabled("LOGLEVEL=low\n"), None);
    }

    #[test]
    fn firewalld_state() {
        assert_eq!(firewalld_running("running\n"), Some(true));
        assert_eq!(firewalld_running("not running\n"), Some(false));
        assert_eq!(firewalld_running(""), None);
    }

    #[test]
    fn nft_host_firewall() {
        assert!(nft_filters_input(include_str!(
            "testdata/nft-ruleset-filter.txt"
        )));
    }

    #[test]
    fn nft_docker_only_is_not_a_firewall() {
        assert!(!nft_filters_input(include_str!(
            "testdata/nft-ruleset-docker.txt"
        )));
        assert!(!nft_filters_input(""));
    }

    #[test]
    fn iptables_rules() {
        assert!(iptables_filters_input(include_str!(
            "testdata/iptables-S.txt"
        )));
        let open =
            "-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-N DOCKER\n-A FORWARD -j DOCKER\n";
        assert!(!iptables_filters_input(open));
        assert!(iptables_filters_input("-P INPUT DROP\n"));
    }
}
