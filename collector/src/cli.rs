//! The operator commands that read or change the estate: `rank`, `plan`, `exception`,
//! `catalog`. Each works whether the server is running or not: when the store can be opened it
//! is used directly; when a running `serve` holds it, the command goes through that server's API
//! (its address from the config, the CA and admin token from the data directory).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::Value;

use crate::api::risk::{NewException, financial_year, parse_budget};
use crate::config::Config;
use crate::estate::{self, RankFilter, RankRow, RiskContext};
use crate::export::{self, ExportOptions};
use crate::init::{ADMIN_TOKEN_FILE, CA_FILE};
use crate::plan::Budget;
use crate::server::STORE_DIR;
use crate::store::Store;
use crate::store::sled_store::SledStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Where the estate is read from.
pub enum Backend {
    Local {
        store: Arc<dyn Store>,
        risk: Box<RiskContext>,
    },
    Remote {
        client: reqwest::Client,
        base: String,
        token: String,
    },
}

impl Backend {
    pub fn open(data: &Path) -> anyhow::Result<Self> {
        let config = Config::load(data)?;
        // No wait for the lock: a store in use is a running server's, which is asked instead.
        match SledStore::open_waiting(
            &data.join(STORE_DIR),
            config.retention(),
            std::time::Duration::ZERO,
        ) {
            Ok(store) => Ok(Backend::Local {
                store: Arc::new(store),
                risk: Box::new(RiskContext {
                    catalog: estate::load_catalog(data)?,
                    weights: config.weights.clone(),
                    unit_costs: config.costs.clone(),
                    liveness: config.liveness.clone(),
                }),
            }),
            // A running server holds the store: ask it instead.
            Err(crate::store::StoreError::InUse(_)) => {
                // Where the server really listens (it records it), else the config's address.
                let base = crate::server::listening(data).unwrap_or_else(|| {
                    let mut addr = config.listen;
                    if addr.ip().is_unspecified() {
                        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                    }
                    format!("https://{addr}")
                });
                let ca = std::fs::read(data.join(CA_FILE))
                    .context("reading the CA to reach the running server")?;
                let token = crate::secrets::read_secret(&data.join(ADMIN_TOKEN_FILE))?;
                let client = reqwest::Client::builder()
                    .use_rustls_tls()
                    .tls_built_in_root_certs(false)
                    .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
                    .build()?;
                eprintln!("(the store is in use by a running server; asking it at {base})");
                Ok(Backend::Remote {
                    client,
                    base,
                    token,
                })
            }
            Err(e) => Err(e).context(format!("cannot open the store in {}", data.display())),
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let Backend::Remote {
            client,
            base,
            token,
        } = self
        else {
            bail!("not remote");
        };
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await?;
        checked(response).await
    }

    /// The store, when this command opened it itself.
    pub fn store(&self) -> Option<&dyn Store> {
        self.local().map(|(store, _)| store)
    }

    fn local(&self) -> Option<(&dyn Store, &RiskContext)> {
        match self {
            Backend::Local { store, risk } => Some((store.as_ref(), risk)),
            Backend::Remote { .. } => None,
        }
    }
}

async fn checked(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    bail!(
        "the server answered {status}: {}",
        body["detail"].as_str().unwrap_or("no detail")
    )
}

/// The whole estate derived from the store, for a command that runs without a server.
fn snapshot(store: &dyn Store, risk: &RiskContext) -> anyhow::Result<estate::Snapshot> {
    tokio::task::block_in_place(|| {
        estate::derive_once(store, risk.clone(), Utc::now())
            .context("deriving the estate from the store")
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the operator's exports show: everything (whoever can read the data directory is admin).
const OPERATOR_EXPORT: ExportOptions = ExportOptions {
    include_network_details: true,
    csv_bom: false,
};

fn csv_text(table: &export::Table) -> anyhow::Result<String> {
    Ok(String::from_utf8(export::csv(table, &OPERATOR_EXPORT)?)?)
}

/// `ward-collector rank`: the ranking, most urgent first.
pub async fn rank(
    data: &Path,
    filter: RankFilter,
    limit: usize,
    format: Format,
) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    let rows: Vec<RankRow> = if let Some((store, risk)) = backend.local() {
        let snapshot = snapshot(store, risk)?;
        snapshot
            .select(&filter)
            .take(limit)
            .map(|(rank, row)| RankRow::of(rank, row))
            .collect()
    } else {
        let mut query = format!("/api/v1/rankings?per_page={}", limit.clamp(1, 1000));
        for (k, v) in [
            ("site", &filter.site),
            ("remedy", &filter.remedy),
            ("os", &filter.os),
        ] {
            if let Some(v) = v {
                let _ = write!(query, "&{k}={}", v.replace(['&', '=', ' '], "_"));
            }
        }
        let page: Value = backend.get(&query).await?.json().await?;
        serde_json::from_value(page["rows"].clone())
            .context("the server's ranking rows are not in the expected form")?
    };
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(&rows)? + "\n",
        Format::Csv => csv_text(&export::ranking::table(&rows, &OPERATOR_EXPORT))?,
        Format::Table => {
            let mut out = format!(
                "{:>4}  {:>5}  {:<16}  {:<20}  {:<28}  {}\n",
                "rank", "score", "remedy", "host", "OS", "why"
            );
            for r in &rows {
                let _ = writeln!(
                    out,
                    "{:>4}  {:>5}  {:<16}  {:<20.20}  {:<28.28}  {}",
                    r.rank,
                    r.score,
                    estate::key(&r.remedy),
                    r.hostname.as_deref().unwrap_or("-"),
                    r.os.as_deref().unwrap_or("-"),
                    r.reason,
                );
            }
            if rows.is_empty() {
                out.push_str("(no devices)\n");
            }
            out
        }
    })
}

/// `ward-collector plan`: the phased plan for a budget.
pub async fn plan(
    data: &Path,
    budget: &str,
    years: Option<usize>,
    first_year: Option<i32>,
    format: Format,
) -> anyhow::Result<String> {
    let per_year = parse_budget(budget, years).map_err(|e| anyhow::anyhow!(e))?;
    let first_year = first_year.unwrap_or_else(|| financial_year(Utc::now().date_naive()));
    let backend = Backend::open(data)?;
    let plan: crate::plan::Plan = if let Some((store, risk)) = backend.local() {
        estate::plan(
            &snapshot(store, risk)?,
            &risk.unit_costs,
            &Budget {
                first_year,
                per_year,
            },
        )?
    } else {
        let amounts: Vec<String> = per_year.iter().map(|m| m.pounds_decimal()).collect();
        let path = format!(
            "/api/v1/plan?budget={}&first_year={first_year}",
            amounts.join(",")
        );
        backend.get(&path).await?.json().await?
    };
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(&plan)? + "\n",
        Format::Csv => csv_text(&export::plan::csv_table(&plan, &OPERATOR_EXPORT))?,
        Format::Table => {
            let mut out = String::new();
            for y in &plan.years {
                let _ = writeln!(
                    out,
                    "{}  budget {}  spent {}  risk {} -> {}  ({} actions)",
                    y.label,
                    y.budget,
                    y.spent,
                    y.risk_before,
                    y.risk_after,
                    y.actions.len()
                );
                for a in &y.actions {
                    let _ = writeln!(
                        out,
                        "    {:<24.24} {:<28} {:>12}  -{} risk",
                        a.label,
                        a.kind.to_string(),
                        a.cost.to_string(),
                        a.risk_removed
                    );
                }
            }
            for e in &plan.esu {
                let _ = writeln!(out, "ESU   {:<24.24} {}: {}", e.label, e.cost, e.reason);
            }
            if !plan.unfunded.is_empty() {
                let _ = writeln!(
                    out,
                    "{} device(s) keep residual risk after the plan",
                    plan.unfunded.len()
                );
            }
            let _ = writeln!(out, "\n{}", plan.method);
            out
        }
    })
}

