//! `ward-agent service install|uninstall|start|stop|run`: the agent as a Windows service.
//!
//! The service (`WardAgent`, LocalSystem, automatic start, restart on failure) keeps its state,
//! spool and logs under `%ProgramData%\Ward`, whose ACL allows only SYSTEM and Administrators.
//! On its first start it enrolls with the settings an installer left in `HKLM\SOFTWARE\Ward`
//! (`Server`, `EnrollSecret`, `CA`: the MSI's WARD_SERVER / WARD_ENROLL_SECRET / WARD_CA, or
//! `service install --server ...`), retrying while the collector is unreachable. The secret is
//! moved out of the registry (readable by local users) into the state directory before the first
//! attempt, and deleted from there once enrolled. Then it runs like `ward-agent run`. Logs go to a daily-rotated file
//! in `%ProgramData%\Ward\logs` (14 kept); start, stop, enrollment and fatal errors also go to the
//! Application event log (source `WardAgent`).
//!
//! The parts that decide (what the installer's settings mean) are plain and tested everywhere;
//! the service control calls are `cfg(windows)`.

use std::path::{Path, PathBuf};

/// The service's name in the service control manager and the event log source.
pub const SERVICE_NAME: &str = "WardAgent";
pub const DISPLAY_NAME: &str = "Ward inventory agent";
/// Where the installer leaves the enrollment settings (HKLM).
pub const SETTINGS_KEY: &str = r"SOFTWARE\Ward";

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ServiceCommand {
    /// Register the service (automatic start, restart on failure) and, when given, the
    /// enrollment settings it uses on its first start.
    Install {
        /// Collector URL, e.g. https://ward.example.nhs.uk:8443
        #[arg(long)]
        server: Option<String>,
        /// The site's enrollment secret.
        #[arg(long)]
        enroll_secret: Option<String>,
        /// The collector's CA: a PEM file path, or the PEM text itself (which starts with
        /// "-----BEGIN", so it is taken as a value, not as an option).
        #[arg(long, allow_hyphen_values = true)]
        ca: Option<String>,
    },
    /// Stop and remove the service (state and spool stay).
    Uninstall,
    /// Start the installed service.
    Start,
    /// Stop the running service.
    Stop,
    /// What the service control manager runs; not for people.
    #[command(hide = true)]
    Run,
}

/// Enrollment settings as the installer left them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrap {
    pub server: String,
    pub secret: String,
    pub ca: CaSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    Pem(String),
    File(PathBuf),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootstrapError {
    #[error("{0} is set but {1} is not; set all of Server, EnrollSecret and CA")]
    Incomplete(&'static str, &'static str),
    #[error("Server must be an https:// URL, not {0:?}")]
    NotHttps(String),
}

/// Reads the three settings (`None` = value absent). `Ok(None)` when none is set: nothing to
/// enroll with, the service waits for an enrollment by hand.
pub fn bootstrap(
    server: Option<&str>,
    secret: Option<&str>,
    ca: Option<&str>,
) -> Result<Option<Bootstrap>, BootstrapError> {
    let clean = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (server, secret, ca) = (clean(server), clean(secret), clean(ca));
    match (server, secret, ca) {
        (None, None, None) => Ok(None),
        (Some(server), Some(secret), Some(ca)) => {
            if !server.to_ascii_lowercase().starts_with("https://") {
                return Err(BootstrapError::NotHttps(server));
            }
            let ca = if ca.contains("-----BEGIN") {
                // msiexec and the registry keep newlines; a PEM pasted on one line has spaces.
                CaSource::Pem(pem_lines(&ca))
            } else {
                CaSource::File(PathBuf::from(ca.trim_matches('"')))
            };
            Ok(Some(Bootstrap { server, secret, ca }))
        }
        (server, secret, ca) => {
            let names = [
                ("Server", server.is_some()),
                ("EnrollSecret", secret.is_some()),
                ("CA", ca.is_some()),
            ];
            let set = names.iter().find(|(_, s)| *s).map_or("Server", |(n, _)| *n);
            let unset = names.iter().find(|(_, s)| !*s).map_or("CA", |(n, _)| *n);
            Err(BootstrapError::Incomplete(set, unset))
        }
    }
}

