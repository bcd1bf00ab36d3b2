//! `ward-collector init`: a data directory with its own small PKI, secrets and a config file.
//! Nothing that exists is overwritten.
//!
//! Layout:
//! ```text
//! DIR/tls/ca.pem          CA certificate (give this to agents: `ward-agent enroll --ca`)
//! DIR/tls/ca-key.pem      CA key, 0600 (absent when the trust brings its own PKI)
//! DIR/tls/server.pem      server certificate chain
//! DIR/tls/server-key.pem  server key, 0600
//! DIR/enroll-secret       shared enrollment secret, 0600
//! DIR/admin-token         admin API token, 0600
//! DIR/ward-collector.toml commented configuration
//! DIR/store/              the embedded store (created by `serve`)
//! ```

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

use crate::config::{CONFIG_FILE, Config};
use crate::secrets::{new_secret, write_new_private};

pub const CA_FILE: &str = "tls/ca.pem";
pub const CA_KEY_FILE: &str = "tls/ca-key.pem";
pub const CERT_FILE: &str = "tls/server.pem";
pub const KEY_FILE: &str = "tls/server-key.pem";
pub const ENROLL_SECRET_FILE: &str = "enroll-secret";
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// A certificate and key from the trust's own PKI, used instead of generating a CA.
#[derive(Debug, Clone)]
pub struct ExistingTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA that signed `cert`, handed to agents.
    pub ca: PathBuf,
}

#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Extra subject alternative names (DNS names or IP addresses) for the server certificate.
    pub sans: Vec<String>,
    pub existing: Option<ExistingTls>,
}

/// What `init` did, file by file.
#[derive(Debug, Default)]
pub struct InitReport {
    pub created: Vec<PathBuf>,
    pub kept: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Cert(#[from] rcgen::Error),
    #[error("{0}")]
    Tls(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> InitError + '_ {
    move |source| InitError::Io {
        path: path.to_owned(),
        source,
    }
}

/// This machine's host name, for the certificate's SANs.
pub fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn create_dir_private(path: &Path) -> Result<(), InitError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path).map_err(io(path))
}

pub fn init(data_dir: &Path, options: &InitOptions) -> Result<InitReport, InitError> {
    let mut report = InitReport::default();
    create_dir_private(&data_dir.join("tls"))?;

    let cert_path = data_dir.join(CERT_FILE);
    let ca_path = data_dir.join(CA_FILE);
    if cert_path.exists() {
        report.kept.push(cert_path.clone());
    } else if let Some(existing) = &options.existing {
        import_existing(data_dir, existing, &mut report)?;
    } else {
        generate_pki(data_dir, &options.sans, &mut report)?;
    }
    if !ca_path.exists() {
        return Err(InitError::Tls(format!(
            "{} is missing: agents need the CA certificate that signed {}",
            ca_path.display(),
            cert_path.display()
        )));
    }

    for (name, contents) in [
        (ENROLL_SECRET_FILE, format!("{}\n", new_secret())),
        (ADMIN_TOKEN_FILE, format!("{}\n", new_secret())),
        (CONFIG_FILE, Config::commented_default()),
    ] {
        let path = data_dir.join(name);
        match write_new_private(&path, contents.as_bytes()) {
            Ok(()) => report.created.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => report.kept.push(path),
            Err(source) => return Err(InitError::Io { path, source }),
        }
    }
    Ok(report)
}

