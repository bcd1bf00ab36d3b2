//! Backups of a collector: the data directory's small files plus a consistent snapshot of every
//! tree of the store, in one file; and restoring that file into an empty data directory.
//!
//! # File format (backup format 1)
//!
//! A gzip stream holding the magic line `WARD-BACKUP 1\n`, then records, each one tag byte and
//! its payload (integers big-endian):
//!
//! | tag | payload                                                   | meaning                         |
//! |-----|-----------------------------------------------------------|---------------------------------|
//! | `F` | path len `u16`, path (UTF-8, `/`-separated, relative), mode `u32`, len `u64`, bytes | a file of the data directory |
//! | `T` | name len `u16`, name                                      | the pairs that follow are this tree's |
//! | `K` | key len `u32`, key, value len `u32`, value                | one key and value of the current tree |
//! | `E` | records before it `u64`, SHA-256 (32) of every byte before the `E` | end: the file is complete |
//!
//! The store part (the `T` and `K` records, closed by its own `E`) is what
//! [`super::Store::backup`] writes; a running server streams it from `POST /api/v1/admin/backup`,
//! and `ward-collector backup` copies it, record by record, after the files, into the file's own
//! record stream. A reader that reaches the end of the stream without an `E` whose count and hash
//! match has a truncated or damaged file and refuses it.
//!
//! # Invariants
//!
//! - The store part is one point in time: the sled store pauses its committer (the only writer
//!   of reports and agents) after answering every write queued before the backup, and resumes it
//!   when the snapshot is written. So every write acknowledged before the backup started is in
//!   it, and no write is half in it. Ingest meanwhile queues, then answers 503 (the agents
//!   retry), so a backup of a large store should run at a quiet hour; see docs/operations.md.
//! - Every tree is copied, whatever its name, so trees added later need no change here.
//! - Restore checks the whole file (hash, count, the store format it holds) before it writes
//!   anything, writes only into an empty or missing directory, and removes what it wrote if it
//!   fails part-way.

use std::io::{self, BufRead, Read, Write};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

pub const MAGIC: &[u8] = b"WARD-BACKUP 1\n";

/// Largest file of the data directory a backup carries (config, certificates, secrets, catalog).
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Largest key or value a reader accepts (sled values are far smaller).
const MAX_PAIR_PART: u32 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("not a ward-collector backup (bad magic line)")]
    NotABackup,
    #[error("the backup is damaged or truncated: {0}")]
    Damaged(String),
    #[error("{0}")]
    Refused(String),
    #[error("store: {0}")]
    Store(#[from] super::StoreError),
}

/// Where [`super::Store::backup`] writes the store's trees.
pub trait BackupSink {
    fn tree(&mut self, name: &[u8]) -> io::Result<()>;
    fn pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()>;
}

/// One record of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    File {
        path: String,
        mode: u32,
        bytes: Vec<u8>,
    },
    Tree(Vec<u8>),
    Pair(Vec<u8>, Vec<u8>),
}

/// Writes records, hashing and counting them; [`RecordWriter::finish`] writes the `E` record.
pub struct RecordWriter<W: Write> {
    out: W,
    hash: Sha256,
    records: u64,
}

