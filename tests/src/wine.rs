//! A Wine prefix for the Windows end-to-end tests (`windows_wine.rs`, `windows_service.rs`).
//!
//! Each [`Wine`] is a fresh WINEPREFIX in a temporary directory with its own persistent
//! wineserver (`wineserver -p`), booted once (by its first command), so the prefix's services.exe
//! starts once and every later `wine` command talks to the same one; without that, each command
//! would start a new wineserver and services.exe, which may auto-start an installed service
//! behind the test's back. The test-only ProcessPrng shim (Wine 8 lacks the function, Rust's
//! standard library imports it) goes into the prefix's `system32`, so every process the prefix
//! starts (the service under services.exe, msiexec's) finds it; it is never shipped.
//!
//! Every step has a timeout: the step runs in its own process group, which is killed when the
//! time is up, and the step fails with its name and what it printed. Output goes to files, not
//! pipes: a Wine command may leave prefix processes behind that would hold a pipe open forever.
//! Dropping the [`Wine`] stops its wineserver and with it every process of the prefix.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::bin_dir;

/// A step's default limit: generous, because a loaded 2-core CI machine is slow; nothing
/// asserts on time, the limit only stops a hung Wine from hanging the suite.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(180);
/// Booting a prefix and `msiexec` do more.
pub const LONG_STEP_TIMEOUT: Duration = Duration::from_secs(420);

/// What `scripts/artifacts.d/10-windows.sh` builds.
#[derive(Debug, Clone)]
pub struct WindowsArtifacts {
    pub exe: PathBuf,
    pub shim: PathBuf,
    pub msi: PathBuf,
}

/// The artifacts and `wine`, or why the Windows tests cannot run.
pub fn windows_artifacts() -> Result<WindowsArtifacts, String> {
    let target = bin_dir()
        .parent()
        .map(Path::to_path_buf)
        .ok_or("no target directory")?;
    let artifacts = WindowsArtifacts {
        exe: target.join("x86_64-pc-windows-gnu/release/ward-agent.exe"),
        shim: target.join("wine-shim/bcryptprimitives.dll"),
        msi: target.join("msi/ward-agent.msi"),
    };
    for p in [&artifacts.exe, &artifacts.shim, &artifacts.msi] {
        if !p.exists() {
            return Err(format!(
                "{} is missing (built by scripts/artifacts.d/10-windows.sh)",
                p.display()
            ));
        }
    }
    for tool in ["wine", "wineserver"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(format!("{tool} is not installed (Debian package wine64)"));
        }
    }
    Ok(artifacts)
}

/// Skips with a message, except under CI=true, where a missing tool or artifact is a failure.
pub fn skip_or_fail(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true and {why}: run scripts/test-all (or scripts/artifacts.d/10-windows.sh)");
    }
    println!("skipped: {why}");
}

/// A fresh, booted Wine prefix with its own wineserver.
pub struct Wine {
    dir: tempfile::TempDir,
    /// The agent, copied into the temporary directory (outside the prefix).
    pub exe: PathBuf,
    steps: std::cell::Cell<u32>,
}

