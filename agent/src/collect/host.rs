//! Host naming from local files only: the kernel hostname, `/etc/hosts` and `/etc/resolv.conf`.
//! No DNS query is ever made (a lookup can hang for the resolver's full timeout on a broken network).

/// The DNS domain configured in resolv.conf: `domain`, else the first `search` entry.
pub fn resolv_domain(text: &str) -> Option<String> {
    let mut domain = None;
    let mut search = None;
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("domain") => domain = words.next().map(str::to_owned),
            Some("search") => search = words.next().map(str::to_owned),
            _ => {}
        }
    }
    domain.or(search).and_then(|d| clean_domain(&d))
}

/// The canonical name `/etc/hosts` gives `hostname` (the first name on a line listing it), if that
/// is a dotted name starting with `hostname.`. This is what `hostname -f` finds without DNS.
pub fn hosts_fqdn(text: &str, hostname: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.split('#').next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let _address = words.next()?;
        let names: Vec<&str> = words.collect();
        let canonical = *names.first()?;
        let lists_host = names.iter().any(|n| n.eq_ignore_ascii_case(hostname));
        let prefix = format!("{}.", hostname.to_ascii_lowercase());
        (lists_host && canonical.to_ascii_lowercase().starts_with(&prefix))
            .then(|| canonical.to_ascii_lowercase())
    })
}

/// `(fqdn, domain)` for a short or dotted kernel hostname.
pub fn fqdn_and_domain(
    hostname: &str,
    hosts: Option<&str>,
    resolv: Option<&str>,
) -> (Option<String>, Option<String>) {
    let hostname = hostname.trim().trim_end_matches('.').to_ascii_lowercase();
    if hostname.is_empty() || hostname == "localhost" {
        return (None, None);
    }
    if let Some((_, domain)) = hostname.split_once('.') {
        return (Some(hostname.clone()), clean_domain(domain));
    }
    if let Some(fqdn) = hosts.and_then(|h| hosts_fqdn(h, &hostname)) {
        let domain = fqdn.split_once('.').and_then(|(_, d)| clean_domain(d));
        return (Some(fqdn), domain);
    }
    match resolv.and_then(resolv_domain) {
        Some(domain) => (Some(format!("{hostname}.{domain}")), Some(domain)),
        None => (None, None),
    }
}

fn clean_domain(domain: &str) -> Option<String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty() && d != "localdomain" && d != "(none)").then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_hostname_is_its_own_fqdn() {
        assert_eq!(
            fqdn_and_domain("PC-0042.Trust.nhs.uk", None, None),
            (
                Some("pc-0042.trust.nhs.uk".into()),
                Some("trust.nhs.uk".into())
            )
        );
    }

    #[test]
    fn etc_hosts_gives_the_canonical_name() {
        let hosts = "127.0.0.1 localhost\n\
                     127.0.1.1 pc-0042.ward.example.nhs.uk pc-0042 # set by installer\n\
                     ::1 localhost ip6-localhost\n";
        assert_eq!(
            fqdn_and_domain("pc-0042", Some(hosts), Some("search other.example\n")),
            (
                Some("pc-0042.ward.example.nhs.uk".into()),
                Some("ward.example.nhs.uk".into())
            )
        );
    }

    #[test]
    fn resolv_conf_domain_then_search() {
        assert_eq!(
            resolv_domain("nameserver 10.0.0.1\nsearch a.example b.example\n").as_deref(),
            Some("a.example")
        );
        assert_eq!(
            resolv_domain("search a.example\ndomain d.example\n").as_deref(),
            Some("d.example")
        );
        assert_eq!(resolv_domain("search .\n"), None);
        assert_eq!(
            fqdn_and_domain(
                "pc-7",
                Some("127.0.0.1 localhost\n"),
                Some("domain corp.example\n")
            ),
            (
                Some("pc-7.corp.example".into()),
                Some("corp.example".into())
            )
        );
    }

    #[test]
    fn nothing_known_means_none() {
        assert_eq!(
            fqdn_and_domain("vm", Some("127.0.0.1 vm\n"), Some("nameserver 1.1.1.1\n")),
            (None, None)
        );
        assert_eq!(fqdn_and_domain("localhost", None, None), (None, None));
    }
}
