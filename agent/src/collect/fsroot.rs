//! File reads below a root directory: `/` on a real machine, a `TempDir` in tests.
//!
//! Paths are always written as the machine sees them (`/etc/os-release`) and error messages name
//! that path, not the test directory, so a reason reads the same in a test and in the field.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Why a file that exists could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: permission denied (needs root)")]
    PermissionDenied { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl ReadError {
    pub(crate) fn new(path: &str, source: std::io::Error) -> Self {
        if source.kind() == ErrorKind::PermissionDenied {
            ReadError::PermissionDenied {
                path: path.to_owned(),
            }
        } else {
            ReadError::Io {
                path: path.to_owned(),
                source,
            }
        }
    }
}

/// A machine's file system, seen from `base`.
#[derive(Debug, Clone)]
pub struct Root {
    base: PathBuf,
}

impl Root {
    pub fn new(base: impl Into<PathBuf>) -> Self {
        Self { base: base.into() }
    }

    /// The real location of `path` (an absolute path as the machine sees it).
    pub fn path(&self, path: &str) -> PathBuf {
        self.base.join(path.trim_start_matches('/'))
    }

    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    /// The file's text (invalid UTF-8 replaced), `Ok(None)` when it does not exist.
    pub fn read(&self, path: &str) -> Result<Option<String>, ReadError> {
        self.read_bytes(path)
            .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// Like [`Root::read`], trimmed, with an empty file as `None`.
    pub fn read_trimmed(&self, path: &str) -> Result<Option<String>, ReadError> {
        Ok(self
            .read(path)?
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()))
    }

    pub fn read_bytes(&self, path: &str) -> Result<Option<Vec<u8>>, ReadError> {
        match std::fs::read(self.path(path)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(ReadError::new(path, e)),
        }
    }

    /// A gzip-compressed file's text (rotated logs), `Ok(None)` when it does not exist.
    pub fn read_gz(&self, path: &str) -> Result<Option<String>, ReadError> {
        use std::io::Read;
        let Some(bytes) = self.read_bytes(path)? else {
            return Ok(None);
        };
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut text)
            .map_err(|e| ReadError::new(path, e))?;
        Ok(Some(text))
    }

    /// Last modification time, `Ok(None)` when the path does not exist.
    pub fn modified(&self, path: &str) -> Result<Option<DateTime<Utc>>, ReadError> {
        match std::fs::metadata(self.path(path)).and_then(|m| m.modified()) {
            Ok(t) => Ok(Some(t.into())),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(ReadError::new(path, e)),
        }
    }

    /// Birth time (statx on Linux), `None` when missing or the file system does not record it.
    pub fn created(&self, path: &str) -> Option<DateTime<Utc>> {
        std::fs::metadata(self.path(path))
            .and_then(|m| m.created())
            .ok()
            .map(Into::into)
    }

    /// Names of the entries of a directory, sorted; empty when it does not exist or is unreadable.
    pub fn list(&self, path: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(path))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The newest modification time among the regular files directly in `dir`, skipping `skip`.
    pub fn newest_file(&self, dir: &str, skip: &[&str]) -> Option<DateTime<Utc>> {
        self.list(dir)
            .iter()
            .filter(|name| !skip.contains(&name.as_str()))
            .filter_map(|name| {
                let meta = std::fs::metadata(self.path(dir).join(name)).ok()?;
                meta.is_file().then(|| meta.modified().ok())?
            })
            .max()
            .map(Into::into)
    }

    pub fn base(&self) -> &Path {
        &self.base
    }
}

fn is_absent(e: &std::io::Error) -> bool {
    // ENOTDIR: a parent is a file, which for our purposes means "not there".
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_below_the_base_and_names_the_machine_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("etc/hostname"), "pc-0042\n").expect("write");
        let root = Root::new(dir.path());
        assert_eq!(
            root.read_trimmed("/etc/hostname").expect("read").as_deref(),
            Some("pc-0042")
        );
        assert!(root.read("/etc/missing").expect("absent is ok").is_none());
        assert!(
            root.read("/etc/hostname/x")
                .expect("notdir is absent")
                .is_none()
        );
        let err = root.read("/etc").expect_err("a directory is an error");
        assert!(err.to_string().starts_with("/etc: "), "{err}");
    }

    #[test]
    fn reads_gzip_files() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello").expect("gz");
        std::fs::write(dir.path().join("x.gz"), enc.finish().expect("gz")).expect("write");
        let root = Root::new(dir.path());
        assert_eq!(
            root.read_gz("/x.gz").expect("read").as_deref(),
            Some("hello")
        );
    }
}
