//! `ward-collector backup` and `ward-collector restore`.
//!
//! `backup` writes one file: the data directory's files (config, TLS material, secrets, catalog)
//! and a consistent snapshot of the store (format in [`crate::store::backup`]). When a running
//! server holds the store, the snapshot comes from its `POST /api/v1/admin/backup`; otherwise the
//! store is opened directly. The file is written beside its final name and renamed into place
//! once complete and synced, so a failed backup never leaves a file that looks whole.
//!
//! `restore` checks the whole file first and writes only into an empty or new directory.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::cli::Backend;
use crate::config::Config;
use crate::server::STORE_DIR;
use crate::store::backup::{self, BackupSummary, MAGIC, RecordReader, RecordWriter};
use crate::store::sled_store::SledStore;

/// Writes a backup of `data` to `out` (which must not exist). `server` overrides the running
/// server's URL (default: the config's listen address).
pub async fn backup(data: &Path, out: &Path, server: Option<&str>) -> anyhow::Result<String> {
    if out.exists() {
        bail!("{} exists; choose a new file name", out.display());
    }
    let partial = partial_name(out);
    let result = write_backup(data, out, &partial, server).await;
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let summary = result?;
    Ok(format!(
        "backup written to {}: {} files, {} trees, {} keys (store format {})\n",
        out.display(),
        summary.files.len(),
        summary.trees,
        summary.pairs,
        summary
            .store_format
            .map_or_else(|| "unknown".to_owned(), |v| v.to_string()),
    ))
}

fn partial_name(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

async fn write_backup(
    data: &Path,
    out: &Path,
    partial: &Path,
    server: Option<&str>,
) -> anyhow::Result<BackupSummary> {
    let files = backup::data_files(data, STORE_DIR)
        .with_context(|| format!("reading {}", data.display()))?;
    let file = create_private(partial)?;
    let mut gz = GzEncoder::new(BufWriter::new(file), Compression::fast());
    gz.write_all(MAGIC)?;
    let mut writer = RecordWriter::new(gz);
    for record in &files {
        writer.write(record)?;
    }

    let backend = match server {
        Some(url) => remote_backend(data, url)?,
        None => Backend::open(data)?,
    };
    let writer = match backend {
        Backend::Local { store, .. } => {
            tokio::task::spawn_blocking(move || {
                let stats = store.backup(&mut writer)?;
                tracing::info!(?stats, "store copied");
                anyhow::Ok(writer)
            })
            .await??
        }
        Backend::Remote {
            client,
            base,
            token,
        } => {
            // The server's stream goes to a scratch file first; its records are then checked
            // (end record, hash) while copied into the backup.
            let scratch = partial_name(&partial.with_extension("store"));
            let copied = async {
                let mut response = client
                    .post(format!("{base}/api/v1/admin/backup"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .context("asking the running server for a backup")?;
                if !response.status().is_success() {
                    bail!("the server answered {} to the backup", response.status());
                }
                let mut part = BufWriter::new(create_private(&scratch)?);
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .context("the server's backup stream broke off")?
                {
                    part.write_all(&chunk)?;
                }
                part.flush()?;
                let mut section =
                    RecordReader::new(std::io::BufReader::new(std::fs::File::open(&scratch)?));
                while let Some(record) = section
                    .next_record()
                    .context("the server's backup stream is incomplete")?
                {
                    writer.write(&record)?;
                }
                anyhow::Ok(writer)
            }
            .await;
            let _ = std::fs::remove_file(&scratch);
            copied?
        }
    };
    let gz = writer.finish()?;
    let file = gz.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    let summary = backup::verify(partial).context("checking the backup just written")?;
    std::fs::rename(partial, out)
        .with_context(|| format!("renaming {} to {}", partial.display(), out.display()))?;
    if let Some(Ok(dir)) = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(std::fs::File::open)
    {
        let _ = dir.sync_all();
    }
    Ok(summary)
}

fn remote_backend(data: &Path, url: &str) -> anyhow::Result<Backend> {
    let ca = std::fs::read(data.join(crate::init::CA_FILE))
        .context("reading the CA to reach the running server")?;
    let token = crate::secrets::read_secret(&data.join(crate::init::ADMIN_TOKEN_FILE))?;
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
        .build()?;
    Ok(Backend::Remote {
        client,
        base: url.trim_end_matches('/').to_owned(),
        token,
    })
}

fn create_private(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Restores `file` into `data` (empty or missing), then opens the store once, which upgrades an
/// older format in place and proves it readable.
pub fn restore(file: &Path, data: &Path) -> anyhow::Result<String> {
    let summary = backup::restore(file, data, STORE_DIR)
        .with_context(|| format!("restoring {}", file.display()))?;
    let config = Config::load(data)?;
    let store = SledStore::open(&data.join(STORE_DIR), config.retention())
        .context("opening the restored store")?;
    let reports = crate::store::Store::report_count(&store)?;
    let devices = crate::store::Store::devices(&store)?.len();
    Ok(format!(
        "restored {} into {}: {} files, {} devices, {} reports\n",
        file.display(),
        data.display(),
        summary.files.len(),
        devices,
        reports
    ))
}
