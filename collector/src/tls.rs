//! HTTPS serving: rustls (TLS 1.2 and 1.3 only, ring provider) in front of the axum router,
//! with a handshake timeout, a header read timeout, the edge limits of [`crate::edge`] (connections
//! per address, body minimum rate, request deadline, write stall) and graceful shutdown. The server
//! certificate comes from a [`ReloadableCert`], so a renewed certificate is picked up on SIGHUP
//! without a restart.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::edge::{self, ConnectionCap, EdgeLimits, StallIo};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests get to finish after shutdown starts.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no certificate found in PEM")]
    NoCertificate,
    #[error("no private key found in PEM")]
    NoKey,
    #[error("PEM: {0}")]
    Pem(#[from] std::io::Error),
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut &pem[..]).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// A certificate chain and its private key, checked to belong together.
pub fn certified_key_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, TlsError> {
    let certs = parse_certs(cert_pem)?;
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut &key_pem[..])?.ok_or(TlsError::NoKey)?;
    // Parses the key and refuses one that does not match the certificate's public key.
    Ok(CertifiedKey::from_der(certs, key, &provider())?)
}

pub fn server_config_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<ServerConfig, TlsError> {
    let key = certified_key_from_pem(cert_pem, key_pem)?;
    server_config(Arc::new(ReloadableCert::fixed(key)))
}

/// The server configuration: TLS 1.3 and 1.2, HTTP/1.1, certificate from `resolver`.
pub fn server_config(resolver: Arc<ReloadableCert>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The server certificate, swappable while serving: every handshake takes the current one;
/// [`ReloadableCert::reload`] replaces it only when the new files parse and the key matches.
#[derive(Debug)]
pub struct ReloadableCert {
    current: RwLock<Arc<CertifiedKey>>,
    /// Where `reload` reads from (none for a fixed certificate).
    files: Option<(PathBuf, PathBuf)>,
}

impl ReloadableCert {
    /// Loads the certificate chain and key from these PEM files.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Self, TlsError> {
        let key = Self::read(cert_path, key_path)?;
        Ok(Self {
            current: RwLock::new(Arc::new(key)),
            files: Some((cert_path.to_owned(), key_path.to_owned())),
        })
    }

    fn fixed(key: CertifiedKey) -> Self {
        Self {
            current: RwLock::new(Arc::new(key)),
            files: None,
        }
    }

    fn read(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        certified_key_from_pem(&read(cert_path)?, &read(key_path)?)
    }

    /// Re-reads the files. On any error the certificate in use stays and the error is returned.
    pub fn reload(&self) -> Result<(), TlsError> {
        let Some((cert_path, key_path)) = &self.files else {
            return Ok(());
        };
        let key = Arc::new(Self::read(cert_path, key_path)?);
        // A poisoned lock only means a writer panicked between two whole values; keep going.
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = key;
        Ok(())
    }

    /// The certificate chain in use, leaf first.
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Reloads `cert` on every SIGHUP, logging the outcome; the future never completes. A refused
/// certificate leaves the old one serving. The signal handler is installed before this returns,
/// so a SIGHUP that arrives any time after no longer terminates the process.
pub fn reload_on_sighup(
    cert: Arc<ReloadableCert>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    #[cfg(unix)]
    {
        let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP; certificate reload disabled");
                return Box::pin(std::future::pending());
            }
        };
        Box::pin(async move {
            while hup.recv().await.is_some() {
                let c = cert.clone();
                match tokio::task::spawn_blocking(move || c.reload()).await {
                    Ok(Ok(())) => tracing::info!(
                        serial = %serial_hex(&cert.current()),
                        "SIGHUP: server certificate reloaded"
                    ),
                    Ok(Err(e)) => tracing::error!(
                        error = %e,
                        "SIGHUP: new server certificate refused; the previous one keeps serving"
                    ),
                    Err(e) => tracing::error!(error = %e, "SIGHUP: certificate reload failed"),
                }
            }
            std::future::pending().await
        })
    }
    #[cfg(not(unix))]
    {
        let _ = cert;
        Box::pin(std::future::pending())
    }
}

/// The leaf certificate's serial number in hex, for logs.
fn serial_hex(key: &CertifiedKey) -> String {
    key.end_entity_cert()
        .ok()
        .and_then(|der| rcgen::CertificateParams::from_ca_cert_der(der).ok())
        .and_then(|p| p.serial_number)
        .map(|s| hex::encode(s.to_bytes()))
        .unwrap_or_default()
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish (up to a bound) and returns. `limits` bound what each client may
/// hold (see [`crate::edge`]).
pub async fn serve(
    listener: TcpListener,
    tls: ServerConfig,
    app: Router,
    limits: EdgeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let cap = ConnectionCap::new(limits.max_connections_per_address);
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: log, back off briefly, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Over the cap: closed at once, before any TLS work.
        let Some(slot) = cap.admit(peer.ip()) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    let arrived = tokio::time::Instant::now();
                    req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                    let (req, progress) = edge::limit_body(req.map(axum::body::Body::new), limits);
                    let app = app.clone();
                    async move {
                        let handler =
                            async move { app.oneshot(req).await.unwrap_or_else(|e| match e {}) };
                        Ok::<_, Infallible>(
                            edge::with_deadline(handler, limits, progress, arrived).await,
                        )
                    }
                },
            );
            let io = StallIo::new(tls, limits.write_stall_timeout);
            let conn = http.serve_connection(TokioIo::new(io), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: waiting for in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("in-flight requests did not finish in time"),
    }
    Ok(())
}
