//! [`ImportStore`] for [`MemoryStore`]: files and records under their own mutex.

use std::collections::{BTreeMap, HashMap};
use std::sync::PoisonError;

use uuid::Uuid;

use super::MemoryStore;
use crate::import::ImportRecord;
use crate::store::StoreError;
use crate::store::imports::{
    ImportFile, ImportOutcome, ImportStore, StoredRecord, check_import, stored_records,
};

#[derive(Debug, Default)]
pub(super) struct Imports {
    /// By file id (UUIDv7, so in import order).
    files: BTreeMap<Uuid, (ImportFile, Vec<StoredRecord>)>,
    by_hash: HashMap<String, Uuid>,
}

impl ImportStore for MemoryStore {
    fn put_import(
        &self,
        file: &ImportFile,
        records: &[ImportRecord],
    ) -> Result<ImportOutcome, StoreError> {
        check_import(file, records)?;
        let mut imports = self.imports.lock().unwrap_or_else(PoisonError::into_inner);
        let hash = file.sha256.to_ascii_lowercase();
        if let Some(id) = imports.by_hash.get(&hash)
            && let Some((existing, _)) = imports.files.get(id)
        {
            return Ok(ImportOutcome::Duplicate(existing.clone()));
        }
        if imports.files.contains_key(&file.id) {
            return Err(StoreError::Format(format!(
                "import file id {} exists",
                file.id
            )));
        }
        let stored = stored_records(file, records);
        imports.by_hash.insert(hash, file.id);
        imports.files.insert(file.id, (file.clone(), stored));
        Ok(ImportOutcome::Stored)
    }

    fn import_files(&self) -> Result<Vec<ImportFile>, StoreError> {
        let imports = self.imports.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(imports.files.values().map(|(f, _)| f.clone()).collect())
    }

    fn import_records(&self) -> Result<Vec<StoredRecord>, StoreError> {
        let imports = self.imports.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(imports
            .files
            .values()
            .flat_map(|(_, r)| r.iter().cloned())
            .collect())
    }

    fn import_record(&self, file_id: Uuid, index: u32) -> Result<Option<StoredRecord>, StoreError> {
        let imports = self.imports.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(imports
            .files
            .get(&file_id)
            .and_then(|(_, r)| r.get(index as usize))
            .cloned())
    }
}
