//! [`ImportStore`] for [`SledStore`]: imported files and their records in three trees of their
//! own, added in store format 2 (a build without imports ignores them; backups copy them with
//! every other tree).
//!
//! | tree             | key                                   | value                  |
//! |------------------|---------------------------------------|------------------------|
//! | `import_files`   | file id (16, UUIDv7: import order)    | [`ImportFile`] JSON    |
//! | `import_hashes`  | SHA-256 of the file's bytes (32)      | file id (16)           |
//! | `import_records` | file id (16) ++ position (`u32` BE)   | [`StoredRecord`] JSON  |
//!
//! A file and its records are written in one multi-tree transaction (which also makes the
//! duplicate check on `import_hashes`), then made durable by a flush through the committer
//! before the call returns, like the exceptions register. No report write reads these trees.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use uuid::Uuid;

use super::{SledStore, decode, to_json};
use crate::import::ImportRecord;
use crate::store::imports::{
    ImportFile, ImportOutcome, ImportStore, StoredRecord, check_import, stored_records,
};
use crate::store::{Store, StoreError};

pub(super) const FILES_TREE: &str = "import_files";
pub(super) const HASHES_TREE: &str = "import_hashes";
pub(super) const RECORDS_TREE: &str = "import_records";

/// Why the transaction stopped without writing.
enum Stop {
    Duplicate(Uuid),
    Failed(StoreError),
}

fn record_key(file: Uuid, index: u32) -> [u8; 20] {
    let mut key = [0u8; 20];
    key[..16].copy_from_slice(file.as_bytes());
    key[16..].copy_from_slice(&index.to_be_bytes());
    key
}

impl SledStore {
    fn import_trees(&self) -> Result<(sled::Tree, sled::Tree, sled::Tree), StoreError> {
        let db = &self.trees.db;
        Ok((
            db.open_tree(FILES_TREE)?,
            db.open_tree(HASHES_TREE)?,
            db.open_tree(RECORDS_TREE)?,
        ))
    }
}

impl ImportStore for SledStore {
    fn put_import(
        &self,
        file: &ImportFile,
        records: &[ImportRecord],
    ) -> Result<ImportOutcome, StoreError> {
        check_import(file, records)?;
        let hash: Vec<u8> = hex::decode(&file.sha256)
            .map_err(|e| StoreError::Format(format!("import {}: bad sha256: {e}", file.name)))?;
        let file_value = to_json(file)?;
        let values = stored_records(file, records)
            .iter()
            .map(|r| Ok((record_key(file.id, r.index), to_json(r)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let (files, hashes, recs) = self.import_trees()?;
        let result = (&files, &hashes, &recs).transaction(|(files, hashes, recs)| {
            if let Some(existing) = hashes.get(&hash)? {
                let id = Uuid::from_slice(&existing).map_err(|_| {
                    ConflictableTransactionError::Abort(Stop::Failed(StoreError::Format(
                        "import_hashes holds a value that is not a file id".into(),
                    )))
                })?;
                return Err(ConflictableTransactionError::Abort(Stop::Duplicate(id)));
            }
            if files
                .insert(file.id.as_bytes(), file_value.as_slice())?
                .is_some()
            {
                return Err(ConflictableTransactionError::Abort(Stop::Failed(
                    StoreError::Format(format!("import file id {} exists", file.id)),
                )));
            }
            hashes.insert(hash.as_slice(), file.id.as_bytes())?;
            for (key, value) in &values {
                recs.insert(&key[..], value.as_slice())?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                self.flush()?;
                Ok(ImportOutcome::Stored)
            }
            Err(TransactionError::Abort(Stop::Duplicate(id))) => {
                // The first copy may still be on its way to the disk.
                self.flush()?;
                let raw = files
                    .get(id.as_bytes())?
                    .ok_or_else(|| StoreError::Format(format!("import file {id} is missing")))?;
                Ok(ImportOutcome::Duplicate(decode(
                    FILES_TREE,
                    id.as_bytes(),
                    &raw,
                )?))
            }
            Err(TransactionError::Abort(Stop::Failed(e))) => Err(e),
            Err(TransactionError::Storage(e)) => Err(StoreError::Sled(e)),
        }
    }

    fn import_files(&self) -> Result<Vec<ImportFile>, StoreError> {
        let (files, _, _) = self.import_trees()?;
        files
            .iter()
            .map(|kv| {
                let (key, raw) = kv?;
                decode(FILES_TREE, &key, &raw)
            })
            .collect()
    }

    fn import_records(&self) -> Result<Vec<StoredRecord>, StoreError> {
        let (_, _, recs) = self.import_trees()?;
        recs.iter()
            .map(|kv| {
                let (key, raw) = kv?;
                decode(RECORDS_TREE, &key, &raw)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Retention;
    use crate::store::contract::{import_file, import_record, t0};

    #[test]
    fn imports_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let file = import_file("a.txt", b"bytes", 1);
        {
            let store = SledStore::open(dir.path(), Retention::default()).unwrap();
            store
                .put_import(&file, &[import_record("pc1", t0())])
                .unwrap();
        }
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        assert_eq!(store.import_files().unwrap(), vec![file.clone()]);
        assert_eq!(store.import_records().unwrap().len(), 1);
        let again = import_file("b.txt", b"bytes", 1);
        assert_eq!(
            store
                .put_import(&again, &[import_record("pc1", t0())])
                .unwrap(),
            ImportOutcome::Duplicate(file)
        );
    }
}