fn generate_pki(
    data_dir: &Path,
    extra_sans: &[String],
    report: &mut InitReport,
) -> Result<(), InitError> {
    let ca_path = data_dir.join(CA_FILE);
    let ca_key_path = data_dir.join(CA_KEY_FILE);
    // Reuse a CA that exists (so enrolled agents keep trusting a re-issued server certificate).
    let (ca_cert, ca_key) = if ca_path.exists() && ca_key_path.exists() {
        let key_pem = std::fs::read_to_string(&ca_key_path).map_err(io(&ca_key_path))?;
        let cert_pem = std::fs::read_to_string(&ca_path).map_err(io(&ca_path))?;
        let key = KeyPair::from_pem(&key_pem)?;
        let params = CertificateParams::from_ca_cert_pem(&cert_pem)?;
        report.kept.push(ca_path.clone());
        (params.self_signed(&key)?, key)
    } else {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "Ward collector CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        let cert = params.self_signed(&key)?;
        write_new_private(&ca_key_path, key.serialize_pem().as_bytes())
            .map_err(io(&ca_key_path))?;
        write_new_private(&ca_path, cert.pem().as_bytes()).map_err(io(&ca_path))?;
        report.created.push(ca_path.clone());
        report.created.push(ca_key_path.clone());
        (cert, key)
    };

    let mut sans = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    sans.extend(host_name());
    sans.extend(extra_sans.iter().cloned());
    sans.dedup();
    let mut params = CertificateParams::new(sans)?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        host_name().unwrap_or_else(|| "ward-collector".into()),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    let key_path = data_dir.join(KEY_FILE);
    let cert_path = data_dir.join(CERT_FILE);
    write_new_private(&key_path, key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
    write_new_private(&cert_path, cert.pem().as_bytes()).map_err(io(&cert_path))?;
    report.created.push(cert_path);
    report.created.push(key_path);
    Ok(())
}

/// What `cert renew` wrote.
#[derive(Debug)]
pub struct RenewReport {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The new certificate's serial number, hex.
    pub serial: String,
    pub not_after: String,
}

/// Issues a new server certificate and key from the data directory's own CA, valid from
/// yesterday (clock skew) for `days` days, with the names of the certificate it replaces (or
/// the defaults). Both files are written next to the old ones and renamed over them, so a
/// reader sees the old pair or the new one, never half a file. A running collector picks them
/// up on SIGHUP.
pub fn renew(data_dir: &Path, days: u32) -> Result<RenewReport, InitError> {
    let ca_path = data_dir.join(CA_FILE);
    let ca_key_path = data_dir.join(CA_KEY_FILE);
    if !ca_key_path.exists() {
        return Err(InitError::Tls(format!(
            "{} is missing: this data directory uses a certificate from your own PKI; \
             renew it there and replace the files",
            ca_key_path.display()
        )));
    }
    if days == 0 {
        return Err(InitError::Tls("--days must be at least 1".into()));
    }
    let config = Config::load_layered(&data_dir.join(CONFIG_FILE), false, std::iter::empty(), &[])
        .map_err(|e| InitError::Tls(format!("{e:#}")))?
        .config;
    let under = |p: &PathBuf| {
        if p.is_absolute() {
            p.clone()
        } else {
            data_dir.join(p)
        }
    };
    let (cert_path, key_path) = (under(&config.tls_cert), under(&config.tls_key));
    let key_pem = std::fs::read_to_string(&ca_key_path).map_err(io(&ca_key_path))?;
    let ca_pem = std::fs::read_to_string(&ca_path).map_err(io(&ca_path))?;
    let ca_key = KeyPair::from_pem(&key_pem)?;
    let ca_cert = CertificateParams::from_ca_cert_pem(&ca_pem)?.self_signed(&ca_key)?;

    // Keep the names (SANs, common name) of the certificate being replaced.
    let old = std::fs::read_to_string(&cert_path)
        .ok()
        .and_then(|pem| CertificateParams::from_ca_cert_pem(&pem).ok());
    let mut params = match old {
        Some(old) if !old.subject_alt_names.is_empty() => {
            let mut p = CertificateParams::default();
            p.subject_alt_names = old.subject_alt_names;
            p.distinguished_name = old.distinguished_name;
            p
        }
        _ => {
            let mut sans = vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            sans.extend(host_name());
            let mut p = CertificateParams::new(sans)?;
            p.distinguished_name = DistinguishedName::new();
            p.distinguished_name.push(
                DnType::CommonName,
                host_name().unwrap_or_else(|| "ward-collector".into()),
            );
            p
        }
    };
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
    serial[0] &= 0x7f; // positive
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let ymd = |d: chrono::NaiveDate| {
        use chrono::Datelike;
        rcgen::date_time_ymd(d.year(), d.month() as u8, d.day() as u8)
    };
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(1);
    let until = today + chrono::Days::new(u64::from(days));
    params.not_before = ymd(from);
    params.not_after = ymd(until);
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca_cert, &ca_key)?;
    // Refuse to write a pair that would not load.
    crate::tls::certified_key_from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .map_err(|e| InitError::Tls(e.to_string()))?;
    let key_tmp = key_path.with_extension("pem.new");
    let cert_tmp = cert_path.with_extension("pem.new");
    for tmp in [&key_tmp, &cert_tmp] {
        match std::fs::remove_file(tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(tmp)(e)),
            _ => {}
        }
    }
    write_new_private(&key_tmp, key.serialize_pem().as_bytes()).map_err(io(&key_tmp))?;
    write_new_private(&cert_tmp, cert.pem().as_bytes()).map_err(io(&cert_tmp))?;
    std::fs::rename(&key_tmp, &key_path).map_err(io(&key_path))?;
    std::fs::rename(&cert_tmp, &cert_path).map_err(io(&cert_path))?;
    Ok(RenewReport {
        cert: cert_path,
        key: key_path,
        serial: hex::encode(serial),
        not_after: until.to_string(),
    })
}

