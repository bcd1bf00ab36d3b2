//! External commands behind a small trait, so readers can be fed captured outputs in tests.
//!
//! Invariant: a command never outlives its timeout. [`SystemCommands`] polls the child and kills it
//! when the deadline passes; output is read on two helper threads so a chatty child cannot block on a
//! full pipe, and at most [`MAX_OUTPUT`] bytes of each stream are kept.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Timeout for ordinary, quick tools (`firewall-cmd`, `testparm`, `sw_vers`...).
pub const QUICK: Duration = Duration::from_secs(10);
/// Timeout for package manager simulations (`apt-get -s`, `dnf check-update`).
pub const PACKAGE_MANAGER: Duration = Duration::from_secs(60);
/// Bytes kept of each of stdout and stderr; the rest is read and dropped.
pub const MAX_OUTPUT: usize = 8 * 1024 * 1024;

/// What a finished command printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CmdOutput {
    /// Exit code; `None` when the process was ended by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// "exited with status 1: E: first line of stderr", for error entries.
    pub fn failure(&self, program: &str) -> String {
        let status = match self.code {
            Some(code) => format!("{program} exited with status {code}"),
            None => format!("{program} was ended by a signal"),
        };
        let detail = self
            .stderr
            .lines()
            .chain(self.stdout.lines())
            .map(str::trim)
            .find(|l| !l.is_empty());
        match detail {
            Some(line) => format!("{status}: {}", clip(line, 200)),
            None => status,
        }
    }
}

/// Why a command produced no output at all.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    #[error("{program} not found")]
    NotFound { program: String },
    #[error("could not start {program}: permission denied")]
    PermissionDenied { program: String },
    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} did not finish within {} s and was killed", timeout.as_secs())]
    Timeout { program: String, timeout: Duration },
    #[error("waiting for {program} failed: {source}")]
    Wait {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// Runs external programs. Implementations set a C locale so outputs parse the same everywhere.
pub trait Commands {
    /// Where `program` would be run from, or `None` when it is not installed.
    fn find(&self, program: &str) -> Option<PathBuf>;

    /// Runs `program` with `args`, killing it after `timeout`. A non-zero exit is not an error here:
    /// callers decide what an exit code means (dnf uses 100 for "updates available").
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CmdOutput, CmdError>;
}

/// The real thing: `std::process` with a polling wait loop.
#[derive(Debug, Clone, Default)]
pub struct SystemCommands;

/// Directories searched after `PATH`: an agent started by a non-login service manager may miss
/// the sbin directories where `smbd`, `nft` and `iptables` live.
const EXTRA_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

impl Commands for SystemCommands {
    fn find(&self, program: &str) -> Option<PathBuf> {
        if program.contains('/') {
            let path = PathBuf::from(program);
            return is_executable(&path).then_some(path);
        }
        let from_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        let extra = EXTRA_DIRS.iter().map(PathBuf::from);
        from_path.into_iter().chain(extra).find_map(|dir| {
            let candidate = dir.join(executable_name(program));
            is_executable(&candidate).then_some(candidate)
        })
    }

    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CmdOutput, CmdError> {
        let path = self.find(program).ok_or_else(|| CmdError::NotFound {
            program: program.to_owned(),
        })?;
        let mut child = Command::new(&path)
            .args(args)
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| match source.kind() {
                std::io::ErrorKind::PermissionDenied => CmdError::PermissionDenied {
                    program: program.to_owned(),
                },
                std::io::ErrorKind::NotFound => CmdError::NotFound {
                    program: program.to_owned(),
                },
                _ => CmdError::Spawn {
                    program: program.to_owned(),
                    source,
                },
            })?;
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);

        let deadline = Instant::now() + timeout;
        let mut pause = Duration::from_millis(5);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    // Best effort: the process may have exited between try_wait and kill.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CmdError::Timeout {
                        program: program.to_owned(),
                        timeout,
                    });
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(source) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CmdError::Wait {
                        program: program.to_owned(),
                        source,
                    });
                }
            }
        };
        // A grandchild may still hold the pipes open; don't wait for it for long.
        let collect = |rx: Option<mpsc::Receiver<Vec<u8>>>| {
            rx.and_then(|rx| rx.recv_timeout(Duration::from_secs(2)).ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .unwrap_or_default()
        };
        Ok(CmdOutput {
            code: status.code(),
            stdout: collect(stdout),
            stderr: collect(stderr),
        })
    }
}

