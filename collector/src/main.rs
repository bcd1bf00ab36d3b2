//! The `ward-collector` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ward_collector::init::{ExistingTls, InitOptions, init};
use ward_collector::quickstart::{find_agent, quickstart};
use ward_collector::server::{Server, shutdown_signal};

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
    /// Serve the API over HTTPS until Ctrl-C or SIGTERM.
    Serve {
        #[arg(long)]
        data: PathBuf,
        /// Listen address (default from the config file, else 127.0.0.1:8443).
        #[arg(long)]
        listen: Option<SocketAddr>,
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

async fn main_inner(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
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
                println!("created  {}", path.display());
            }
            for path in &report.kept {
                println!("kept     {} (exists)", path.display());
            }
            Ok(())
        }
        Command::Serve { data, listen } => {
            let server = Server::bind(&data, listen).await?;
            tracing::info!(addr = %server.addr, data = %data.display(), "serving HTTPS");
            // Tests and scripts read this line to learn the port when listening on :0.
            println!("listening on https://{}", server.addr);
            server.run(shutdown_signal()).await
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
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
