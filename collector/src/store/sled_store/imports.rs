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
//! The transaction holds the store's `direct_writes` gate, which `backup` closes while it
//! copies: a backup holds an import whole or not at all (the committer's pause does not cover
//! writes made outside it).

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
        // Not while a backup copies the trees (it would see the records without the file).
        let direct = self.direct_write();
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
        // The flush goes through the committer, which a backup pauses: never wait for it here.
        drop(direct);
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

    fn import_record(&self, file_id: Uuid, index: u32) -> Result<Option<StoredRecord>, StoreError> {
        let (_, _, recs) = self.import_trees()?;
        let key = record_key(file_id, index);
        recs.get(key)?
            .map(|raw| decode(RECORDS_TREE, &key, &raw))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Retention;
    use crate::store::contract::{import_file, import_record, t0};

    /// A copied tree: its name, keys and values.
    type Copied = (String, Vec<Vec<u8>>, Vec<Vec<u8>>);

    /// Collects a backup's trees and, once the backup has copied one import tree and is about
    /// to copy the next, starts an import on another thread and gives it time to land.
    struct RacingSink {
        trees: Vec<Copied>,
        import_trees_seen: usize,
        start: Option<std::sync::mpsc::Sender<()>>,
    }

    impl crate::store::backup::BackupSink for RacingSink {
        fn tree(&mut self, name: &[u8]) -> std::io::Result<()> {
            let name = String::from_utf8_lossy(name).into_owned();
            if [FILES_TREE, HASHES_TREE, RECORDS_TREE].contains(&name.as_str()) {
                self.import_trees_seen += 1;
                if self.import_trees_seen == 2
                    && let Some(start) = self.start.take()
                {
                    let _ = start.send(());
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
            }
            self.trees.push((name, Vec::new(), Vec::new()));
            Ok(())
        }
        fn pair(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
            if let Some((_, keys, values)) = self.trees.last_mut() {
                keys.push(key.to_vec());
                values.push(value.to_vec());
            }
            Ok(())
        }
    }

    /// An import racing a backup is in the copy whole or not at all: every record's file and
    /// every hash's file are in it. (Without the gate the import's transaction lands between
    /// the copy of one import tree and the next, and the copy holds records of no file.)
    #[test]
    fn a_backup_holds_an_import_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), Retention::default()).unwrap();
        let first = import_file("first.txt", b"first", 1);
        store
            .put_import(&first, &[import_record("pc1", t0())])
            .unwrap();
        let racing = import_file("racing.txt", b"racing", 3);
        let records: Vec<_> = (0..3)
            .map(|i| import_record(&format!("pc-r{i}"), t0()))
            .collect();
        let (start, started) = std::sync::mpsc::channel();
        let mut sink = RacingSink {
            trees: Vec::new(),
            import_trees_seen: 0,
            start: Some(start),
        };
        std::thread::scope(|s| {
            let (store, racing, records) = (&store, &racing, &records);
            let importer = s.spawn(move || {
                if started.recv().is_ok() {
                    store.put_import(racing, records).unwrap();
                }
            });
            store.backup(&mut sink).unwrap();
            drop(sink.start.take());
            importer.join().unwrap();
        });
        let tree = |name: &str| {
            sink.trees
                .iter()
                .find(|(n, _, _)| n == name)
                .unwrap_or_else(|| panic!("no tree {name} in the backup"))
        };
        let file_ids: Vec<&[u8]> = tree(FILES_TREE).1.iter().map(Vec::as_slice).collect();
        for key in &tree(RECORDS_TREE).1 {
            assert!(
                file_ids.contains(&&key[..16]),
                "a record of a file the backup does not hold"
            );
        }
        for value in &tree(HASHES_TREE).2 {
            assert!(file_ids.contains(&value.as_slice()), "a hash of no file");
        }
        assert_eq!(
            tree(HASHES_TREE).2.len(),
            file_ids.len(),
            "a file without its hash"
        );
        // The racing import was not lost: it is stored once the backup is done.
        assert_eq!(store.import_files().unwrap().len(), 2);
        assert_eq!(store.import_records().unwrap().len(), 4);
    }

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