impl<W: Write> RecordWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            hash: Sha256::new(),
            records: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.out.write_all(bytes)
    }

    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        match record {
            Record::File { path, mode, bytes } => self.file(path, *mode, bytes),
            Record::Tree(name) => self.tree(name),
            Record::Pair(k, v) => self.pair(k, v),
        }
    }

    pub fn file(&mut self, path: &str, mode: u32, bytes: &[u8]) -> io::Result<()> {
        let len = u16::try_from(path.len()).map_err(|_| io::Error::other("path too long"))?;
        self.put(b"F")?;
        self.put(&len.to_be_bytes())?;
        self.put(path.as_bytes())?;
        self.put(&mode.to_be_bytes())?;
        self.put(&(bytes.len() as u64).to_be_bytes())?;
        self.put(bytes)?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end record and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let digest: [u8; 32] = self.hash.clone().finalize().into();
        self.out.write_all(b"E")?;
        self.out.write_all(&self.records.to_be_bytes())?;
        self.out.write_all(&digest)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> BackupSink for RecordWriter<W> {
    fn tree(&mut self, name: &[u8]) -> io::Result<()> {
        let len = u16::try_from(name.len()).map_err(|_| io::Error::other("tree name too long"))?;
        self.put(b"T")?;
        self.put(&len.to_be_bytes())?;
        self.put(name)?;
        self.records += 1;
        Ok(())
    }

    fn pair(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        let klen = u32::try_from(key.len()).map_err(|_| io::Error::other("key too long"))?;
        let vlen = u32::try_from(value.len()).map_err(|_| io::Error::other("value too long"))?;
        self.put(b"K")?;
        self.put(&klen.to_be_bytes())?;
        self.put(key)?;
        self.put(&vlen.to_be_bytes())?;
        self.put(value)?;
        self.records += 1;
        Ok(())
    }
}

/// Reads records and checks the `E` record against what it read.
pub struct RecordReader<R: Read> {
    input: R,
    hash: Sha256,
    records: u64,
    done: bool,
}

impl<R: Read> RecordReader<R> {
    pub fn new(input: R) -> Self {
        Self {
            input,
            hash: Sha256::new(),
            records: 0,
            done: false,
        }
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, BackupError> {
        let mut buf = vec![0; n];
        self.input.read_exact(&mut buf).map_err(truncated)?;
        self.hash.update(&buf);
        Ok(buf)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], BackupError> {
        let mut buf = [0; N];
        self.input.read_exact(&mut buf).map_err(truncated)?;
        self.hash.update(buf);
        Ok(buf)
    }

    /// The next record; `None` after a valid end record.
    pub fn next_record(&mut self) -> Result<Option<Record>, BackupError> {
        if self.done {
            return Ok(None);
        }
        let mut tag = [0u8; 1];
        self.input.read_exact(&mut tag).map_err(truncated)?;
        let record = match tag[0] {
            b'E' => {
                let mut count = [0u8; 8];
                let mut digest = [0u8; 32];
                self.input.read_exact(&mut count).map_err(truncated)?;
                self.input.read_exact(&mut digest).map_err(truncated)?;
                let expected: [u8; 32] = self.hash.clone().finalize().into();
                if u64::from_be_bytes(count) != self.records || digest != expected {
                    return Err(BackupError::Damaged(
                        "the end record does not match the contents (count or SHA-256)".into(),
                    ));
                }
                self.done = true;
                return Ok(None);
            }
            b'F' => {
                self.hash.update(tag);
                let len = u16::from_be_bytes(self.take_array()?);
                let path = String::from_utf8(self.take(len.into())?)
                    .map_err(|_| BackupError::Damaged("a file path is not UTF-8".into()))?;
                let mode = u32::from_be_bytes(self.take_array()?);
                let size = u64::from_be_bytes(self.take_array()?);
                if size > MAX_FILE_BYTES {
                    return Err(BackupError::Damaged(format!(
                        "file {path} is {size} bytes, more than {MAX_FILE_BYTES}"
                    )));
                }
                let bytes = self.take(size as usize)?;
                Record::File { path, mode, bytes }
            }
            b'T' => {
                self.hash.update(tag);
                let len = u16::from_be_bytes(self.take_array()?);
                Record::Tree(self.take(len.into())?)
            }
            b'K' => {
                self.hash.update(tag);
                let klen = u32::from_be_bytes(self.take_array()?);
                if klen > MAX_PAIR_PART {
                    return Err(BackupError::Damaged(format!("key of {klen} bytes")));
                }
                let key = self.take(klen as usize)?;
                let vlen = u32::from_be_bytes(self.take_array()?);
                if vlen > MAX_PAIR_PART {
                    return Err(BackupError::Damaged(format!("value of {vlen} bytes")));
                }
                Record::Pair(key, self.take(vlen as usize)?)
            }
            other => {
                return Err(BackupError::Damaged(format!(
                    "unknown record tag {other:#04x}"
                )));
            }
        };
        self.records += 1;
        Ok(Some(record))
    }
}

fn truncated(e: io::Error) -> BackupError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        BackupError::Damaged("it ends before its end record".into())
    } else {
        BackupError::Io(e)
    }
}

