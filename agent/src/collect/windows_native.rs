//! The real [`WindowsSource`]: registry through `winreg`, WMI through the `wmi` crate, file
//! versions and the Windows Update Agent through `windows` (COM). Only calls; no interpretation.

#![allow(unsafe_code)] // COM and version-resource calls; each block says what it relies on.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::os::windows::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::windows::WindowsSource;
use super::windows_parse::wua::{WuaHistoryEntry, WuaResult, WuaUpdate};
use super::windows_parse::{RegKey, RegValue, WmiRow, WmiValue, dates};

/// Reads this machine. WMI connections are opened on first use per namespace and kept for the
/// collection run (they are bound to the thread that opened them).
#[derive(Default)]
pub struct NativeSource {
    connections: RefCell<HashMap<String, wmi::WMIConnection>>,
}

impl std::fmt::Debug for NativeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NativeSource")
    }
}

impl WindowsSource for NativeSource {
    fn registry(&self, path: &str) -> Result<Option<RegKey>, String> {
        use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY, RegType};
        use winreg::types::FromRegValue;
        let hklm = winreg::RegKey::predef(HKEY_LOCAL_MACHINE);
        let key = match hklm.open_subkey_with_flags(path, KEY_READ | KEY_WOW64_64KEY) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let mut values = BTreeMap::new();
        for item in key.enum_values() {
            let (name, v) = item.map_err(|e| e.to_string())?;
            let value = match v.vtype {
                RegType::REG_SZ | RegType::REG_EXPAND_SZ => {
                    String::from_reg_value(&v).ok().map(RegValue::Str)
                }
                RegType::REG_MULTI_SZ => Vec::<String>::from_reg_value(&v)
                    .ok()
                    .map(RegValue::MultiStr),
                RegType::REG_DWORD => u32::from_reg_value(&v).ok().map(RegValue::Dword),
                RegType::REG_QWORD => u64::from_reg_value(&v).ok().map(RegValue::Qword),
                _ => Some(RegValue::Binary(v.bytes.into_owned())),
            };
            if let Some(value) = value {
                values.insert(name, value);
            }
        }
        Ok(Some(RegKey(values)))
    }

    fn wmi(&self, namespace: &str, query: &str) -> Result<Vec<WmiRow>, String> {
        let mut connections = self.connections.borrow_mut();
        if !connections.contains_key(namespace) {
            let connection =
                wmi::WMIConnection::with_namespace_path(namespace).map_err(wmi_error)?;
            if namespace.contains("MicrosoftVolumeEncryption") {
                // BitLocker's provider insists on an encrypted channel.
                connection
                    .set_proxy_blanket(wmi::AuthLevel::PktPrivacy)
                    .map_err(wmi_error)?;
            }
            connections.insert(namespace.to_owned(), connection);
        }
        let connection = connections
            .get(namespace)
            .ok_or_else(|| "no WMI connection".to_owned())?;
        let rows: Vec<HashMap<String, wmi::Variant>> =
            connection.raw_query(query).map_err(wmi_error)?;
        Ok(rows
            .into_iter()
            .map(|r| WmiRow(r.into_iter().map(|(k, v)| (k, value(v))).collect()))
            .collect())
    }

    fn system_file_version(&self, relative: &str) -> Result<Option<String>, String> {
        let root = std::env::var_os("SystemRoot").unwrap_or_else(|| "C:\\Windows".into());
        let path = std::path::Path::new(&root).join("System32").join(relative);
        if !path.exists() {
            return Ok(None);
        }
        file_version(&path).map(Some)
    }

    fn windows_update(&self, limit: Duration) -> Result<WuaResult, String> {
        // One search at a time: a search that outlived its limit keeps its thread, and the next
        // collection reports that instead of stacking another.
        static SEARCHING: AtomicBool = AtomicBool::new(false);
        if SEARCHING.swap(true, Ordering::SeqCst) {
            return Err("the previous search has not finished yet".into());
        }
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("ward-wua".into())
            .spawn(move || {
                let result = wua_search().map_err(|e| format!("{e}"));
                SEARCHING.store(false, Ordering::SeqCst);
                let _ = tx.send(result);
            });
        if let Err(e) = spawned {
            SEARCHING.store(false, Ordering::SeqCst);
            return Err(format!("cannot start the search thread: {e}"));
        }
        match rx.recv_timeout(limit) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("no answer within {} s", limit.as_secs()))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err("the search thread ended without an answer".into())
            }
        }
    }
}

/// The WMI error with the common HRESULTs in words (WMI error constants).
fn wmi_error(e: wmi::WMIError) -> String {
    let text = e.to_string();
    let words = match &e {
        wmi::WMIError::HResultError { hres } => match *hres as u32 {
            0x8004_1003 => Some("access denied (needs administrator rights)"),
            0x8004_100E => Some("namespace not found"),
            0x8004_1010 => Some("class not found"),
            0x8004_1017 => Some("invalid query"),
            0x8004_1013 => Some("provider failed to load"),
            _ => None,
        },
        _ => None,
    };
    match words {
        Some(w) => format!("{w} ({text})"),
        None => text,
    }
}

