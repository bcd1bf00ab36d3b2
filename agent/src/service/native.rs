//! The Windows service glue: service control manager calls, the service's main, the event log,
//! the state directory's ACL and the installer's registry settings.

#![allow(unsafe_code)] // ReportEventW; the block says what it relies on.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use windows_service::service::{
    ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
    ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod,
    ServiceInfo, ServiceStartType, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};
use windows_service::{define_windows_service, service_dispatcher};

use super::{Bootstrap, CaSource, DISPLAY_NAME, SERVICE_NAME, SETTINGS_KEY, ServiceCommand};
use crate::config::AgentConfig;
use crate::enroll::{EnrollArgs, enroll};
use crate::run::Agent;
use crate::state::{CONFIG_FILE, State};

const EVENT_LOG_KEY: &str = r"SYSTEM\CurrentControlSet\Services\EventLog\Application\WardAgent";

/// `ward-agent service ...` from a console.
pub fn command(cmd: ServiceCommand) -> anyhow::Result<()> {
    match cmd {
        ServiceCommand::Install {
            server,
            enroll_secret,
            ca,
        } => install(server, enroll_secret, ca),
        ServiceCommand::Uninstall => uninstall(),
        ServiceCommand::Start => {
            let service = open(ServiceAccess::START)?;
            service
                .start(&[] as &[&OsStr])
                .context("cannot start the service")?;
            eprintln!("{SERVICE_NAME} started");
            Ok(())
        }
        ServiceCommand::Stop => {
            let service = open(ServiceAccess::STOP)?;
            service.stop().context("cannot stop the service")?;
            eprintln!("{SERVICE_NAME} stopping");
            Ok(())
        }
        ServiceCommand::Run => run_as_service(),
    }
}

fn manager(access: ServiceManagerAccess) -> anyhow::Result<ServiceManager> {
    ServiceManager::local_computer(None::<&str>, access)
        .context("cannot open the service control manager (run as Administrator)")
}

fn open(access: ServiceAccess) -> anyhow::Result<windows_service::service::Service> {
    manager(ServiceManagerAccess::CONNECT)?
        .open_service(SERVICE_NAME, access)
        .with_context(|| format!("cannot open service {SERVICE_NAME}"))
}

fn install(
    server: Option<String>,
    secret: Option<String>,
    ca: Option<String>,
) -> anyhow::Result<()> {
    // Check the settings before anything changes.
    super::bootstrap(server.as_deref(), secret.as_deref(), ca.as_deref())?;
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let manager = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let info = ServiceInfo {
        name: OsString::from(SERVICE_NAME),
        display_name: OsString::from(DISPLAY_NAME),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe,
        launch_arguments: vec!["service".into(), "run".into()],
        dependencies: vec![],
        account_name: None, // LocalSystem
        account_password: None,
    };
    let service = manager
        .create_service(&info, ServiceAccess::CHANGE_CONFIG | ServiceAccess::START)
        .context("cannot create the service")?;
    let configured = (|| -> anyhow::Result<()> {
        service.set_description(
            "Reports this PC's OS, patches, hardware and security settings to the Ward collector",
        )?;
        set_recovery(&service)?;
        register_event_source()?;
        if server.is_some() {
            let hklm = winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE);
            let (key, _) = hklm.create_subkey(SETTINGS_KEY)?;
            for (name, value) in [("Server", server), ("EnrollSecret", secret), ("CA", ca)] {
                if let Some(value) = value {
                    key.set_value(name, &value)?;
                }
            }
        }
        prepare_state_dir(&super::default_state_dir())
    })();
    if let Err(e) = configured {
        // A half-configured service would start without its settings: take it away again.
        drop(service);
        if let Ok(service) = open(ServiceAccess::DELETE) {
            let _ = service.delete();
        }
        return Err(e.context("the service was not installed"));
    }
    eprintln!("{SERVICE_NAME} installed; start it with `ward-agent service start`");
    Ok(())
}

/// Restart 60 s after each of the first three failures in a day, also on a non-crash failure exit.
fn set_recovery(service: &windows_service::service::Service) -> anyhow::Result<()> {
    let restart = ServiceAction {
        action_type: ServiceActionType::Restart,
        delay: Duration::from_secs(60),
    };
    service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(Duration::from_secs(86_400)),
            reboot_msg: None,
            command: None,
            actions: Some(vec![restart.clone(), restart.clone(), restart]),
        })
        .context("cannot set the recovery actions")?;
    match service.set_failure_actions_on_non_crash_failures(true) {
        Ok(()) => Ok(()),
        // Windows has had this since Vista; Wine answers ERROR_INVALID_LEVEL. The restart on
        // a crash above still applies, so say so and go on.
        Err(windows_service::Error::Winapi(e)) if e.raw_os_error() == Some(ERROR_INVALID_LEVEL) => {
            tracing::warn!(
                "this system cannot restart the service after a failure exit, only after a crash"
            );
            Ok(())
        }
        Err(e) => Err(e).context("cannot set the recovery actions for failure exits"),
    }
}