/// `ward-collector exception add`.
pub async fn exception_add(data: &Path, new: NewException) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    if let Some((store, risk)) = backend.local() {
        let record = new
            .into_record(Utc::now().date_naive())
            .map_err(|e| anyhow::anyhow!(e))?;
        let estate = snapshot(store, risk)?;
        // The store's writes wait for its committer thread: not on an async worker.
        tokio::task::block_in_place(|| {
            crate::api::risk::save_exception(store, &|id| estate.row(id).is_some(), "cli", &record)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })?;
        return Ok(format!(
            "exception recorded for {} until {}\n",
            record.device_id, record.review_date
        ));
    }
    let Backend::Remote {
        client,
        base,
        token,
    } = &backend
    else {
        bail!("unreachable");
    };
    let body = serde_json::json!({
        "device_id": new.device_id, "reason": new.reason, "controls": new.controls,
        "owner": new.owner, "review_date": new.review_date,
    });
    checked(
        client
            .post(format!("{base}/api/v1/exceptions"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?,
    )
    .await?;
    Ok(format!(
        "exception recorded for {} until {}\n",
        new.device_id, new.review_date
    ))
}

/// `ward-collector exception list`.
pub async fn exception_list(data: &Path) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    let list: Vec<Value> = if let Some((store, _)) = backend.local() {
        store
            .exceptions()?
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?
    } else {
        backend.get("/api/v1/exceptions").await?.json().await?
    };
    let today = Utc::now().date_naive().to_string();
    let mut out = String::new();
    for e in &list {
        let review = text(&e["review_date"]);
        let state = if review.as_str() < today.as_str() {
            "EXPIRED"
        } else {
            "active"
        };
        let _ = writeln!(
            out,
            "{}  {state:<7} review {review}  owner {}  {}",
            text(&e["device_id"]),
            text(&e["owner"]),
            text(&e["reason"])
        );
    }
    if list.is_empty() {
        out.push_str("(no exceptions)\n");
    }
    Ok(out)
}

