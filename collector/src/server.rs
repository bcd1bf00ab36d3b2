//! Putting the pieces together: a data directory becomes a running HTTPS collector.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use ward_shared::Limits;

use crate::api::{self, AppState, RateLimiter, ingest::BodyLimits};
use crate::config::Config;
use crate::init::{ADMIN_TOKEN_FILE, ENROLL_SECRET_FILE};
use crate::secrets;
use crate::store::Store;
use crate::store::sled_store::SledStore;

pub const STORE_DIR: &str = "store";

/// The file in the data directory where a running `serve` writes the address it listens on
/// (`https://127.0.0.1:28443`), so the CLI finds it; removed when it stops cleanly.
pub const LISTENING_FILE: &str = "listening";

/// Writes [`LISTENING_FILE`] for `addr` (an unspecified address is reached on loopback).
fn write_listening(data_dir: &Path, addr: SocketAddr) -> std::io::Result<PathBuf> {
    let mut reach = addr;
    if reach.ip().is_unspecified() {
        reach.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let path = data_dir.join(LISTENING_FILE);
    let tmp = data_dir.join(format!("{LISTENING_FILE}.tmp"));
    std::fs::write(&tmp, format!("https://{reach}\n"))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The address a running `serve` wrote into `data_dir`, if one did.
pub fn listening(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(LISTENING_FILE)).ok()?;
    let url = text.trim();
    url.starts_with("https://").then(|| url.to_owned())
}

/// A collector bound to its address, ready to serve.
pub struct Server {
    pub listener: TcpListener,
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    /// The estate read model the API and the pages read.
    pub estate: Arc<crate::estate::Estate>,
    tls: rustls::ServerConfig,
    /// The server certificate in use, reloaded from its files on SIGHUP.
    pub cert: Arc<crate::tls::ReloadableCert>,
    reload: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    app: axum::Router,
    /// The plain-HTTP metrics listener (`metrics_listen`) and its router.
    metrics: Option<(TcpListener, axum::Router)>,
    /// The watched import folder, if one is configured.
    drop_folder: Option<crate::intake::DropFolder>,
    /// [`LISTENING_FILE`], removed on a clean stop.
    listening_file: Option<PathBuf>,
    /// Connections per address, body rate, request deadline, write stall.
    edge: crate::edge::EdgeLimits,
}

impl Server {
    /// Loads configuration, secrets and TLS material from `data_dir`, opens the store and binds.
    pub async fn bind(data_dir: &Path, listen: Option<SocketAddr>) -> anyhow::Result<Self> {
        Self::bind_with(data_dir, listen, &[]).await
    }

    /// [`Server::bind`] with `--set KEY=VALUE` overrides (over the file and the environment).
    pub async fn bind_with(
        data_dir: &Path,
        listen: Option<SocketAddr>,
        sets: &[String],
    ) -> anyhow::Result<Self> {
        let loaded = Config::load_layered(
            &data_dir.join(crate::config::CONFIG_FILE),
            false,
            std::env::vars(),
            sets,
        )?;
        if !loaded.env_applied.is_empty() {
            tracing::info!(variables = ?loaded.env_applied, "configuration overridden from the environment");
        }
        let config = loaded.config;
        let read = |name: &str| -> anyhow::Result<String> {
            let path = data_dir.join(name);
            secrets::read_secret(&path).with_context(|| {
                format!(
                    "cannot read {} (run `ward-collector init --data {}` first)",
                    path.display(),
                    data_dir.display()
                )
            })
        };
        let enroll_secret = read(ENROLL_SECRET_FILE)?;
        let admin_token = read(ADMIN_TOKEN_FILE)?;
        let under = |p: &PathBuf| {
            if p.is_absolute() {
                p.clone()
            } else {
                data_dir.join(p)
            }
        };
        let (cert_path, key_path) = (under(&config.tls_cert), under(&config.tls_key));
        let cert = Arc::new(
            crate::tls::ReloadableCert::load(&cert_path, &key_path)
                .with_context(|| format!("{} / {}", cert_path.display(), key_path.display()))?,
        );
        let tls = crate::tls::server_config(cert.clone())?;
        let reload = crate::tls::reload_on_sighup(cert.clone());

        let store_path = data_dir.join(STORE_DIR);
        let store: Arc<dyn Store> = Arc::new(
            SledStore::open(&store_path, config.retention())
                .with_context(|| format!("cannot open the store at {}", store_path.display()))?,
        );
        let state = Arc::new(AppState {
            store: store.clone(),
            enroll_secret_hash: secrets::hash(&enroll_secret),
            admin_token_hash: secrets::hash(&admin_token),
            limits: BodyLimits {
                max_body: config.max_body_bytes,
                max_inflated: config.max_inflated_bytes,
                report: Limits::V1,
            },
            enroll_limiter: RateLimiter::per_minute(config.enroll_per_minute),
            estate: crate::estate::Estate::start(
                store.clone(),
                crate::estate::RiskContext {
                    catalog: crate::estate::load_catalog(data_dir)?,
                    weights: config.weights.clone(),
                    unit_costs: config.costs.clone(),
                    liveness: config.liveness.clone(),
                },
                crate::estate::system_clock(),
            ),
            data_dir: Some(data_dir.to_path_buf()),
            web: crate::web::WebState::default(),
        });
        let metrics = match config.metrics_listen {
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?;
                tracing::info!(addr = %listener.local_addr()?, "serving GET /metrics over plain HTTP");
                Some((listener, api::ops::metrics_router(state.clone())))
            }
            None => None,
        };
        let addr = listen.unwrap_or(config.listen);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let listening_file = match write_listening(data_dir, addr) {
            Ok(path) => Some(path),
            Err(e) => {
                tracing::warn!(error = %e, "cannot record the listening address in the data directory");
                None
            }
        };
        let mut server = Self {
            listener,
            addr,
            store,
            tls,
            cert,
            reload,
            estate: state.estate.clone(),
            app: api::app(state),
            metrics,
            drop_folder: None,
            listening_file,
            edge: config.edge(),
        };
        if !config.import_drop_dir.as_os_str().is_empty() {
            server.watch_drop_folder(
                &under(&config.import_drop_dir),
                std::time::Duration::from_secs(config.import_poll_secs),
            )?;
        }
        Ok(server)
    }

    /// Watches `dir` for import files while serving (replaces the configured drop folder).
    pub fn watch_drop_folder(
        &mut self,
        dir: &Path,
        poll: std::time::Duration,
    ) -> anyhow::Result<()> {
        let folder = crate::intake::DropFolder::new(dir.to_path_buf(), poll)
            .with_context(|| format!("cannot use {} as the drop folder", dir.display()))?;
        self.drop_folder = Some(folder);
        Ok(())
    }

    /// Serves until `shutdown` completes, then drains in-flight requests and flushes the store.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let stop_metrics = std::sync::Arc::new(tokio::sync::Notify::new());
        let metrics = self.metrics.map(|(listener, router)| {
            let stop = stop_metrics.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(async move { stop.notified().await })
                    .await;
                if let Err(e) = served {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let (stop_watch, stopped) = tokio::sync::oneshot::channel::<()>();
        let watcher = self.drop_folder.map(|folder| {
            let store = self.store.clone();
            let estate = self.estate.clone();
            tokio::spawn(
                folder.run(store, move || estate.imports_stored(), async move {
                    let _ = stopped.await;
                }),
            )
        });
        let reload = tokio::spawn(self.reload);
        let served =
            crate::tls::serve(self.listener, self.tls, self.app, self.edge, shutdown).await;
        reload.abort();
        stop_metrics.notify_one();
        if let Some(task) = metrics {
            let _ = task.await;
        }
        // The watcher finishes the file it is on (imports are atomic either way).
        let _ = stop_watch.send(());
        if let Some(watcher) = watcher {
            let _ = watcher.await;
        }
        served?;
        let estate = self.estate.clone();
        tokio::task::spawn_blocking(move || estate.stop()).await?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.flush()).await??;
        if let Some(path) = &self.listening_file {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("store flushed; stopped");
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}