/// A file path inside the data directory, checked: relative, no `..`, no root.
pub fn safe_relative(path: &str) -> Result<PathBuf, BackupError> {
    let p = Path::new(path);
    let ok = !path.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p.to_owned())
    } else {
        Err(BackupError::Damaged(format!(
            "file path {path:?} is not a plain relative path"
        )))
    }
}

/// The data directory's files a backup carries: every regular file outside `skip_dir` (the
/// store) and below [`MAX_FILE_BYTES`], as (relative path, mode, bytes), in path order.
pub fn data_files(data_dir: &Path, skip_dir: &str) -> Result<Vec<Record>, BackupError> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = data_dir.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name();
            let rel_path = rel.join(&name);
            let kind = entry.file_type()?;
            if rel.as_os_str().is_empty() && name == skip_dir {
                continue;
            }
            if kind.is_dir() {
                stack.push(rel_path);
            } else if kind.is_file() {
                let meta = entry.metadata()?;
                if meta.len() > MAX_FILE_BYTES {
                    tracing::warn!(path = %rel_path.display(), "not in the backup: too large");
                    continue;
                }
                let Some(path) = rel_path.to_str() else {
                    tracing::warn!(path = %rel_path.display(), "not in the backup: not UTF-8");
                    continue;
                };
                #[cfg(unix)]
                let mode = {
                    use std::os::unix::fs::PermissionsExt;
                    meta.permissions().mode() & 0o7777
                };
                #[cfg(not(unix))]
                let mode = 0o600;
                out.push(Record::File {
                    path: path.replace(std::path::MAIN_SEPARATOR, "/"),
                    mode,
                    bytes: std::fs::read(entry.path())?,
                });
            }
        }
    }
    out.sort_by(|a, b| match (a, b) {
        (Record::File { path: a, .. }, Record::File { path: b, .. }) => a.cmp(b),
        _ => std::cmp::Ordering::Equal,
    });
    Ok(out)
}

/// Opens a backup file for reading: gunzips it and checks the magic line.
pub fn open_backup(path: &Path) -> Result<RecordReader<impl Read>, BackupError> {
    let file = std::fs::File::open(path)?;
    let mut input = io::BufReader::new(flate2::read::GzDecoder::new(io::BufReader::new(file)));
    let mut magic = Vec::new();
    input
        .by_ref()
        .take(MAGIC.len() as u64)
        .read_until(b'\n', &mut magic)?;
    if magic != MAGIC {
        return Err(BackupError::NotABackup);
    }
    Ok(RecordReader::new(input))
}

/// What a backup holds, for `restore`'s checks and messages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub files: Vec<String>,
    pub trees: usize,
    pub pairs: u64,
    /// The store format recorded in its `meta` tree.
    pub store_format: Option<u32>,
}

/// Reads a whole backup file and checks it; writes nothing.
pub fn verify(path: &Path) -> Result<BackupSummary, BackupError> {
    let mut reader = open_backup(path)?;
    let mut summary = BackupSummary::default();
    let mut tree: Option<Vec<u8>> = None;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::File { path, .. } => {
                safe_relative(&path)?;
                summary.files.push(path);
            }
            Record::Tree(name) => {
                summary.trees += 1;
                tree = Some(name);
            }
            Record::Pair(key, value) => {
                if tree.is_none() {
                    return Err(BackupError::Damaged("a key before any tree".into()));
                }
                if tree.as_deref() == Some(&b"meta"[..]) && key == super::sled_store::FORMAT_KEY {
                    let version = <[u8; 4]>::try_from(value.as_slice())
                        .map(u32::from_be_bytes)
                        .map_err(|_| BackupError::Damaged("unreadable format_version".into()))?;
                    summary.store_format = Some(version);
                }
                summary.pairs += 1;
            }
        }
    }
    Ok(summary)
}