/// `ward-collector exception remove`.
pub async fn exception_remove(data: &Path, device: uuid::Uuid) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    if let Some((store, _)) = backend.local() {
        let removed = tokio::task::block_in_place(|| {
            crate::api::risk::remove_exception(store, "cli", device)
                .map_err(|e| anyhow::anyhow!("{e}"))
        })?;
        if !removed {
            bail!("no exception for device {device}");
        }
    } else if let Backend::Remote {
        client,
        base,
        token,
    } = &backend
    {
        checked(
            client
                .delete(format!("{base}/api/v1/exceptions/{device}"))
                .bearer_auth(token)
                .send()
                .await?,
        )
        .await?;
    }
    Ok(format!("exception for {device} removed\n"))
}

/// `ward-collector catalog import`: validates a catalog file and installs it. A running server
/// takes it at once (and judges the estate by it again in the background); otherwise the next
/// start reads it.
pub async fn catalog_import(data: &Path, file: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let catalog = crate::catalog::Catalog::from_json(&text)
        .with_context(|| format!("{} is not a valid catalog", file.display()))?;
    let backend = Backend::open(data)?;
    if let Backend::Remote {
        client,
        base,
        token,
    } = &backend
    {
        checked(
            client
                .post(format!("{base}/api/v1/catalog"))
                .bearer_auth(token)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(text)
                .send()
                .await?,
        )
        .await?;
        return Ok(format!(
            "catalog version {} of {} installed; the running server is judging the estate by it\n",
            catalog.version, catalog.date
        ));
    }
    let current = estate::load_catalog(data)?;
    if catalog.version < current.version {
        bail!(
            "{} is catalog version {} ({}); the one in use is newer: version {} ({})",
            file.display(),
            catalog.version,
            catalog.date,
            current.version,
            current.date
        );
    }
    estate::install_catalog(data, &text)?;
    Ok(format!(
        "catalog version {} of {} installed in {}; the server reads it when it starts\n",
        catalog.version,
        catalog.date,
        data.join(estate::CATALOG_FILE).display()
    ))
}

/// `ward-collector catalog show`.
pub fn catalog_show(data: &Path) -> anyhow::Result<String> {
    let catalog = estate::load_catalog(data)?;
    let builtin = crate::catalog::Catalog::builtin()?;
    Ok(format!(
        "catalog in use: version {} of {} ({})\n",
        catalog.version,
        catalog.date,
        if catalog.version == builtin.version && !data.join(estate::CATALOG_FILE).exists() {
            "built in"
        } else {
            "imported"
        }
    ))
}

/// Uploads at least this large say so before they are sent to a running server.
const LARGE_UPLOAD_BYTES: usize = 1 << 20;