/// What Windows answers to a ChangeServiceConfig2 information level it does not know.
const ERROR_INVALID_LEVEL: i32 = 124;

fn uninstall() -> anyhow::Result<()> {
    let service = open(ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE)?;
    if service.query_status()?.current_state != ServiceState::Stopped {
        let _ = service.stop();
        for _ in 0..30 {
            if service.query_status()?.current_state == ServiceState::Stopped {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    service.delete().context("cannot delete the service")?;
    eprintln!(
        "{SERVICE_NAME} removed; state and spool stay in {}",
        super::default_state_dir().display()
    );
    Ok(())
}

/// The event source's registration: EventCreate.exe's message table prints the text as given.
fn register_event_source() -> anyhow::Result<()> {
    let hklm = winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE);
    let (key, _) = hklm.create_subkey(EVENT_LOG_KEY)?;
    key.set_value(
        "EventMessageFile",
        &r"%SystemRoot%\System32\EventCreate.exe",
    )?;
    key.set_value("TypesSupported", &7u32)?;
    Ok(())
}

/// The state directory, its logs folder, and an ACL of SYSTEM and Administrators only
/// (inherited by everything below, nothing inherited from above).
fn prepare_state_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let out = std::process::Command::new("icacls")
        .arg(dir)
        .args([
            "/inheritance:r",
            "/grant:r",
            "*S-1-5-18:(OI)(CI)F",
            "*S-1-5-32-544:(OI)(CI)F",
            "/Q",
        ])
        .output()
        .context("cannot run icacls")?;
    if !out.status.success() {
        anyhow::bail!(
            "icacls {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum EventKind {
    Info,
    Warning,
    Error,
}

/// One entry in the Application event log; failures to log are ignored (the file log has it).
fn event(kind: EventKind, message: &str) {
    use windows::Win32::System::EventLog::{
        DeregisterEventSource, EVENTLOG_ERROR_TYPE, EVENTLOG_INFORMATION_TYPE,
        EVENTLOG_WARNING_TYPE, RegisterEventSourceW, ReportEventW,
    };
    use windows::core::{HSTRING, PCWSTR};
    let (ty, id) = match kind {
        EventKind::Info => (EVENTLOG_INFORMATION_TYPE, 1),
        EventKind::Warning => (EVENTLOG_WARNING_TYPE, 2),
        EventKind::Error => (EVENTLOG_ERROR_TYPE, 3),
    };
    let source = HSTRING::from(SERVICE_NAME);
    let text = HSTRING::from(message);
    // SAFETY: both HSTRINGs are NUL-terminated and outlive the calls; the handle is released.
    unsafe {
        if let Ok(handle) = RegisterEventSourceW(PCWSTR::null(), &source) {
            let strings = [PCWSTR(text.as_ptr())];
            let _ = ReportEventW(handle, ty, 0, id, None, 0, Some(&strings), None);
            let _ = DeregisterEventSource(handle);
        }
    }
}

define_windows_service!(ffi_service_main, service_main);

/// Hands this process to the service control manager (blocks until the service stops).
pub fn run_as_service() -> anyhow::Result<()> {
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .context("not started by the service control manager (use `ward-agent service start`)")
}

fn service_main(_arguments: Vec<OsString>) {
    if let Err(e) = service_body() {
        tracing::error!(error = format!("{e:#}"), "service failed");
        event(
            EventKind::Error,
            &format!("Ward agent stopped on an error: {e:#}"),
        );
    }
}

fn service_body() -> anyhow::Result<()> {
    let stop = Arc::new(tokio::sync::Notify::new());
    let on_stop = Arc::clone(&stop);
    let status = service_control_handler::register(SERVICE_NAME, move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            on_stop.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    })?;
    let set = |state: ServiceState, exit: u32| {
        status.set_service_status(ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: if state == ServiceState::Running {
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
            } else {
                ServiceControlAccept::empty()
            },
            exit_code: ServiceExitCode::Win32(exit),
            checkpoint: 0,
            wait_hint: Duration::from_secs(30),
            process_id: None,
        })
    };
    set(ServiceState::Running, 0)?;

    let dir = super::default_state_dir();
    let result = prepare_state_dir(&dir).and_then(|()| {
        let _guard = init_file_logging(&dir.join("logs"));
        if let Ok(service) = open(ServiceAccess::CHANGE_CONFIG) {
            let _ = set_recovery(&service);
        }
        event(EventKind::Info, "Ward agent started");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(serve(&dir, stop))
    });
    // A non-zero exit code makes the service control manager apply the recovery actions.
    set(ServiceState::Stopped, u32::from(result.is_err()))?;
    if result.is_ok() {
        event(EventKind::Info, "Ward agent stopped");
    }
    result
}

fn init_file_logging(dir: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("ward-agent")
        .filename_suffix("log")
        .max_log_files(14)
        .build(dir)
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .try_init()
        .ok()?;
    Some(guard)
}

/// Enrolls when needed (retrying until it works or the service stops), then runs.
async fn serve(dir: &Path, stop: Arc<tokio::sync::Notify>) -> anyhow::Result<()> {
    let mut wait = Duration::from_secs(30);
    while !State::is_enrolled(dir) {
        match settings(dir)? {
            None => {
                event(
                    EventKind::Warning,
                    "Ward agent is not enrolled and has no enrollment settings in HKLM\\SOFTWARE\\Ward; \
                     reinstall with WARD_SERVER, WARD_ENROLL_SECRET and WARD_CA",
                );
                stop.notified().await;
                return Ok(());
            }
            Some(bootstrap) => match enroll_with(dir, &bootstrap).await {
                Ok(state) => {
                    forget_secret(dir);
                    event(
                        EventKind::Info,
                        &format!(
                            "Ward agent enrolled with {} as {}",
                            state.enrollment.server, state.enrollment.agent_id
                        ),
                    );
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "enrollment failed; retrying");
                    event(
                        EventKind::Warning,
                        &format!(
                            "Ward agent enrollment failed, retrying in {} s: {e:#}",
                            wait.as_secs()
                        ),
                    );
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.notified() => return Ok(()),
                    }
                    wait = (wait * 2).min(Duration::from_secs(3600));
                }
            },
        }
    }
    let config = AgentConfig::load(&dir.join(CONFIG_FILE), false)?;
    let state = State::load(dir)?;
    let mut agent = Agent::new(state, config)?;
    agent.run_forever(stop.notified()).await?;
    Ok(())
}

