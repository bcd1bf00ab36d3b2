//! The store reads the estate makes, in one place.

use ward_shared::Report;

use crate::store::{DeviceSummary, Store, StoreError, StoredRecord};

/// Every agent device's summary and newest report, in device id order.
pub fn for_each_latest(
    store: &dyn Store,
    f: &mut dyn FnMut(DeviceSummary, Report),
) -> Result<(), StoreError> {
    for summary in store.devices()? {
        if let Some(latest) = store.history(summary.id, 1)?.pop() {
            f(summary, latest.report);
        }
    }
    Ok(())
}

/// One agent device's summary and newest report.
pub fn latest(
    store: &dyn Store,
    id: uuid::Uuid,
) -> Result<Option<(DeviceSummary, Report)>, StoreError> {
    let Some(summary) = store.device(id)? else {
        return Ok(None);
    };
    Ok(store
        .history(id, 1)?
        .pop()
        .map(|latest| (summary, latest.report)))
}

/// Every stored import record.
pub fn for_each_import_record(
    store: &dyn Store,
    f: &mut dyn FnMut(StoredRecord),
) -> Result<(), StoreError> {
    for r in store.import_records()? {
        f(r);
    }
    Ok(())
}

/// One import record.
pub fn import_record(
    store: &dyn Store,
    file: uuid::Uuid,
    index: u32,
) -> Result<Option<StoredRecord>, StoreError> {
    store.import_record(file, index)
}