impl Wine {
    /// Creates the prefix, starts its persistent wineserver, boots it and installs the shim.
    pub fn new(artifacts: &WindowsArtifacts) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin directory");
        std::fs::create_dir_all(dir.path().join("prefix")).expect("prefix directory");
        std::fs::copy(&artifacts.exe, bin.join("ward-agent.exe")).expect("copy the exe");
        let wine = Self {
            exe: bin.join("ward-agent.exe"),
            dir,
            steps: std::cell::Cell::new(0),
        };
        wine.ok("start the prefix's wineserver", "wineserver", &["-p"]);
        // The first command in an empty prefix makes Wine create and boot it (one wineboot).
        // Not `wineboot -i`: on a prefix being created that starts a second services.exe, and
        // with two, a service that CreateService registered is not found by OpenService (1060),
        // so msiexec's StartServices fails and the install rolls back.
        wine.run_for(
            "boot the prefix",
            "wine",
            &["cmd", "/c", "ver"],
            LONG_STEP_TIMEOUT,
        )
        .expect_success("boot the prefix");
        let system32 = wine.c_drive().join("windows/system32");
        std::fs::copy(&artifacts.shim, system32.join("bcryptprimitives.dll"))
            .expect("copy the ProcessPrng shim into system32");
        wine
    }

    /// The temporary directory holding the prefix, the agent and the steps' output.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn prefix(&self) -> PathBuf {
        self.dir.path().join("prefix")
    }

    /// `C:\` of the prefix, as a Linux path.
    pub fn c_drive(&self) -> PathBuf {
        self.prefix().join("drive_c")
    }

    /// Runs `program args` in this prefix within [`STEP_TIMEOUT`].
    pub fn run(&self, step: &str, program: &str, args: &[&str]) -> StepOutput {
        self.run_for(step, program, args, STEP_TIMEOUT)
    }

    /// Runs a step that must succeed; fails the test with its name and output otherwise.
    pub fn ok(&self, step: &str, program: &str, args: &[&str]) -> StepOutput {
        self.run(step, program, args).expect_success(step)
    }

    /// Runs `program args` in this prefix, in its own process group, which is killed (and the
    /// test failed with the step's name and output) after `timeout`.
    pub fn run_for(
        &self,
        step: &str,
        program: &str,
        args: &[&str],
        timeout: Duration,
    ) -> StepOutput {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        let out_path = self.dir.path().join(format!("step-{n}.out"));
        let err_path = self.dir.path().join(format!("step-{n}.err"));
        let file = |p: &Path| std::fs::File::create(p).expect("step output file");
        let mut child = Command::new(program)
            .args(args)
            .env("WINEPREFIX", self.prefix())
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env("WARD_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file(&out_path))
            .stderr(file(&err_path))
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{step}: cannot run {program}: {e}"));
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the step") {
                break status;
            }
            if started.elapsed() > timeout {
                let group = format!("-{}", child.id());
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = child.wait();
                let output = read_output(&out_path, &err_path);
                panic!(
                    "step {step:?} ({program} {args:?}) did not finish within {timeout:?}; \
                     its process group was killed. It printed:\n{}",
                    output.both()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let mut output = read_output(&out_path, &err_path);
        output.status = Some(status);
        output
    }

    /// `ward-agent.exe args` under Wine.
    pub fn agent(&self, step: &str, args: &[&str]) -> StepOutput {
        let exe = self.exe.to_string_lossy().into_owned();
        let mut all = vec![exe.as_str()];
        all.extend_from_slice(args);
        self.run(step, "wine", &all)
    }

    /// A registry value as `wine reg query KEY /v NAME` prints it (`None` when absent).
    pub fn reg_value(&self, key: &str, name: &str) -> Option<String> {
        let out = self.run(
            &format!("reg query {key} /v {name}"),
            "wine",
            &["reg", "query", key, "/v", name],
        );
        out.stdout.lines().find_map(|l| {
            let mut parts = l.split_whitespace();
            (parts.next() == Some(name)).then(|| parts.skip(1).collect::<Vec<_>>().join(" "))
        })
    }

    /// A Linux path as programs under Wine see it (drive Z: is `/`).
    pub fn win_path(path: &Path) -> String {
        format!("Z:{}", path.display()).replace('/', "\\")
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        // Stops the persistent wineserver and every process of the prefix (the service too).
        let _ = Command::new("wineserver")
            .arg("-k")
            .env("WINEPREFIX", self.prefix())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// What a step printed and how it ended.
#[derive(Debug, Clone)]
pub struct StepOutput {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    /// stdout as bytes, for JSON.
    pub stdout_bytes: Vec<u8>,
}

impl StepOutput {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// stdout and stderr, labelled, for failure messages.
    pub fn both(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }

    /// Fails the test with the step's name, status and output unless it succeeded.
    pub fn expect_success(self, step: &str) -> Self {
        assert!(
            self.success(),
            "step {step:?} failed ({:?}):\n{}",
            self.status,
            self.both()
        );
        self
    }

    pub fn as_output(&self) -> Option<Output> {
        self.status.map(|status| Output {
            status,
            stdout: self.stdout_bytes.clone(),
            stderr: self.stderr.clone().into_bytes(),
        })
    }
}

fn read_output(out: &Path, err: &Path) -> StepOutput {
    let stdout_bytes = std::fs::read(out).unwrap_or_default();
    StepOutput {
        status: None,
        stdout: String::from_utf8_lossy(&stdout_bytes).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(err).unwrap_or_default()).into_owned(),
        stdout_bytes,
    }
}