/// Restores a PEM whose line breaks became spaces: header, base64 body in 64-column lines, footer.
pub fn pem_lines(text: &str) -> String {
    if text.contains('\n') {
        return text.replace("\r\n", "\n");
    }
    let mut out = String::new();
    let mut rest = text.trim();
    while let Some(begin) = rest.find("-----BEGIN ") {
        let Some(header_end) = rest[begin + 11..].find("-----").map(|i| begin + 11 + i + 5) else {
            break;
        };
        let Some(end) = rest[header_end..].find("-----END ") else {
            break;
        };
        let end = header_end + end;
        let Some(footer_end) = rest[end + 9..].find("-----").map(|i| end + 9 + i + 5) else {
            break;
        };
        out.push_str(&rest[begin..header_end]);
        out.push('\n');
        let body: String = rest[header_end..end].split_whitespace().collect();
        for chunk in body.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&rest[end..footer_end]);
        out.push('\n');
        rest = &rest[footer_end..];
    }
    out
}

/// `%ProgramData%\Ward`, the service's state directory.
pub fn default_state_dir() -> PathBuf {
    let base = std::env::var_os("ProgramData").unwrap_or_else(|| "C:\\ProgramData".into());
    Path::new(&base).join("Ward")
}

#[cfg(windows)]
pub use native::{command, run_as_service};

#[cfg(windows)]
mod native;

/// Anywhere but Windows there is no service manager to talk to.
#[cfg(not(windows))]
pub fn command(_: ServiceCommand) -> anyhow::Result<()> {
    anyhow::bail!(
        "`ward-agent service` manages the Windows service; on Linux use the systemd units in deploy/systemd"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installer_settings() {
        assert_eq!(bootstrap(None, Some(" "), None), Ok(None));
        let b = bootstrap(
            Some("https://ward.trust.nhs.uk:8443"),
            Some("s3cret"),
            Some(r#""\\fs01\it\ward\ca.pem""#),
        )
        .expect("valid")
        .expect("set");
        assert_eq!(
            b.ca,
            CaSource::File(PathBuf::from(r"\\fs01\it\ward\ca.pem"))
        );
        assert_eq!(b.secret, "s3cret");
        assert_eq!(
            bootstrap(Some("https://x"), None, Some("ca.pem")),
            Err(BootstrapError::Incomplete("Server", "EnrollSecret"))
        );
        assert_eq!(
            bootstrap(Some("http://x"), Some("s"), Some("ca.pem")),
            Err(BootstrapError::NotHttps("http://x".into()))
        );
    }

    #[test]
    fn pem_on_one_line_gets_its_lines_back() {
        let body = "A".repeat(70);
        let one_line = format!("-----BEGIN CERTIFICATE----- {body} -----END CERTIFICATE-----");
        let b = bootstrap(Some("https://x"), Some("s"), Some(&one_line))
            .expect("valid")
            .expect("set");
        let CaSource::Pem(pem) = b.ca else {
            panic!("expected PEM")
        };
        assert_eq!(
            pem,
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n{}\n-----END CERTIFICATE-----\n",
                &body[..64],
                &body[64..]
            )
        );
        let multi = "-----BEGIN CERTIFICATE-----\r\nAAAA\r\n-----END CERTIFICATE-----\r\n";
        assert_eq!(
            pem_lines(multi),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn install_takes_the_ca_as_pem_text() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(subcommand)]
            service: ServiceCommand,
        }
        let pem = "-----BEGIN CERTIFICATE----- MIIB -----END CERTIFICATE-----";
        let cli = Cli::try_parse_from([
            "service",
            "install",
            "--server",
            "https://x",
            "--enroll-secret",
            "s",
            "--ca",
            pem,
        ])
        .expect("parses");
        let ServiceCommand::Install { ca, .. } = cli.service else {
            panic!("install")
        };
        assert_eq!(ca.as_deref(), Some(pem));
    }

    #[test]
    fn state_dir_is_under_program_data() {
        assert!(default_state_dir().ends_with("Ward"));
    }
}