/// Where the enrollment secret waits, inside the state directory, until enrollment succeeds.
const BOOTSTRAP_SECRET: &str = "bootstrap-secret";

/// The installer's settings. `HKLM\SOFTWARE\Ward` is readable by local users, so a secret found
/// there is moved at once, before any enrollment attempt, into the state directory (SYSTEM and
/// Administrators only) and deleted from the registry: it is exposed from the install until the
/// service's first start, not until the collector is first reachable.
fn settings(dir: &Path) -> anyhow::Result<Option<Bootstrap>> {
    let hklm = winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE);
    let key = hklm.open_subkey(SETTINGS_KEY).ok();
    let get = |name: &str| {
        key.as_ref()
            .and_then(|k| k.get_value::<String, _>(name).ok())
            .filter(|v| !v.trim().is_empty())
    };
    let secret_path = dir.join(BOOTSTRAP_SECRET);
    if let Some(secret) = get("EnrollSecret") {
        crate::state::create_private_dir(dir)?;
        crate::state::write_atomic(&secret_path, secret.trim().as_bytes(), true)?;
        delete_registry_secret();
        tracing::info!("enrollment secret moved from the registry into the state directory");
    }
    let (server, ca) = (get("Server"), get("CA"));
    if server.is_none() && ca.is_none() {
        // Nothing to enroll with (a secret alone, say after the settings were removed).
        return Ok(None);
    }
    let secret = std::fs::read_to_string(&secret_path).ok();
    Ok(super::bootstrap(
        server.as_deref(),
        secret.as_deref(),
        ca.as_deref(),
    )?)
}

async fn enroll_with(dir: &Path, b: &Bootstrap) -> anyhow::Result<State> {
    crate::state::create_private_dir(dir)?;
    let ca_path = match &b.ca {
        CaSource::File(path) => path.clone(),
        CaSource::Pem(pem) => {
            let path = dir.join("bootstrap-ca.pem");
            crate::state::write_atomic(&path, pem.as_bytes(), true)?;
            path
        }
    };
    // `settings` left the secret there; it stays for the retries until enrollment succeeds.
    let secret_path = dir.join(BOOTSTRAP_SECRET);
    if !secret_path.exists() {
        crate::state::write_atomic(&secret_path, b.secret.as_bytes(), true)?;
    }
    Ok(enroll(EnrollArgs {
        server: &b.server,
        ca: &ca_path,
        secret_file: &secret_path,
        state_dir: dir,
        force: false,
    })
    .await?)
}

/// The enrollment secret is not needed once this agent has its own key.
fn forget_secret(dir: &Path) {
    delete_registry_secret();
    let _ = std::fs::remove_file(dir.join(BOOTSTRAP_SECRET));
}

fn delete_registry_secret() {
    let hklm = winreg::RegKey::predef(winreg::enums::HKEY_LOCAL_MACHINE);
    if let Ok(key) = hklm.open_subkey_with_flags(SETTINGS_KEY, winreg::enums::KEY_SET_VALUE) {
        let _ = key.delete_value("EnrollSecret");
    }
}