/// `ward-collector import`: every file (directories walked) parsed and stored, one result line
/// each on stdout as it goes, progress on stderr for long runs. Returns whether every file was
/// imported (now or before).
pub async fn import(data: &Path, paths: &[std::path::PathBuf]) -> anyhow::Result<bool> {
    use std::io::{IsTerminal as _, Write as _};

    use crate::intake::{self, FileResult};

    let files = intake::expand(paths);
    if files.is_empty() {
        bail!("no file to import");
    }
    let backend = Backend::open(data)?;
    // Within a large file: a line a second on a terminal, fewer into a log.
    let progress_every = if std::io::stderr().is_terminal() {
        std::time::Duration::from_secs(1)
    } else {
        std::time::Duration::from_secs(5)
    };
    let total = files.len();
    let started = std::time::Instant::now();
    let mut last_progress = started;
    let (mut ok, mut devices) = (0usize, 0u64);
    for (i, path) in files.iter().enumerate() {
        let name = path.to_string_lossy().into_owned();
        let result = match intake::read_file(path) {
            Err(reason) => FileResult::rejected(&name, reason),
            Ok(bytes) => match &backend {
                Backend::Local { store, .. } => {
                    let store = store.clone();
                    let given = name.clone();
                    let mut r = tokio::task::spawn_blocking(move || {
                        let mut progress = intake::FileProgress::new(
                            &given,
                            progress_every,
                            std::time::Instant::now(),
                            std::io::stderr(),
                        );
                        intake::import_bytes_with_progress(
                            store.as_ref(),
                            &given,
                            &bytes,
                            Utc::now(),
                            &mut |stage| progress.update(stage, std::time::Instant::now()),
                        )
                    })
                    .await?;
                    // The line names the file as given, as for the remote path below.
                    r.name.clone_from(&name);
                    r
                }
                Backend::Remote {
                    client,
                    base,
                    token,
                } => {
                    if bytes.len() >= LARGE_UPLOAD_BYTES {
                        eprintln!(
                            "progress: {name}: sending {} bytes; the server reads and stores them",
                            bytes.len()
                        );
                    }
                    let response = client
                        .post(format!("{base}/api/v1/imports"))
                        .query(&[("name", intake::clean_name(&name))])
                        .bearer_auth(token)
                        .body(bytes)
                        .send()
                        .await?;
                    let status = response.status();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    match serde_json::from_value::<crate::api::imports::ImportAnswer>(body.clone())
                    {
                        Ok(mut answer) if !answer.results.is_empty() => {
                            let mut r = answer.results.remove(0);
                            r.name.clone_from(&name);
                            r
                        }
                        // A success whose answer cannot be read is not the file's fault.
                        _ if status.is_success() => FileResult {
                            name: name.clone(),
                            outcome: crate::intake::FileOutcome::Failed {
                                reason: format!("the server's answer ({status}) could not be read"),
                            },
                        },
                        _ => FileResult::rejected(
                            &name,
                            format!(
                                "the server answered {status}: {}",
                                body["detail"].as_str().unwrap_or("no detail")
                            ),
                        ),
                    }
                }
            },
        };
        if result.ok() {
            ok += 1;
        }
        if let crate::intake::FileOutcome::Imported { devices: n, .. } = &result.outcome {
            devices += u64::from(*n);
        }
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", result.line())?;
        stdout.flush()?;
        if total > 1 && (last_progress.elapsed().as_secs() >= 2 || i + 1 == total) {
            last_progress = std::time::Instant::now();
            eprintln!(
                "progress: {}/{total} files, {devices} devices imported, {:.1} s",
                i + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let rejected = total - ok;
    eprintln!("{ok} of {total} files imported, {rejected} rejected, {devices} devices");
    Ok(rejected == 0)
}

/// `ward-collector coverage`: the coverage view as JSON (the same as `GET /api/v1/coverage`).
pub async fn coverage(data: &Path) -> anyhow::Result<String> {
    let backend = Backend::open(data)?;
    let value: Value = if let Some((store, risk)) = backend.local() {
        serde_json::to_value(snapshot(store, risk)?.coverage(Utc::now()))?
    } else {
        backend.get("/api/v1/coverage").await?.json().await?
    };
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}