fn import_existing(
    data_dir: &Path,
    existing: &ExistingTls,
    report: &mut InitReport,
) -> Result<(), InitError> {
    let read = |p: &Path| std::fs::read(p).map_err(io(p));
    let cert = read(&existing.cert)?;
    let key = read(&existing.key)?;
    let ca = read(&existing.ca)?;
    // Refuse a pair that does not load, before writing anything.
    crate::tls::server_config_from_pem(&cert, &key).map_err(|e| InitError::Tls(e.to_string()))?;
    crate::tls::parse_certs(&ca)
        .map_err(|e| InitError::Tls(format!("{}: {e}", existing.ca.display())))?;
    for (name, bytes) in [(CA_FILE, &ca), (KEY_FILE, &key), (CERT_FILE, &cert)] {
        let path = data_dir.join(name);
        match write_new_private(&path, bytes) {
            Ok(()) => report.created.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => report.kept.push(path),
            Err(source) => return Err(InitError::Io { path, source }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(paths: &[PathBuf], root: &Path) -> Vec<String> {
        let mut names: Vec<String> = paths
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_everything_once_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let first = init(
            root,
            &InitOptions {
                sans: vec!["ward.trust.example".into()],
                existing: None,
            },
        )
        .unwrap();
        assert_eq!(
            names(&first.created, root),
            vec![
                "admin-token",
                "enroll-secret",
                "tls/ca-key.pem",
                "tls/ca.pem",
                "tls/server-key.pem",
                "tls/server.pem",
                "ward-collector.toml"
            ]
        );
        let before: Vec<Vec<u8>> = first
            .created
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        let second = init(root, &InitOptions::default()).unwrap();
        assert!(second.created.is_empty(), "{:?}", second.created);
        let after: Vec<Vec<u8>> = first
            .created
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert_eq!(before, after, "init overwrote something");

        // The server certificate loads into rustls and names the SANs asked for.
        let cert = std::fs::read(root.join(CERT_FILE)).unwrap();
        let key = std::fs::read(root.join(KEY_FILE)).unwrap();
        crate::tls::server_config_from_pem(&cert, &key).unwrap();
        let der = crate::tls::parse_certs(&cert).unwrap();
        let der = der[0].as_ref();
        for name in ["localhost", "ward.trust.example"] {
            assert!(
                der.windows(name.len()).any(|w| w == name.as_bytes()),
                "SAN {name} missing"
            );
        }
        assert!(
            der.windows(4).any(|w| w == [127, 0, 0, 1]),
            "SAN 127.0.0.1 missing"
        );
    }

    #[test]
    fn reissues_the_server_certificate_from_the_existing_ca() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        init(root, &InitOptions::default()).unwrap();
        let ca = std::fs::read(root.join(CA_FILE)).unwrap();
        std::fs::remove_file(root.join(CERT_FILE)).unwrap();
        std::fs::remove_file(root.join(KEY_FILE)).unwrap();
        let again = init(
            root,
            &InitOptions {
                sans: vec!["new.example".into()],
                existing: None,
            },
        )
        .unwrap();
        assert_eq!(
            names(&again.created, root),
            vec!["tls/server-key.pem", "tls/server.pem"]
        );
        assert_eq!(
            std::fs::read(root.join(CA_FILE)).unwrap(),
            ca,
            "the CA must not change"
        );
    }

    #[test]
    fn accepts_an_existing_pki_and_refuses_a_mismatched_key() {
        let pki = tempfile::tempdir().unwrap();
        init(pki.path(), &InitOptions::default()).unwrap();
        let existing = ExistingTls {
            cert: pki.path().join(CERT_FILE),
            key: pki.path().join(KEY_FILE),
            ca: pki.path().join(CA_FILE),
        };
        let dir = tempfile::tempdir().unwrap();
        let report = init(
            dir.path(),
            &InitOptions {
                sans: vec![],
                existing: Some(existing.clone()),
            },
        )
        .unwrap();
        assert!(
            !dir.path().join(CA_KEY_FILE).exists(),
            "no CA key when the trust brings its PKI"
        );
        assert_eq!(
            std::fs::read(dir.path().join(CERT_FILE)).unwrap(),
            std::fs::read(&existing.cert).unwrap()
        );
        assert!(
            report
                .created
                .contains(&dir.path().join(ENROLL_SECRET_FILE))
        );

        let wrong = ExistingTls {
            key: pki.path().join(CA_KEY_FILE),
            ..existing
        };
        let dir = tempfile::tempdir().unwrap();
        let err = init(
            dir.path(),
            &InitOptions {
                sans: vec![],
                existing: Some(wrong),
            },
        )
        .unwrap_err();
        assert!(matches!(err, InitError::Tls(_)), "{err}");
        assert!(
            !dir.path().join(CERT_FILE).exists(),
            "nothing written on a refused pair"
        );
    }
}