/// Restores a backup into `data_dir`, which must be empty or missing. Checks the whole file
/// first; on failure removes what it wrote.
pub fn restore(
    backup: &Path,
    data_dir: &Path,
    store_dir: &str,
) -> Result<BackupSummary, BackupError> {
    let summary = verify(backup)?;
    let format = summary
        .store_format
        .ok_or_else(|| BackupError::Damaged("it holds no store (no meta/format_version)".into()))?;
    if format > super::sled_store::FORMAT_VERSION {
        return Err(BackupError::Refused(format!(
            "the backup holds store format {format}, newer than this build supports ({}); \
             restore it with a newer ward-collector",
            super::sled_store::FORMAT_VERSION
        )));
    }
    let existed = data_dir.exists();
    if existed && std::fs::read_dir(data_dir)?.next().is_some() {
        return Err(BackupError::Refused(format!(
            "{} is not empty: restore only into an empty or new directory",
            data_dir.display()
        )));
    }
    let result = write_restore(backup, data_dir, store_dir);
    if result.is_err() {
        // The directory was empty: remove everything this restore wrote.
        if existed {
            if let Ok(entries) = std::fs::read_dir(data_dir) {
                for entry in entries.flatten() {
                    let p = entry.path();
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(&p)
                    } else {
                        std::fs::remove_file(&p)
                    };
                }
            }
        } else {
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    result?;
    Ok(summary)
}

fn write_restore(backup: &Path, data_dir: &Path, store_dir: &str) -> Result<(), BackupError> {
    create_private_dir(data_dir)?;
    let mut reader = open_backup(backup)?;
    let db = super::sled_store::open_db(&data_dir.join(store_dir), super::sled_store::LOCK_WAIT)?;
    let mut tree: Option<sled::Tree> = None;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::File { path, mode, bytes } => {
                let target = data_dir.join(safe_relative(&path)?);
                if let Some(parent) = target.parent() {
                    create_private_dir(parent)?;
                }
                write_file(&target, mode, &bytes)?;
            }
            Record::Tree(name) => {
                tree = Some(db.open_tree(name).map_err(super::StoreError::from)?);
            }
            Record::Pair(key, value) => {
                let Some(tree) = tree.as_ref() else {
                    return Err(BackupError::Damaged("a key before any tree".into()));
                };
                tree.insert(key, value).map_err(super::StoreError::from)?;
            }
        }
    }
    db.flush().map_err(super::StoreError::from)?;
    Ok(())
}

fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

fn write_file(path: &Path, mode: u32, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Never wider than the owner's read and write: these are keys and secrets.
        options.mode(mode & 0o600 | 0o600);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_found() {
        let mut w = RecordWriter::new(Vec::new());
        w.file("tls/ca.pem", 0o600, b"pem").unwrap();
        w.tree(b"meta").unwrap();
        w.pair(b"k", b"v").unwrap();
        let bytes = w.finish().unwrap();
        let mut r = RecordReader::new(&bytes[..]);
        let mut got = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            got.push(rec);
        }
        assert_eq!(
            got,
            vec![
                Record::File {
                    path: "tls/ca.pem".into(),
                    mode: 0o600,
                    bytes: b"pem".to_vec()
                },
                Record::Tree(b"meta".to_vec()),
                Record::Pair(b"k".to_vec(), b"v".to_vec()),
            ]
        );
        // A flipped byte or a cut anywhere is refused.
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let mut r = RecordReader::new(&bad[..]);
            let result =
                std::iter::from_fn(|| r.next_record().transpose()).collect::<Result<Vec<_>, _>>();
            assert!(result.is_err(), "flip at {i}");
            let mut r = RecordReader::new(&bytes[..i]);
            let result =
                std::iter::from_fn(|| r.next_record().transpose()).collect::<Result<Vec<_>, _>>();
            assert!(result.is_err(), "cut at {i}");
        }
    }

    #[test]
    fn unsafe_paths_are_refused() {
        for p in ["../x", "/etc/passwd", "a/../../b", ""] {
            assert!(safe_relative(p).is_err(), "{p}");
        }
        assert!(safe_relative("tls/ca.pem").is_ok());
    }
}