/// Reads a pipe to its end on a helper thread, keeping the first [`MAX_OUTPUT`] bytes.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ward-cmd-output".into())
        .spawn(move || {
            let mut kept = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                match pipe.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = MAX_OUTPUT.saturating_sub(kept.len());
                        kept.extend_from_slice(&chunk[..n.min(room)]);
                    }
                }
            }
            let _ = tx.send(kept);
        });
    // If no thread could be started the receiver sees a closed channel: empty output.
    drop(spawned);
    rx
}

fn executable_name(program: &str) -> String {
    if cfg!(windows) && !program.ends_with(".exe") {
        format!("{program}.exe")
    } else {
        program.to_owned()
    }
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Canned outputs for tests, keyed by the full command line (`"apt-get -s dist-upgrade"`).
#[cfg(test)]
#[derive(Debug, Default)]
pub struct FakeCommands {
    outputs: std::collections::HashMap<String, FakeResult>,
    installed: std::collections::HashSet<String>,
}

#[cfg(test)]
#[derive(Debug, Clone)]
enum FakeResult {
    Output(CmdOutput),
    Timeout,
}

#[cfg(test)]
impl FakeCommands {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an output for `command_line`; the program counts as installed.
    pub fn with(mut self, command_line: &str, code: i32, stdout: &str, stderr: &str) -> Self {
        self.installed.insert(program_of(command_line));
        self.outputs.insert(
            command_line.to_owned(),
            FakeResult::Output(CmdOutput {
                code: Some(code),
                stdout: stdout.to_owned(),
                stderr: stderr.to_owned(),
            }),
        );
        self
    }

    /// `command_line` hangs until it is killed.
    pub fn with_timeout(mut self, command_line: &str) -> Self {
        self.installed.insert(program_of(command_line));
        self.outputs
            .insert(command_line.to_owned(), FakeResult::Timeout);
        self
    }

    /// `program` exists but none of its command lines were captured.
    pub fn installed(mut self, program: &str) -> Self {
        self.installed.insert(program.to_owned());
        self
    }
}

#[cfg(test)]
fn program_of(command_line: &str) -> String {
    command_line
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
impl Commands for FakeCommands {
    fn find(&self, program: &str) -> Option<PathBuf> {
        self.installed
            .contains(program)
            .then(|| PathBuf::from("/usr/bin").join(program))
    }

    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CmdOutput, CmdError> {
        let line = std::iter::once(program)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        match self.outputs.get(&line) {
            Some(FakeResult::Output(out)) => Ok(out.clone()),
            Some(FakeResult::Timeout) => Err(CmdError::Timeout {
                program: program.to_owned(),
                timeout,
            }),
            None if self.installed.contains(program) => Ok(CmdOutput {
                code: Some(127),
                stdout: String::new(),
                stderr: format!("fake: no captured output for `{line}`"),
            }),
            None => Err(CmdError::NotFound {
                program: program.to_owned(),
            }),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn runs_a_command_and_captures_both_streams() {
        let out = SystemCommands
            .run("sh", &["-c", "echo out; echo err >&2; exit 3"], QUICK)
            .expect("sh runs");
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.failure("sh"), "sh exited with status 3: err");
    }

    #[test]
    fn kills_a_command_at_its_timeout() {
        let started = Instant::now();
        let err = SystemCommands
            .run("sleep", &["30"], Duration::from_millis(200))
            .expect_err("times out");
        assert!(matches!(err, CmdError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_missing_program_is_not_found() {
        let err = SystemCommands
            .run("ward-no-such-program", &[], QUICK)
            .expect_err("missing");
        assert!(matches!(err, CmdError::NotFound { .. }));
        assert!(SystemCommands.find("ward-no-such-program").is_none());
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("abc", 10), "abc");
    }
}
