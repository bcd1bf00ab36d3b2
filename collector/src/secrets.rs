//! Random secrets, their hashes, and files that hold them (mode 0600).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::KeyHash;

/// A new 256-bit secret as 64 hex digits.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash(secret: &str) -> KeyHash {
    Sha256::digest(secret.trim().as_bytes()).into()
}

/// Compares two hashes without an early exit, so timing says nothing about where they differ.
pub fn hashes_equal(a: &KeyHash, b: &KeyHash) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Creates `path` with mode 0600 and writes `contents`; fails if the file exists.
pub fn write_new_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Reads a secret file, trimming the trailing newline.
pub fn read_secret(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let secret = text.trim().to_owned();
    if secret.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is empty", path.display()),
        ));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hash_compares() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(hashes_equal(&hash(&a), &hash(&format!("{a}\n"))));
        assert!(!hashes_equal(&hash(&a), &hash(&b)));
    }

    #[test]
    fn private_files_are_0600_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        write_new_private(&path, b"one").unwrap();
        assert!(write_new_private(&path, b"two").is_err());
        assert_eq!(read_secret(&path).unwrap(), "one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
