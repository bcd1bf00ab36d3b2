//! The `ward-collector` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ward_collector::api::risk::NewException;
use ward_collector::auth::Role;
use ward_collector::auth::cli as auth_cli;
use ward_collector::cli::{self, Format};
use ward_collector::estate::RankFilter;
use ward_collector::init::{ExistingTls, InitOptions, init};
use ward_collector::quickstart::{find_agent, quickstart};
use ward_collector::server::{Server, shutdown_signal};

/// mimalloc instead of the system allocator: ingest allocates a lot per report (the body, the
/// inflated JSON, the parsed report's strings, sled's nodes) across threads, and glibc malloc
/// showed in 15% of the collector's CPU samples. Measured with `ward-load` on the 2-core dev
/// machine (medians of 3): 4,460 -> 5,780 reports/s, 0.31 -> 0.22 ms of collector CPU per report.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ward collector: receives agent reports over HTTPS and keeps each device's state and history.
#[derive(Debug, Parser)]
#[command(name = "ward-collector", version)]
struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a data directory: CA and server certificate, enrollment secret, admin token, config.
    /// Nothing that exists is overwritten.
    Init {
        #[arg(long)]
        data: PathBuf,
        /// Extra name or address for the server certificate (repeatable).
        #[arg(long = "san")]
        sans: Vec<String>,
        /// Use this certificate chain (PEM) from your own PKI instead of generating a CA.
        #[arg(long, requires_all = ["key", "ca"])]
        cert: Option<PathBuf>,
        /// The private key (PEM) of --cert.
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// The CA certificate (PEM) that signed --cert; agents are given this one.
        #[arg(long, requires = "cert")]
        ca: Option<PathBuf>,
    },
    /// Server certificate management.
    #[command(subcommand)]
    Cert(CertCommand),
    /// Serve the API over HTTPS until Ctrl-C or SIGTERM; SIGHUP reloads the server certificate.
    Serve {
        #[arg(long)]
        data: PathBuf,
        /// Listen address (default from the config file, else 127.0.0.1:8443).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Override a config key for this run, e.g. `--set history_max_days=90` (repeatable;
        /// over the file and WARD_* variables).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Watch this folder for import files (overrides `import_drop_dir`); processed files
        /// move to its done/ or rejected/ subfolder.
        #[arg(long)]
        drop_dir: Option<PathBuf>,
    },
    /// Configuration files.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// The ranking: every device assessed, most urgent first, with the reason.
    Rank {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        site: Option<String>,
        /// Remedy class: replace_hardware, upgrade_os, fix_firmware, patch, isolate, no_action, unknown.
        #[arg(long)]
        remedy: Option<String>,
        /// OS family: windows, linux, macos, other.
        #[arg(long)]
        os: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The phased plan: which devices get which remedy in which financial year, within budget.
    Plan {
        #[arg(long)]
        data: PathBuf,
        /// Budget per financial year in pounds: one amount (with --years) or a comma-separated list.
        #[arg(long)]
        budget: String,
        #[arg(long)]
        years: Option<usize>,
        /// First financial year by its starting year (2026 = April 2026 to March 2027).
        #[arg(long)]
        first_year: Option<i32>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The exceptions register: devices that cannot be changed and are isolated instead.
    Exception {
        #[command(subcommand)]
        action: ExceptionCommand,
    },
    /// The catalog of lifecycle dates, patch levels, MS17-010 and Windows 11 CPU data.
    Catalog {
        #[command(subcommand)]
        action: CatalogCommand,
    },
    /// Write a backup of the data directory (files and a consistent copy of the store) to a new
    /// file; works while the server runs.
    Backup {
        #[arg(long)]
        data: PathBuf,
        /// The backup file to create (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// The running server's URL (default: from the config's `listen`).
        #[arg(long)]
        server: Option<String>,
    },
    /// Restore a backup into an empty (or new) data directory.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to create; must be empty or missing.
        #[arg(long)]
        data: PathBuf,
    },
    /// Dashboard users: add, list, remove, change a password.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// API tokens for scripts, with a role: create (shown once), list, revoke.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Import files from machines no agent runs on (systeminfo, wmic qfe / Get-HotFix, nmap XML,
    /// AD computer CSV, legacy probe reports); directories are walked. One result line per
    /// file; exit code 0 when every file was imported, 2 when any was rejected.
    Import {
        #[arg(long)]
        data: PathBuf,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Coverage: the share of devices with an agent or probe report, by site, and the devices
    /// seen only by AD or nmap (JSON).
    Coverage {
        #[arg(long)]
        data: PathBuf,
    },
    /// Try Ward on this machine: create ./ward-data, start the collector on loopback, enroll and
    /// run this machine's agent once, print what it found, keep serving until Ctrl-C.
    Quickstart {
        #[arg(long, default_value = "ward-data")]
        data: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// The ward-agent binary (default: beside this one, else on PATH).
        #[arg(long)]
        agent: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ExceptionCommand {
    /// Record a device that cannot be changed, with its compensating controls.
    Add {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        device: uuid::Uuid,
        #[arg(long)]
        reason: String,
        /// A compensating control (repeatable), e.g. "isolated VLAN".
        #[arg(long = "control")]
        controls: Vec<String>,
        #[arg(long)]
        owner: String,
        /// Review date (YYYY-MM-DD); after it the device ranks on its own risk again.
        #[arg(long)]
        review: chrono::NaiveDate,
    },
    List {
        #[arg(long)]
        data: PathBuf,
    },
    Remove {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        device: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; the password is prompted for (twice), or read from stdin.
    Add {
        #[arg(long)]
        data: PathBuf,
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Read the password from the first line of stdin instead of prompting.
        #[arg(long)]
        password_stdin: bool,
    },
    List {
        #[arg(long)]
        data: PathBuf,
    },
    /// Remove a user and end their sessions.
    Remove {
        #[arg(long)]
        data: PathBuf,
        name: String,
    },
    /// End a user's sign-in slow-down after failed sign-ins (audited). Asks the running
    /// server, which holds the delays.
    Unlock {
        #[arg(long)]
        data: PathBuf,
        name: String,
    },
    /// Set a user's password (prompted, or from stdin) and end their sessions.
    Passwd {
        #[arg(long)]
        data: PathBuf,
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; it is printed once and only its hash is kept.
    Create {
        #[arg(long)]
        data: PathBuf,
        #[arg(long, value_enum)]
        role: Role,
        /// What uses it, e.g. "backup-script".
        #[arg(long)]
        name: String,
    },
    List {
        #[arg(long)]
        data: PathBuf,
    },
    Revoke {
        #[arg(long)]
        data: PathBuf,
        id: uuid::Uuid,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Issue a new server certificate and key from the data directory's CA (same names),
    /// replacing the files atomically. Then send SIGHUP to the running collector
    /// (`systemctl reload ward-collector`); agents keep working without re-enrolling.
    Renew {
        #[arg(long)]
        data: PathBuf,
        /// Validity in days from today.
        #[arg(long, default_value_t = 825)]
        days: u32,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a config file (with the WARD_* variables and --set flags applied): exit 0 and say
    /// so, or exit 1 naming the key at fault.
    Check {
        file: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Print a commented config file with every key at its default.
    Default,
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Validate a catalog file and use it from the next start (a newer catalog without a rebuild).
    Import {
        #[arg(long)]
        data: PathBuf,
        file: PathBuf,
    },
    /// Which catalog is in use.
    Show {
        #[arg(long)]
        data: PathBuf,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Exit code when some import files were rejected (each said why on its result line).
const EXIT_SOME_REJECTED: u8 = 2;

/// `print!` that never panics: when stdout is a pipe that closed (`ward-collector rank | head`)
/// the command ends quietly with success, as other command-line tools do; any other write error
/// ends it with the error.
macro_rules! out {
    ($($arg:tt)*) => { write_stdout(format_args!($($arg)*)) };
}

/// [`out!`] with a newline, for `println!`.
macro_rules! outln {
    ($($arg:tt)*) => { write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("some files were rejected")]
struct SomeRejected;

async fn main_inner(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Import { data, files } => {
            if cli::import(&data, &files).await? {
                Ok(())
            } else {
                Err(SomeRejected.into())
            }
        }
        Command::Coverage { data } => {
            out!("{}", cli::coverage(&data).await?);
            Ok(())
        }
        Command::Init {
            data,
            sans,
            cert,
            key,
            ca,
        } => {
            let existing = match (cert, key, ca) {
                (Some(cert), Some(key), Some(ca)) => Some(ExistingTls { cert, key, ca }),
                _ => None,
            };
            let report = init(&data, &InitOptions { sans, existing })?;
            for path in &report.created {
                outln!("created  {}", path.display());
            }
            for path in &report.kept {
                outln!("kept     {} (exists)", path.display());
            }
            Ok(())
        }
        Command::Cert(CertCommand::Renew { data, days }) => {
            let r = ward_collector::init::renew(&data, days)?;
            outln!(
                "renewed  {} (serial {}, valid until {})",
                r.cert.display(),
                r.serial,
                r.not_after
            );
            outln!("renewed  {}", r.key.display());
            outln!(
                "the running collector keeps the old certificate until it gets SIGHUP: \
                 `systemctl reload ward-collector` (or `kill -HUP <pid>`)"
            );
            Ok(())
        }
        Command::Serve {
            data,
            listen,
            sets,
            drop_dir,
        } => {
            let mut server = Server::bind_with(&data, listen, &sets).await?;
            if let Some(dir) = drop_dir {
                let poll = ward_collector::config::Config::load(&data)?.import_poll_secs;
                server.watch_drop_folder(&dir, std::time::Duration::from_secs(poll))?;
            }
            tracing::info!(addr = %server.addr, data = %data.display(), "serving HTTPS");
            // Tests and scripts read this line to learn the port when listening on :0.
            outln!("listening on https://{}", server.addr);
            server.run(shutdown_signal()).await
        }
        Command::Rank {
            data,
            site,
            remedy,
            os,
            limit,
            format,
        } => {
            out!(
                "{}",
                cli::rank(
                    &data,
                    RankFilter {
                        site,
                        remedy,
                        os,
                        department: None,
                    },
                    limit,
                    format
                )
                .await?
            );
            Ok(())
        }
        Command::Plan {
            data,
            budget,
            years,
            first_year,
            format,
        } => {
            out!(
                "{}",
                cli::plan(&data, &budget, years, first_year, format).await?
            );
            Ok(())
        }
        Command::Exception { action } => {
            let out = match action {
                ExceptionCommand::Add {
                    data,
                    device,
                    reason,
                    controls,
                    owner,
                    review,
                } => {
                    let new = NewException {
                        device_id: device,
                        reason,
                        controls,
                        owner,
                        review_date: review,
                    };
                    cli::exception_add(&data, new).await?
                }
                ExceptionCommand::List { data } => cli::exception_list(&data).await?,
                ExceptionCommand::Remove { data, device } => {
                    cli::exception_remove(&data, device).await?
                }
            };
            out!("{out}");
            Ok(())
        }
        Command::Catalog { action } => {
            let out = match action {
                CatalogCommand::Import { data, file } => cli::catalog_import(&data, &file).await?,
                CatalogCommand::Show { data } => cli::catalog_show(&data)?,
            };
            out!("{out}");
            Ok(())
        }
        Command::Config {
            action: ConfigCommand::Check { file, sets },
        } => {
            let loaded =
                ward_collector::config::Config::load_layered(&file, true, std::env::vars(), &sets)?;
            outln!("{}: ok", file.display());
            if !loaded.env_applied.is_empty() {
                outln!("overridden by: {}", loaded.env_applied.join(", "));
            }
            Ok(())
        }
        Command::Config {
            action: ConfigCommand::Default,
        } => {
            out!("{}", ward_collector::config::Config::commented_default());
            Ok(())
        }
        Command::Backup { data, out, server } => {
            out!(
                "{}",
                ward_collector::backup::backup(&data, &out, server.as_deref()).await?
            );
            Ok(())
        }
        Command::Restore { from, data } => {
            out!("{}", ward_collector::backup::restore(&from, &data)?);
            Ok(())
        }
        Command::User { action } => {
            let out = match action {
                UserCommand::Add {
                    data,
                    name,
                    role,
                    password_stdin,
                } => {
                    let password = auth_cli::read_password(password_stdin)?;
                    auth_cli::user_add(&data, &name, role, &password).await?
                }
                UserCommand::List { data } => auth_cli::user_list(&data).await?,
                UserCommand::Remove { data, name } => auth_cli::user_remove(&data, &name).await?,
                UserCommand::Unlock { data, name } => auth_cli::user_unlock(&data, &name).await?,
                UserCommand::Passwd {
                    data,
                    name,
                    password_stdin,
                } => {
                    let password = auth_cli::read_password(password_stdin)?;
                    auth_cli::user_passwd(&data, &name, &password).await?
                }
            };
            out!("{out}");
            Ok(())
        }
        Command::Token { action } => {
            let out = match action {
                TokenCommand::Create { data, role, name } => {
                    auth_cli::token_create(&data, &name, role).await?
                }
                TokenCommand::List { data } => auth_cli::token_list(&data).await?,
                TokenCommand::Revoke { data, id } => auth_cli::token_revoke(&data, id).await?,
            };
            out!("{out}");
            Ok(())
        }
        Command::Quickstart {
            data,
            listen,
            agent,
        } => quickstart(&data, listen, &find_agent(agent.as_deref())).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_inner(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<SomeRejected>() => ExitCode::from(EXIT_SOME_REJECTED),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