fn value(v: wmi::Variant) -> WmiValue {
    use wmi::Variant as V;
    match v {
        V::String(s) => WmiValue::Str(s),
        V::I1(n) => WmiValue::Int(n.into()),
        V::I2(n) => WmiValue::Int(n.into()),
        V::I4(n) => WmiValue::Int(n.into()),
        V::I8(n) => WmiValue::Int(n),
        V::UI1(n) => WmiValue::UInt(n.into()),
        V::UI2(n) => WmiValue::UInt(n.into()),
        V::UI4(n) => WmiValue::UInt(n.into()),
        V::UI8(n) => WmiValue::UInt(n),
        V::R4(n) => WmiValue::Real(n.into()),
        V::R8(n) => WmiValue::Real(n),
        V::Bool(b) => WmiValue::Bool(b),
        V::Array(items) => WmiValue::Array(items.into_iter().map(value).collect()),
        _ => WmiValue::Null,
    }
}

/// "major.minor.build.revision" from a file's fixed version resource.
fn file_version(path: &std::path::Path) -> Result<String, String> {
    use windows::Win32::Storage::FileSystem::{
        GetFileVersionInfoSizeW, GetFileVersionInfoW, VS_FIXEDFILEINFO, VerQueryValueW,
    };
    use windows::core::{PCWSTR, w};
    let wide: Vec<u16> = path
        .as_os_str()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect();
    // SAFETY: `wide` is NUL-terminated and outlives the calls; `buf` is `size` bytes long as
    // the API was told; VerQueryValueW returns a pointer into `buf` (alive below) to a
    // VS_FIXEDFILEINFO of `len` bytes, checked before it is read.
    unsafe {
        let size = GetFileVersionInfoSizeW(PCWSTR(wide.as_ptr()), None);
        if size == 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let mut buf = vec![0u8; size as usize];
        GetFileVersionInfoW(PCWSTR(wide.as_ptr()), None, size, buf.as_mut_ptr().cast())
            .map_err(|e| e.to_string())?;
        let mut info: *mut core::ffi::c_void = std::ptr::null_mut();
        let mut len = 0u32;
        if !VerQueryValueW(buf.as_ptr().cast(), w!("\\"), &mut info, &mut len).as_bool()
            || info.is_null()
            || (len as usize) < std::mem::size_of::<VS_FIXEDFILEINFO>()
        {
            return Err("no fixed version information".into());
        }
        let fixed = std::ptr::read_unaligned(info.cast::<VS_FIXEDFILEINFO>());
        Ok(format!(
            "{}.{}.{}.{}",
            fixed.dwFileVersionMS >> 16,
            fixed.dwFileVersionMS & 0xffff,
            fixed.dwFileVersionLS >> 16,
            fixed.dwFileVersionLS & 0xffff
        ))
    }
}

/// Most history entries kept: the newest successful install is among the first.
const HISTORY_LIMIT: i32 = 200;

/// Runs on its own thread: COM in the multithreaded apartment, one update session.
fn wua_search() -> windows::core::Result<WuaResult> {
    use windows::Win32::System::Com::{
        CLSCTX_ALL, COINIT_MULTITHREADED, CoCreateInstance, CoInitializeEx, CoUninitialize,
    };
    use windows::Win32::System::UpdateAgent::{
        ISystemInformation, IUpdateSession, SystemInformation, UpdateSession,
    };
    use windows::core::BSTR;

    // SAFETY: plain COM calls on interfaces the `windows` crate reference-counts; COM is
    // initialised for this thread first and uninitialised after every interface is dropped.
    unsafe {
        CoInitializeEx(None, COINIT_MULTITHREADED).ok()?;
        let result = (|| {
            let session: IUpdateSession = CoCreateInstance(&UpdateSession, None, CLSCTX_ALL)?;
            session.SetClientApplicationID(&BSTR::from("Ward agent"))?;
            let searcher = session.CreateUpdateSearcher()?;
            let found = searcher.Search(&BSTR::from("IsInstalled=0 and IsHidden=0"))?;
            let updates = found.Updates()?;
            let mut pending = Vec::new();
            for i in 0..updates.Count()? {
                let u = updates.get_Item(i)?;
                let mut categories = Vec::new();
                if let Ok(cats) = u.Categories() {
                    for c in 0..cats.Count().unwrap_or(0) {
                        if let Ok(name) = cats.get_Item(c).and_then(|c| c.Name()) {
                            categories.push(name.to_string());
                        }
                    }
                }
                pending.push(WuaUpdate {
                    title: u.Title()?.to_string(),
                    msrc_severity: u.MsrcSeverity().ok().map(|s| s.to_string()),
                    categories,
                });
            }
            let mut history = Vec::new();
            let total = searcher.GetTotalHistoryCount().unwrap_or(0);
            if total > 0 {
                let entries = searcher.QueryHistory(0, total.min(HISTORY_LIMIT))?;
                for i in 0..entries.Count()? {
                    let Ok(e) = entries.get_Item(i) else { continue };
                    history.push(WuaHistoryEntry {
                        title: e.Title().map(|t| t.to_string()).unwrap_or_default(),
                        operation: e.Operation().map(|o| o.0).unwrap_or_default(),
                        result_code: e.ResultCode().map(|r| r.0).unwrap_or_default(),
                        date: e.Date().ok().and_then(dates::ole_date),
                    });
                }
            }
            let reboot_required =
                CoCreateInstance::<_, ISystemInformation>(&SystemInformation, None, CLSCTX_ALL)
                    .and_then(|s| s.RebootRequired())
                    .ok()
                    .map(|b| b.0 != 0);
            Ok(WuaResult {
                pending,
                history,
                reboot_required,
            })
        })();
        CoUninitialize();
        result
    }
}
