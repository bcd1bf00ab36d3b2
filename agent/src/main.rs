//! The `ward-agent` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ward_agent::collect::{CollectOptions, collect};
use ward_agent::config::AgentConfig;
use ward_agent::enroll::{EnrollArgs, enroll};
use ward_agent::run::Agent;
use ward_agent::service::ServiceCommand;
use ward_agent::state::{CONFIG_FILE, State};

/// Ward inventory agent: reports this machine's OS, patches, hardware and security settings.
#[derive(Debug, Parser)]
#[command(name = "ward-agent", version)]
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
    /// Print this machine's report as JSON and exit; no network.
    Collect {
        /// Configuration file (for tags).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
    },
    /// Exchange the enrollment secret for this agent's own key.
    Enroll {
        /// Collector URL, e.g. https://ward.example.nhs.uk:8443
        #[arg(long)]
        server: String,
        /// CA certificate (PEM) the collector's certificate chains to.
        #[arg(long)]
        ca: PathBuf,
        /// File holding the enrollment secret.
        #[arg(long)]
        secret_file: PathBuf,
        /// State directory (key, CA, spool).
        #[arg(long)]
        state: PathBuf,
        /// Replace an existing enrollment.
        #[arg(long)]
        force: bool,
    },
    /// Collect and report on an interval; spool while the collector is away.
    Run {
        #[arg(long)]
        state: PathBuf,
        /// Configuration file (default: STATE/ward-agent.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Collect and deliver once; exit 0 only if everything was acknowledged.
        #[arg(long)]
        once: bool,
        /// Override a config key for this run, e.g. `--set tags.site=North` (repeatable; over
        /// the file and WARD_* variables).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Configuration files.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Manage the Windows service (install, uninstall, start, stop).
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
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

fn load_config(explicit: Option<&Path>, state: Option<&Path>) -> anyhow::Result<AgentConfig> {
    load_config_with(explicit, state, &[])
}

/// The config file (explicit, else STATE/ward-agent.toml when present), then WARD_*, then `sets`.
fn load_config_with(
    explicit: Option<&Path>,
    state: Option<&Path>,
    sets: &[String],
) -> anyhow::Result<AgentConfig> {
    let (path, required) = match (explicit, state) {
        (Some(path), _) => (path.to_owned(), true),
        (None, Some(dir)) => (dir.join(CONFIG_FILE), false),
        // No file: the defaults, still under WARD_* and --set.
        (None, None) => (PathBuf::from("(no config file)"), false),
    };
    let (config, applied) = AgentConfig::load_layered(&path, required, std::env::vars(), sets)?;
    if !applied.is_empty() {
        tracing::info!(variables = ?applied, "configuration overridden from the environment");
    }
    Ok(config)
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

/// Exit codes: 0 done; 1 error; 2 usage; 3 reports stay spooled (collector unreachable);
/// 4 the collector refuses this agent's key (revoked or unknown).
async fn main_inner(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Service { command } => {
            tokio::task::spawn_blocking(move || ward_agent::service::command(command)).await??;
            Ok(ExitCode::SUCCESS)
        }
        Command::Collect { config, pretty } => {
            let config = load_config(config.as_deref(), None)?;
            let options = CollectOptions {
                agent_id: None,
                tags: config.tags(),
            };
            let report = tokio::task::spawn_blocking(move || collect(&options)).await?;
            let json = if pretty {
                serde_json::to_string_pretty(&report)?
            } else {
                serde_json::to_string(&report)?
            };
            println!("{json}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Enroll {
            server,
            ca,
            secret_file,
            state,
            force,
        } => {
            let enrolled = enroll(EnrollArgs {
                server: &server,
                ca: &ca,
                secret_file: &secret_file,
                state_dir: &state,
                force,
            })
            .await
            .context("enrollment failed")?;
            eprintln!(
                "enrolled as agent {} with {}; state in {}",
                enrolled.enrollment.agent_id,
                enrolled.enrollment.server,
                state.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            action: ConfigCommand::Check { file, sets },
        } => {
            let (_, applied) = AgentConfig::load_layered(&file, true, std::env::vars(), &sets)?;
            println!("{}: ok", file.display());
            if !applied.is_empty() {
                println!("overridden by: {}", applied.join(", "));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            action: ConfigCommand::Default,
        } => {
            print!("{}", AgentConfig::commented_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            state,
            config,
            once,
            sets,
        } => {
            let config = load_config_with(config.as_deref(), Some(&state), &sets)?;
            let loaded = State::load(&state)?;
            let mut agent = Agent::new(loaded, config)?;
            if !once {
                agent.run_forever(shutdown_signal()).await?;
                return Ok(ExitCode::SUCCESS);
            }
            agent.collect_and_spool().await?;
            let drain = agent.drain().await?;
            if drain.unauthorized {
                eprintln!(
                    "error: the collector refuses this agent's key: {}. {} report(s) stay spooled; \
                     enroll again with `ward-agent enroll --force`.",
                    drain.stopped.unwrap_or_default(),
                    drain.remaining
                );
                return Ok(ExitCode::from(4));
            }
            if drain.remaining > 0 {
                eprintln!(
                    "error: {} report(s) stay spooled: {}",
                    drain.remaining,
                    drain.stopped.unwrap_or_default()
                );
                return Ok(ExitCode::from(3));
            }
            eprintln!(
                "delivered {} report(s), {} already stored, {} refused",
                drain.delivered, drain.duplicates, drain.dropped
            );
            Ok(if drain.dropped > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service writes its own log file; the service control manager gives it no console.
    #[cfg(windows)]
    if let Command::Service {
        command: ServiceCommand::Run,
    } = cli.command
    {
        return match ward_agent::service::run_as_service() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_inner(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
