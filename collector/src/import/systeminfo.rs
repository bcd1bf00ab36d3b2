//! `systeminfo` output -> one record per host.
//!
//! Accepted: `/fo list` (the default), `/fo table` and `/fo csv`, one or several hosts
//! (`systeminfo /s HOST` runs appended to one file), any encoding [`super::text`] reads, prompt
//! lines and banners around the output.
//!
//! Labels are localised, so each is looked up by meaning in [`LABELS`] (English, German, French,
//! Spanish, Italian, Dutch, Russian, Chinese). Sources of the table: the real captures under
//! `realdata/systeminfo` (en, es, fr, it, ru: bitsadmin/wesng validation files) and, for de, nl
//! and zh, Microsoft's localised `systeminfo.exe` strings as printed on those systems. Where a
//! label is not in the table the value's shape still finds what the risk engine needs: the OS
//! version line (`6.1.7601 ...`), the OS name before it, the `*-based PC` system type, the
//! hotfix list (`[01]: KB...`) and the processor lines.
//!
//! Dates are local time in the user's date format: the day order is read from the dates
//! themselves (a part over 12), else from the language (English: month first), and the
//! `Time Zone` line's offset turns them into UTC (daylight saving is not known and ignored).
//! systeminfo cuts long hotfix lists, so records say `hotfix_list_complete = Some(false)`.

use std::net::IpAddr;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use ward_shared::{InstalledUpdate, OsFamily};

use super::common::{self, DateOrder};
use super::record::{
    Format, Identity, ImportError, ImportRecord, Nic, Parsed, Source, SourceDetail,
    SysteminfoDetail,
};
use super::text;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    HostName,
    OsName,
    OsVersion,
    OsManufacturer,
    OsConfiguration,
    OsBuildType,
    RegisteredOwner,
    RegisteredOrganization,
    ProductId,
    InstallDate,
    BootTime,
    UpTime,
    SystemManufacturer,
    SystemModel,
    SystemType,
    Processors,
    BiosVersion,
    WindowsDirectory,
    SystemDirectory,
    BootDevice,
    SystemLocale,
    InputLocale,
    TimeZone,
    TotalMemory,
    AvailableMemory,
    PageFileLocations,
    Domain,
    LogonServer,
    Hotfixes,
    Nics,
    HyperV,
}

use Field as F;

/// (meaning, language, label as [`norm_label`] leaves it).
const LABELS: &[(Field, &str, &str)] = &[
    // English (all Windows versions; XP/2003 say "System Up Time" and "Page File:").
    (F::HostName, "en", "host name"),
    (F::OsName, "en", "os name"),
    (F::OsVersion, "en", "os version"),
    (F::OsManufacturer, "en", "os manufacturer"),
    (F::OsConfiguration, "en", "os configuration"),
    (F::OsBuildType, "en", "os build type"),
    (F::RegisteredOwner, "en", "registered owner"),
    (F::RegisteredOrganization, "en", "registered organization"),
    (F::ProductId, "en", "product id"),
    (F::InstallDate, "en", "original install date"),
    (F::BootTime, "en", "system boot time"),
    (F::UpTime, "en", "system up time"),
    (F::SystemManufacturer, "en", "system manufacturer"),
    (F::SystemModel, "en", "system model"),
    (F::SystemType, "en", "system type"),
    (F::Processors, "en", "processor(s)"),
    (F::BiosVersion, "en", "bios version"),
    (F::WindowsDirectory, "en", "windows directory"),
    (F::SystemDirectory, "en", "system directory"),
    (F::BootDevice, "en", "boot device"),
    (F::SystemLocale, "en", "system locale"),
    (F::InputLocale, "en", "input locale"),
    (F::TimeZone, "en", "time zone"),
    (F::TotalMemory, "en", "total physical memory"),
    (F::AvailableMemory, "en", "available physical memory"),
    (F::PageFileLocations, "en", "page file location(s)"),
    (F::Domain, "en", "domain"),
    (F::LogonServer, "en", "logon server"),
    (F::Hotfixes, "en", "hotfix(s)"),
    (F::Nics, "en", "network card(s)"),
    (F::HyperV, "en", "hyper-v requirements"),
    // German.
    (F::HostName, "de", "hostname"),
    (F::OsName, "de", "betriebssystemname"),
    (F::OsVersion, "de", "betriebssystemversion"),
    (F::OsManufacturer, "de", "betriebssystemhersteller"),
    (F::OsConfiguration, "de", "betriebssystemkonfiguration"),
    (F::OsBuildType, "de", "buildtyp des betriebssystems"),
    (F::RegisteredOwner, "de", "registrierter benutzer"),
    (F::RegisteredOrganization, "de", "registrierte organisation"),
    (F::ProductId, "de", "produkt-id"),
    (F::InstallDate, "de", "ursprüngliches installationsdatum"),
    (F::BootTime, "de", "systemstartzeit"),
    (F::UpTime, "de", "systembetriebszeit"),
    (F::SystemManufacturer, "de", "systemhersteller"),
    (F::SystemModel, "de", "systemmodell"),
    (F::SystemType, "de", "systemtyp"),
    (F::Processors, "de", "prozessor(en)"),
    (F::BiosVersion, "de", "bios-version"),
    (F::WindowsDirectory, "de", "windows-verzeichnis"),
    (F::SystemDirectory, "de", "system-verzeichnis"),
    (F::BootDevice, "de", "startgerät"),
    (F::SystemLocale, "de", "systemgebietsschema"),
    (F::InputLocale, "de", "eingabegebietsschema"),
    (F::TimeZone, "de", "zeitzone"),
    (F::TotalMemory, "de", "gesamter physischer speicher"),
    (F::AvailableMemory, "de", "verfügbarer physischer speicher"),
    (F::PageFileLocations, "de", "auslagerungsdateipfad(e)"),
    (F::Domain, "de", "domäne"),
    (F::LogonServer, "de", "anmeldeserver"),
    (F::Hotfixes, "de", "hotfix(es)"),
    (F::Nics, "de", "netzwerkkarte(n)"),
    (F::HyperV, "de", "hyper-v-anforderungen"),
    // French.
    (F::HostName, "fr", "nom de l'hôte"),
    (F::OsName, "fr", "nom du système d'exploitation"),
    (F::OsVersion, "fr", "version du système"),
    (
        F::OsManufacturer,
        "fr",
        "fabricant du système d'exploitation",
    ),
    (
        F::OsConfiguration,
        "fr",
        "configuration du système d'exploitation",
    ),
    (
        F::OsBuildType,
        "fr",
        "type de version du système d'exploitation",
    ),
    (F::RegisteredOwner, "fr", "propriétaire enregistré"),
    (F::RegisteredOrganization, "fr", "organisation enregistrée"),
    (F::ProductId, "fr", "identificateur de produit"),
    (F::ProductId, "fr", "id de produit"),
    (F::InstallDate, "fr", "date d'installation originale"),
    (F::BootTime, "fr", "heure de démarrage du système"),
    (F::BootTime, "fr", "temps de démarrage du système"),
    (F::UpTime, "fr", "temps d'activité du système"),
    (F::SystemManufacturer, "fr", "fabricant du système"),
    (F::SystemModel, "fr", "modèle du système"),
    (F::SystemType, "fr", "type du système"),
    (F::Processors, "fr", "processeur(s)"),
    (F::BiosVersion, "fr", "version du bios"),
    (F::WindowsDirectory, "fr", "répertoire windows"),
    (F::SystemDirectory, "fr", "répertoire système"),
    (F::BootDevice, "fr", "périphérique d'amorçage"),
    (F::SystemLocale, "fr", "option régionale du système"),
    (F::InputLocale, "fr", "paramètres régionaux d'entrée"),
    (F::TimeZone, "fr", "fuseau horaire"),
    (F::TotalMemory, "fr", "mémoire physique totale"),
    (F::AvailableMemory, "fr", "mémoire physique disponible"),
    (
        F::PageFileLocations,
        "fr",
        "emplacements des fichiers d'échange",
    ),
    (F::Domain, "fr", "domaine"),
    (F::LogonServer, "fr", "serveur d'ouverture de session"),
    (F::Hotfixes, "fr", "correctif(s)"),
    (F::Nics, "fr", "carte(s) réseau"),
    (F::HyperV, "fr", "configuration requise pour hyper-v"),
    // Spanish (es, es-MX).
    (F::HostName, "es", "nombre de host"),
    (F::OsName, "es", "nombre del sistema operativo"),
    (F::OsVersion, "es", "versión del sistema operativo"),
    (F::OsManufacturer, "es", "fabricante del sistema operativo"),
    (
        F::OsConfiguration,
        "es",
        "configuración del sistema operativo",
    ),
    (
        F::OsBuildType,
        "es",
        "tipo de compilación del sistema operativo",
    ),
    (F::RegisteredOwner, "es", "propiedad de"),
    (F::RegisteredOrganization, "es", "organización registrada"),
    (F::ProductId, "es", "id. del producto"),
    (F::InstallDate, "es", "fecha de instalación original"),
    (F::BootTime, "es", "tiempo de arranque del sistema"),
    (F::UpTime, "es", "tiempo de actividad del sistema"),
    (F::SystemManufacturer, "es", "fabricante del sistema"),
    (F::SystemModel, "es", "modelo el sistema"),
    (F::SystemModel, "es", "modelo del sistema"),
    (F::SystemType, "es", "tipo de sistema"),
    (F::Processors, "es", "procesador(es)"),
    (F::BiosVersion, "es", "versión del bios"),
    (F::WindowsDirectory, "es", "directorio de windows"),
    (F::SystemDirectory, "es", "directorio de sistema"),
    (F::BootDevice, "es", "dispositivo de arranque"),
    (F::SystemLocale, "es", "configuración regional del sistema"),
    (F::InputLocale, "es", "idioma de entrada"),
    (F::TimeZone, "es", "zona horaria"),
    (F::TotalMemory, "es", "cantidad total de memoria física"),
    (F::AvailableMemory, "es", "memoria física disponible"),
    (
        F::PageFileLocations,
        "es",
        "ubicación(es) de archivo de paginación",
    ),
    (F::Domain, "es", "dominio"),
    (F::LogonServer, "es", "servidor de inicio de sesión"),
    (F::Hotfixes, "es", "revisión(es)"),
    (F::Nics, "es", "tarjeta(s) de red"),
    (F::HyperV, "es", "requisitos de hyper-v"),
    // Italian.
    (F::HostName, "it", "nome host"),
    (F::OsName, "it", "nome so"),
    (F::OsVersion, "it", "versione so"),
    (F::OsManufacturer, "it", "produttore so"),
    (F::OsConfiguration, "it", "configurazione so"),
    (F::OsBuildType, "it", "tipo build so"),
    (F::RegisteredOwner, "it", "proprietario registrato"),
    (F::RegisteredOrganization, "it", "organizzazione registrata"),
    (F::ProductId, "it", "numero di serie"),
    (F::InstallDate, "it", "data di installazione originale"),
    (F::BootTime, "it", "tempo di avvio sistema"),
    (F::SystemManufacturer, "it", "produttore sistema"),
    (F::SystemModel, "it", "modello sistema"),
    (F::SystemType, "it", "tipo sistema"),
    (F::Processors, "it", "processore"),
    (F::BiosVersion, "it", "versione bios"),
    (F::WindowsDirectory, "it", "directory windows"),
    (F::SystemDirectory, "it", "directory di sistema"),
    (F::BootDevice, "it", "dispositivo di avvio"),
    (F::SystemLocale, "it", "impostazioni locali sistema"),
    (F::InputLocale, "it", "impostazioni locali di input"),
    (F::TimeZone, "it", "fuso orario"),
    (F::TotalMemory, "it", "memoria fisica totale"),
    (F::AvailableMemory, "it", "memoria fisica disponibile"),
    (F::PageFileLocations, "it", "posizioni file di paging"),
    (F::Domain, "it", "dominio"),
    (F::LogonServer, "it", "server di accesso"),
    (F::Hotfixes, "it", "aggiornamenti rapidi"),
    (F::Nics, "it", "schede di rete"),
    (F::HyperV, "it", "requisiti hyper-v"),
    // Dutch.
    (F::HostName, "nl", "hostnaam"),
    (F::OsName, "nl", "naam besturingssysteem"),
    (F::OsVersion, "nl", "versie besturingssysteem"),
    (F::OsManufacturer, "nl", "fabrikant besturingssysteem"),
    (F::OsConfiguration, "nl", "configuratie besturingssysteem"),
    (F::OsBuildType, "nl", "type build besturingssysteem"),
    (F::RegisteredOwner, "nl", "geregistreerde eigenaar"),
    (
        F::RegisteredOrganization,
        "nl",
        "geregistreerde organisatie",
    ),
    (F::ProductId, "nl", "product-id"),
    (F::InstallDate, "nl", "oorspronkelijke installatiedatum"),
    (F::BootTime, "nl", "opstarttijd systeem"),
    (F::SystemManufacturer, "nl", "systeemfabrikant"),
    (F::SystemModel, "nl", "systeemmodel"),
    (F::SystemType, "nl", "systeemtype"),
    (F::BiosVersion, "nl", "bios-versie"),
    (F::WindowsDirectory, "nl", "windows-map"),
    (F::SystemDirectory, "nl", "systeemmap"),
    (F::BootDevice, "nl", "opstartapparaat"),
    (F::SystemLocale, "nl", "landinstellingen systeem"),
    (F::InputLocale, "nl", "landinstellingen invoer"),
    (F::TimeZone, "nl", "tijdzone"),
    (F::TotalMemory, "nl", "totaal fysiek geheugen"),
    (F::AvailableMemory, "nl", "beschikbaar fysiek geheugen"),
    (F::PageFileLocations, "nl", "locatie(s) van wisselbestand"),
    (F::Domain, "nl", "domein"),
    (F::LogonServer, "nl", "aanmeldingsserver"),
    (F::Nics, "nl", "netwerkkaart(en)"),
    (F::HyperV, "nl", "hyper-v-vereisten"),
    // Russian.
    (F::HostName, "ru", "имя узла"),
    (F::OsName, "ru", "название ос"),
    (F::OsVersion, "ru", "версия ос"),
    (F::OsManufacturer, "ru", "изготовитель ос"),
    (F::OsConfiguration, "ru", "параметры ос"),
    (F::OsBuildType, "ru", "построение ос"),
    (F::RegisteredOwner, "ru", "зарегистрированный владелец"),
    (
        F::RegisteredOrganization,
        "ru",
        "зарегистрированная организация",
    ),
    (F::ProductId, "ru", "код продукта"),
    (F::InstallDate, "ru", "дата установки"),
    (F::BootTime, "ru", "время загрузки системы"),
    (F::UpTime, "ru", "время работы системы"),
    (F::SystemManufacturer, "ru", "изготовитель системы"),
    (F::SystemModel, "ru", "модель системы"),
    (F::SystemType, "ru", "тип системы"),
    (F::Processors, "ru", "процессор(ы)"),
    (F::BiosVersion, "ru", "версия bios"),
    (F::WindowsDirectory, "ru", "папка windows"),
    (F::SystemDirectory, "ru", "системная папка"),
    (F::BootDevice, "ru", "устройство загрузки"),
    (F::SystemLocale, "ru", "язык системы"),
    (F::InputLocale, "ru", "язык ввода"),
    (F::TimeZone, "ru", "часовой пояс"),
    (F::TotalMemory, "ru", "полный объем физической памяти"),
    (F::AvailableMemory, "ru", "доступная физическая память"),
    (F::PageFileLocations, "ru", "расположение файла подкачки"),
    (F::Domain, "ru", "домен"),
    (F::LogonServer, "ru", "сервер входа в сеть"),
    (F::Hotfixes, "ru", "исправление(я)"),
    (F::Nics, "ru", "сетевые адаптеры"),
    (F::Nics, "ru", "сетевые адаптер(ы)"),
    (F::HyperV, "ru", "требования hyper-v"),
    // Chinese (simplified).
    (F::HostName, "zh", "主机名"),
    (F::OsName, "zh", "os 名称"),
    (F::OsVersion, "zh", "os 版本"),
    (F::OsManufacturer, "zh", "os 制造商"),
    (F::OsConfiguration, "zh", "os 配置"),
    (F::OsBuildType, "zh", "os 构件类型"),
    (F::OsBuildType, "zh", "os 构建类型"),
    (F::RegisteredOwner, "zh", "注册的所有人"),
    (F::RegisteredOrganization, "zh", "注册的组织"),
    (F::ProductId, "zh", "产品 id"),
    (F::InstallDate, "zh", "初始安装日期"),
    (F::BootTime, "zh", "系统启动时间"),
    (F::SystemManufacturer, "zh", "系统制造商"),
    (F::SystemModel, "zh", "系统型号"),
    (F::SystemType, "zh", "系统类型"),
    (F::Processors, "zh", "处理器"),
    (F::BiosVersion, "zh", "bios 版本"),
    (F::WindowsDirectory, "zh", "windows 目录"),
    (F::SystemDirectory, "zh", "系统目录"),
    (F::BootDevice, "zh", "启动设备"),
    (F::SystemLocale, "zh", "系统区域设置"),
    (F::InputLocale, "zh", "输入法区域设置"),
    (F::TimeZone, "zh", "时区"),
    (F::TotalMemory, "zh", "物理内存总量"),
    (F::AvailableMemory, "zh", "可用的物理内存"),
    (F::PageFileLocations, "zh", "页面文件位置"),
    (F::Domain, "zh", "域"),
    (F::LogonServer, "zh", "登录服务器"),
    (F::Hotfixes, "zh", "修补程序"),
    (F::Nics, "zh", "网卡"),
    (F::HyperV, "zh", "hyper-v 要求"),
];

/// Lower case, typographic apostrophes and full-width colons made plain, no space before a
/// colon, no trailing colon, single spaces.
fn norm_label(s: &str) -> String {
    let s = s
        .replace(['\u{2019}', '\u{2018}'], "'")
        .replace('\u{FF1A}', ":")
        .to_lowercase();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = s.replace(" :", ":");
    s.trim_end_matches(':').trim().to_string()
}

fn lookup(label: &str) -> Option<(Field, &'static str)> {
    let n = norm_label(label);
    LABELS
        .iter()
        .find(|(_, _, l)| *l == n)
        .map(|(f, lang, _)| (*f, *lang))
}

/// How many known labels a text holds (for the code-page guess and format detection).
pub fn label_hits(text: &str) -> usize {
    text::lines(text)
        .into_iter()
        .take(400)
        .filter(|l| {
            let head = l.split(':').next().unwrap_or("");
            !l.starts_with(char::is_whitespace) && l.contains(':') && lookup(head).is_some()
        })
        .count()
}

/// One `label: value` line with its indented continuation lines.
#[derive(Debug, Clone, Default)]
struct Entry {
    label: String,
    value: String,
    more: Vec<String>,
}

type Block = Vec<Entry>;

/// Reads a systeminfo file. `now` is used when the file holds no date of its own.
pub fn parse(bytes: &[u8], origin: &str, now: DateTime<Utc>) -> Result<Parsed, ImportError> {
    let decoded = text::decode_scored(bytes, &|t| 20 * label_hits(t) as i64)?;
    parse_text(&decoded.text, bytes, origin, now)
}

fn invalid(reason: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        format: Format::Systeminfo,
        reason: reason.into(),
    }
}

pub(crate) fn parse_text(
    text: &str,
    bytes: &[u8],
    origin: &str,
    now: DateTime<Utc>,
) -> Result<Parsed, ImportError> {
    let lines = text::lines(text);
    let blocks = if let Some(b) = table_blocks(&lines) {
        b
    } else if let Some(b) = csv_blocks(&lines) {
        b
    } else {
        list_blocks(&lines)
    };
    let ids = common::RecordIds::new(bytes, Format::Systeminfo);
    let mut warnings = Vec::new();
    let mut records = Vec::new();
    let several = blocks.len() > 1;
    for block in &blocks {
        match to_record(block, &mut warnings) {
            Some(mut rec) => {
                let index = records.len();
                rec.report.report_id = ids.id(index);
                rec.report.collected_at = now;
                rec.observed_at = now;
                rec.origin = match (&rec.identity.host_name, several) {
                    (Some(h), true) => format!("{origin}#{h}"),
                    _ => origin.to_string(),
                };
                records.push(rec);
            }
            None => warnings.push(format!(
                "skipped a block of {} lines with no OS version or host name",
                block.len()
            )),
        }
    }
    if records.is_empty() {
        return Err(invalid(
            "no host found: no \"OS Version\" line (in any known language) or version number",
        ));
    }
    Ok(Parsed {
        format: Format::Systeminfo,
        records,
        warnings,
    })
}

/// The column where values start, by vote over every `label:   value` split in the text.
fn value_column(lines: &[&str]) -> Option<usize> {
    let mut votes: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    for l in lines {
        if l.starts_with(char::is_whitespace) {
            continue;
        }
        for c in split_candidates(l) {
            *votes.entry(c.0).or_default() += 1;
        }
    }
    votes
        .into_iter()
        .max_by_key(|(col, n)| (*n, usize::MAX - col))
        .map(|(col, _)| col)
}

/// Candidate (value column in chars, gap width) for each `:` followed by spaces (or the end).
fn split_candidates(line: &str) -> Vec<(usize, usize)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if !matches!(c, ':' | '\u{FF1A}') {
            continue;
        }
        let gap = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_whitespace())
            .count();
        if gap == 0 && i + 1 < chars.len() {
            continue;
        }
        out.push((i + 1 + gap, gap));
    }
    out
}

fn split_line(line: &str, column: Option<usize>) -> Option<(String, String)> {
    let cands = split_candidates(line);
    let pick = column
        .and_then(|col| cands.iter().find(|c| c.0 == col))
        .or_else(|| cands.iter().max_by_key(|c| (c.1, usize::MAX - c.0)))?;
    let chars: Vec<char> = line.chars().collect();
    let label_end = chars[..pick.0]
        .iter()
        .rposition(|c| matches!(c, ':' | '\u{FF1A}'))?;
    let label: String = chars[..label_end].iter().collect();
    let value: String = chars[pick.0..].iter().collect();
    let label = label.trim().to_string();
    if label.is_empty() {
        return None;
    }
    Some((label, value.trim().to_string()))
}

/// `/fo list`: `Label:   value` lines, continuation lines indented.
fn list_blocks(lines: &[&str]) -> Vec<Block> {
    let column = value_column(lines);
    let mut blocks: Vec<Block> = Vec::new();
    let mut cur: Block = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            if let Some(last) = cur.last_mut() {
                last.more.push(line.trim().to_string());
            }
            continue;
        }
        let Some((label, value)) = split_line(line, column) else {
            // A prompt, a banner ("systeminfo", "Loading Hotfix Information ..."), noise.
            continue;
        };
        let field = lookup(&label).map(|f| f.0);
        let starts_host = match field {
            Some(F::HostName) => !cur.is_empty(),
            Some(F::OsName) => cur
                .iter()
                .any(|e| lookup(&e.label).map(|f| f.0) == Some(F::OsName)),
            _ => cur.first().is_some_and(|e| e.label == label),
        };
        if starts_host {
            blocks.push(std::mem::take(&mut cur));
        }
        cur.push(Entry {
            label,
            value,
            more: Vec::new(),
        });
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    blocks
}

/// `/fo csv`: a header row of labels, one row per host; list values joined with commas.
fn csv_blocks(lines: &[&str]) -> Option<Vec<Block>> {
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with('"') && l.contains("\",\""))?;
    let body = lines[start..].join("\n");
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let rows: Vec<Vec<String>> = rdr
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    let first = rows.first()?;
    let header_hits = first.iter().filter(|c| lookup(c).is_some()).count();
    let (header, data): (Vec<String>, &[Vec<String>]) = if header_hits >= 3 {
        (first.clone(), &rows[1..])
    } else {
        (Vec::new(), &rows[..])
    };
    let mut blocks = Vec::new();
    for row in data {
        if row.len() < 5 || lookup(row.first()?).is_some() {
            // A repeated header (several runs appended) or a cut row.
            continue;
        }
        let mut block = Vec::new();
        for (i, cell) in row.iter().enumerate() {
            let label = header.get(i).cloned().unwrap_or_default();
            let (value, more) = split_csv_list(cell);
            block.push(Entry { label, value, more });
        }
        blocks.push(block);
    }
    Some(blocks)
}

/// "2 Hotfix(s) Installed.,[01]: KB1,[02]: KB2" -> ("2 Hotfix(s) Installed.", ["[01]: KB1", ...]).
fn split_csv_list(cell: &str) -> (String, Vec<String>) {
    if !cell.contains(",[") {
        return (cell.trim().to_string(), Vec::new());
    }
    let mut parts = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = cell.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == ',' && matches!(chars.get(i + 1), Some('[') | Some(' ')) {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(*c);
        }
    }
    parts.push(cur);
    let mut it = parts.into_iter().map(|p| p.trim().to_string());
    let value = it.next().unwrap_or_default();
    (value, it.filter(|p| !p.is_empty()).collect())
}

/// `/fo table`: a header line, a line of `=` groups giving the columns, then rows; a row with
/// an empty first column continues the host above.
fn table_blocks(lines: &[&str]) -> Option<Vec<Block>> {
    let rule = lines.iter().position(|l| {
        let t = l.trim();
        t.starts_with("===")
            && t.chars().all(|c| c == '=' || c == ' ')
            && t.split(' ').filter(|g| !g.is_empty()).count() >= 5
    })?;
    let header: Vec<char> = lines.get(rule.checked_sub(1)?)?.chars().collect();
    let rule_chars: Vec<char> = lines[rule].chars().collect();
    let mut cols = Vec::new();
    for (i, c) in rule_chars.iter().enumerate() {
        if *c == '=' && (i == 0 || rule_chars[i - 1] == ' ') {
            cols.push(i);
        }
    }
    let cell = |chars: &[char], k: usize| -> String {
        let start = cols[k].min(chars.len());
        let end = cols
            .get(k + 1)
            .copied()
            .unwrap_or(chars.len())
            .min(chars.len());
        chars[start..end.max(start)]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    };
    let labels: Vec<String> = (0..cols.len()).map(|k| cell(&header, k)).collect();
    let mut blocks: Vec<Block> = Vec::new();
    for line in &lines[rule + 1..] {
        if line.trim().is_empty() {
            continue;
        }
        let chars: Vec<char> = line.chars().collect();
        let cells: Vec<String> = (0..cols.len()).map(|k| cell(&chars, k)).collect();
        let new_host = !cells[0].is_empty();
        if new_host {
            blocks.push(
                labels
                    .iter()
                    .zip(cells)
                    .map(|(label, value)| Entry {
                        label: label.clone(),
                        value,
                        more: Vec::new(),
                    })
                    .collect(),
            );
        } else if let Some(block) = blocks.last_mut() {
            for (entry, value) in block.iter_mut().zip(cells) {
                if !value.is_empty() {
                    entry.more.push(value);
                }
            }
        }
    }
    Some(blocks)
}

/// Finds each field of a block: by label first, then by the value's shape.
struct Fields<'a> {
    block: &'a [Entry],
    by_field: Vec<(Field, usize)>,
    language: Option<&'static str>,
}

impl<'a> Fields<'a> {
    fn new(block: &'a [Entry]) -> Self {
        let mut by_field = Vec::new();
        let mut langs: std::collections::HashMap<&'static str, usize> = Default::default();
        for (i, e) in block.iter().enumerate() {
            if let Some((f, lang)) = lookup(&e.label) {
                if !by_field.iter().any(|(g, _)| *g == f) {
                    by_field.push((f, i));
                }
                *langs.entry(lang).or_default() += 1;
            }
        }
        let language = langs
            .into_iter()
            .max_by_key(|(l, n)| (*n, *l == "en"))
            .map(|(l, _)| l);
        let mut me = Fields {
            block,
            by_field,
            language,
        };
        me.infer();
        me
    }

    fn infer(&mut self) {
        let b = self.block;
        if self.index(F::OsVersion).is_none()
            && let Some(i) = b.iter().position(|e| looks_like_version(&e.value))
        {
            self.by_field.push((F::OsVersion, i));
        }
        if self.index(F::OsName).is_none()
            && let Some(v) = self.index(F::OsVersion)
            && v > 0
            && b[v - 1].value.to_lowercase().contains("windows")
        {
            self.by_field.push((F::OsName, v - 1));
        }
        if self.index(F::HostName).is_none()
            && b.first().is_some_and(|e| {
                lookup(&e.label).is_none()
                    && !e.value.is_empty()
                    && !e.value.contains(' ')
                    && !looks_like_version(&e.value)
            })
        {
            self.by_field.push((F::HostName, 0));
        }
        if self.index(F::SystemType).is_none()
            && let Some(i) = b
                .iter()
                .position(|e| e.value.to_lowercase().ends_with("-based pc"))
        {
            self.by_field.push((F::SystemType, i));
        }
        if self.index(F::Hotfixes).is_none()
            && let Some(i) = b.iter().position(|e| {
                e.more
                    .iter()
                    .any(|m| strip_index(m).to_ascii_uppercase().starts_with("KB"))
            })
        {
            self.by_field.push((F::Hotfixes, i));
        }
        if self.index(F::Processors).is_none()
            && let Some(i) = b.iter().position(|e| {
                e.more.iter().any(|m| {
                    m.contains("Family") && (m.contains("Model") || m.contains("Stepping"))
                })
            })
        {
            self.by_field.push((F::Processors, i));
        }
    }

    fn index(&self, f: Field) -> Option<usize> {
        self.by_field.iter().find(|(g, _)| *g == f).map(|(_, i)| *i)
    }

    fn entry(&self, f: Field) -> Option<&'a Entry> {
        self.index(f).map(|i| &self.block[i])
    }

    /// The value, `None` when empty or a localised "not available".
    fn value(&self, f: Field) -> Option<&'a str> {
        let v = self.entry(f)?.value.trim();
        (!v.is_empty() && !is_not_available(v) && v != "...").then_some(v)
    }
}

fn looks_like_version(v: &str) -> bool {
    let first = v.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = first.split('.').collect();
    parts.len() >= 3
        && parts.len() <= 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn is_not_available(v: &str) -> bool {
    matches!(
        v.to_lowercase().as_str(),
        "n/a"
            | "n/d"
            | "н/д"
            | "nicht zutreffend"
            | "n.v.t."
            | "暂缺"
            | "non disponible"
            | "unknown"
    )
}

/// "[01]: KB123", "[01] : KB123" -> "KB123".
fn strip_index(s: &str) -> &str {
    let t = s.trim();
    if t.starts_with('[')
        && let Some(close) = t.find(']')
    {
        let rest = t[close + 1..].trim_start();
        return rest
            .strip_prefix(':')
            .or_else(|| rest.strip_prefix('\u{FF1A}'))
            .unwrap_or(rest)
            .trim();
    }
    t
}

fn is_indexed(s: &str) -> bool {
    let t = s.trim();
    t.starts_with('[') && t.contains(']')
}

fn to_record(block: &[Entry], warnings: &mut Vec<String>) -> Option<ImportRecord> {
    let f = Fields::new(block);
    let version_line = f.value(F::OsVersion);
    let host = f.value(F::HostName).map(str::to_string);
    if version_line.is_none() && host.is_none() {
        return None;
    }
    let placeholder = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let mut report = common::import_report(Format::Systeminfo, uuid::Uuid::nil(), placeholder);
    let mut detail = SysteminfoDetail {
        language: f.language.map(str::to_string),
        ..Default::default()
    };
    let label = host.clone().unwrap_or_else(|| "(no host name)".into());

    // OS.
    let os = &mut report.os;
    os.family = OsFamily::Windows;
    os.id = Some("windows".into());
    os.name = f.value(F::OsName).map(clean_os_name);
    if let Some(v) = version_line {
        let (version, build, sp) = split_version(v);
        os.version = version;
        os.build = build;
        os.service_pack = sp;
    } else {
        warnings.push(format!("{label}: no OS version line"));
    }
    os.architecture = f.value(F::SystemType).and_then(architecture);
    os.installation_type = os.name.as_ref().map(|n| {
        if n.to_lowercase().contains("server") {
            "Server".to_string()
        } else {
            "Client".to_string()
        }
    });

    // Dates: day order from the dates themselves, else from the language.
    let bios = f.value(F::BiosVersion).map(split_bios);
    let date_texts: Vec<&str> = [f.value(F::InstallDate), f.value(F::BootTime)]
        .into_iter()
        .flatten()
        .chain(bios.as_ref().and_then(|b| b.1.as_deref()))
        .collect();
    let order = common::infer_order(date_texts.iter().map(|d| d.split(',').next().unwrap_or(d)))
        .unwrap_or(match f.language {
            Some("en") | None => DateOrder::Mdy,
            _ => DateOrder::Dmy,
        });
    let offset = f
        .value(F::TimeZone)
        .and_then(utc_offset_minutes)
        .unwrap_or(0);
    let to_utc = |d: NaiveDateTime| (d - Duration::minutes(offset)).and_utc();
    report.os.install_date = f
        .value(F::InstallDate)
        .and_then(|v| common::parse_datetime(v, order))
        .map(to_utc);
    report.os.boot_time = f
        .value(F::BootTime)
        .and_then(|v| common::parse_datetime(v, order))
        .map(to_utc);

    // Hardware.
    let hw = &mut report.hardware;
    hw.manufacturer = f.value(F::SystemManufacturer).map(str::to_string);
    hw.model = f.value(F::SystemModel).map(str::to_string);
    if let Some((version, date)) = bios {
        hw.bios.version = Some(version).filter(|v| !v.is_empty() && v != "UNKNOWN");
        hw.bios.release_date = date.and_then(|d| common::parse_date(&d, order));
    }
    if let Some(cpu) = f.entry(F::Processors).and_then(|e| e.more.first()) {
        let (identifier, vendor, mhz) = split_cpu(strip_index(cpu));
        hw.cpu.identifier = identifier;
        hw.cpu.vendor = vendor;
        hw.cpu.max_clock_mhz = mhz;
    }
    hw.ram_bytes = f
        .value(F::TotalMemory)
        .and_then(common::grouped_number)
        .map(|mb| mb.saturating_mul(1024 * 1024));

    // Hotfixes.
    let mut no_kb = 0u32;
    if let Some(e) = f.entry(F::Hotfixes) {
        detail.hotfix_count_reported = e
            .value
            .split_whitespace()
            .find_map(|w| w.trim_end_matches('.').parse().ok());
        for m in &e.more {
            match common::kb_id(strip_index(m)) {
                Some(id) => {
                    if !report.patches.installed.iter().any(|u| u.id == id) {
                        report.patches.installed.push(InstalledUpdate {
                            id,
                            kind: None,
                            installed_on: None,
                        });
                    }
                }
                None => no_kb += 1,
            }
        }
    }
    if no_kb > 0 {
        warnings.push(format!(
            "{label}: {no_kb} hotfix entries without a KB number (\"File 1\", GUIDs) were not listed"
        ));
    }

    // Network.
    if let Some(e) = f.entry(F::Nics) {
        detail.nics = parse_nics(&e.more);
    }
    let ips: Vec<IpAddr> = detail
        .nics
        .iter()
        .flat_map(|n| n.ips.iter().filter_map(|i| i.parse().ok()))
        .collect();
    report.host.ip_addresses = ips.iter().map(ToString::to_string).collect();
    let domain_raw = f.value(F::Domain).map(str::to_string);
    let domain = domain_raw.clone().filter(|d| {
        !matches!(
            d.to_ascii_uppercase().as_str(),
            "WORKGROUP" | "ARBEITSGRUPPE" | "MSHOME" | "GROUPE_TRAVAIL" | "GRUPO_TRABAJO"
        )
    });
    report.host.hostname = host.clone();
    report.host.domain = domain.clone();
    report.host.fqdn = match (&host, &domain) {
        (Some(h), Some(d)) if d.contains('.') => Some(format!("{h}.{d}").to_lowercase()),
        _ => None,
    };

    detail.domain = domain_raw;
    detail.logon_server = f.value(F::LogonServer).map(str::to_string);
    detail.registered_owner = f.value(F::RegisteredOwner).map(str::to_string);
    detail.product_id = f.value(F::ProductId).map(str::to_string);
    detail.time_zone = f.value(F::TimeZone).map(str::to_string);
    detail.system_locale = f.value(F::SystemLocale).map(str::to_string);
    if let Some(e) = f.entry(F::HyperV) {
        detail.hyper_v = std::iter::once(e.value.clone())
            .chain(e.more.iter().cloned())
            .filter(|s| !s.is_empty())
            .collect();
    }

    let identity = Identity {
        hardware_uuid: None,
        serial: None,
        macs: Vec::new(),
        fqdn: report.host.fqdn.clone(),
        host_name: host,
        domain,
        ips,
    };
    let has_hotfixes = f.entry(F::Hotfixes).is_some();
    Some(ImportRecord {
        source: Source::Systeminfo,
        observed_at: placeholder,
        origin: String::new(),
        identity,
        report,
        evidence: Vec::new(),
        hotfix_list_complete: has_hotfixes.then_some(false),
        detail: SourceDetail::Systeminfo(detail),
    })
}

/// "Microsoftr Windows Serverr 2008 Standard " (a ® the console could not print) and
/// "Microsoft(R) Windows(R) XP" -> plain words.
fn clean_os_name(s: &str) -> String {
    let mut out = s
        .replace("(R)", "")
        .replace(['®', '™'], "")
        .replace("(TM)", "");
    for (bad, good) in [
        ("Microsoftr ", "Microsoft "),
        ("Windowsr ", "Windows "),
        ("Serverr ", "Server "),
        ("Vistar ", "Vista "),
        ("VistaT ", "Vista "),
    ] {
        out = out.replace(bad, good);
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "5.1.2600 Service Pack 2 Build 2600" -> ("5.1", "2600", "Service Pack 2");
/// "10.0.17134 N/A Build 17134" -> ("10.0", "17134", None).
fn split_version(v: &str) -> (Option<String>, Option<String>, Option<String>) {
    let mut words = v.split_whitespace();
    let first = words.next().unwrap_or("");
    if !looks_like_version(first) {
        return (None, None, None);
    }
    let parts: Vec<&str> = first.split('.').collect();
    let version = Some(format!("{}.{}", parts[0], parts[1]));
    let build = Some(parts[2].to_string());
    let mut rest: Vec<&str> = words.collect();
    // Drop the trailing "Build 2600" / "version 7601" / "построение 9600".
    if rest.len() >= 2 && rest.last() == Some(&parts[2]) {
        rest.truncate(rest.len() - 2);
    }
    let middle = rest.join(" ");
    let sp = if middle.chars().any(|c| c.is_ascii_digit()) {
        let digits: String = middle.chars().filter(char::is_ascii_digit).collect();
        Some(format!("Service Pack {digits}"))
    } else {
        None
    };
    (version, build, sp)
}

fn architecture(system_type: &str) -> Option<String> {
    let t = system_type.to_ascii_lowercase();
    let arch = if t.contains("x64") || t.contains("amd64") {
        "x86_64"
    } else if t.contains("arm64") {
        "aarch64"
    } else if t.contains("itanium") || t.contains("ia64") {
        "ia64"
    } else if t.contains("x86") {
        "x86"
    } else {
        return None;
    };
    Some(arch.to_string())
}

/// "Dell Inc. 1.6.1, 12/6/2017" -> ("Dell Inc. 1.6.1", Some("12/6/2017")).
fn split_bios(v: &str) -> (String, Option<String>) {
    if let Some((head, tail)) = v.rsplit_once(',')
        && common::date_parts(tail.trim()).is_some()
    {
        return (head.trim().to_string(), Some(tail.trim().to_string()));
    }
    (v.trim().to_string(), None)
}

/// "Intel64 Family 6 Model 78 Stepping 3 GenuineIntel ~2496 Mhz".
fn split_cpu(s: &str) -> (Option<String>, Option<String>, Option<u32>) {
    let vendors = [
        "GenuineIntel",
        "AuthenticAMD",
        "CentaurHauls",
        "HygonGenuine",
        "Qualcomm",
    ];
    let words: Vec<&str> = s.split_whitespace().collect();
    let vpos = words.iter().position(|w| vendors.contains(w));
    let identifier = match vpos {
        Some(p) => words[..p].join(" "),
        None => words
            .iter()
            .take_while(|w| !w.starts_with('~'))
            .copied()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mhz = words
        .iter()
        .find_map(|w| w.strip_prefix('~'))
        .and_then(|n| n.parse().ok());
    (
        Some(identifier).filter(|i| !i.is_empty()),
        vpos.map(|p| words[p].to_string()),
        mhz,
    )
}

/// "(UTC+01:00) Amsterdam", "(GMT-08:00) Pacific", "(UTC) Coordinated Universal Time".
fn utc_offset_minutes(tz: &str) -> Option<i64> {
    let inner = tz.trim().strip_prefix('(')?.split(')').next()?;
    let rest = inner
        .strip_prefix("UTC")
        .or_else(|| inner.strip_prefix("GMT"))?;
    if rest.is_empty() {
        return Some(0);
    }
    let sign = match rest.chars().next()? {
        '+' => 1,
        '-' => -1,
        _ => return None,
    };
    let (h, m) = rest[1..].split_once(':')?;
    Some(sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?))
}

fn yes_no(v: &str) -> Option<bool> {
    match v.trim().to_lowercase().as_str() {
        "yes" | "ja" | "oui" | "sí" | "si" | "sì" | "да" | "是" => Some(true),
        "no" | "nein" | "non" | "nee" | "нет" | "否" => Some(false),
        _ => None,
    }
}

/// The indented NIC lines: "[01]: description", "Connection Name: x", "DHCP Enabled: Yes",
/// "DHCP Server: ip", "IP address(es)" then "[01]: ip" lines, "Status: ...".
fn parse_nics(more: &[String]) -> Vec<Nic> {
    let mut nics: Vec<Nic> = Vec::new();
    for line in more {
        let t = line.trim();
        if is_indexed(t) {
            let v = strip_index(t);
            match (v.parse::<IpAddr>(), nics.last_mut()) {
                (Ok(_), Some(nic)) => nic.ips.push(v.to_string()),
                _ => nics.push(Nic {
                    description: Some(v.to_string()).filter(|s| !s.is_empty()),
                    ..Nic::default()
                }),
            }
            continue;
        }
        let Some(nic) = nics.last_mut() else { continue };
        let Some((label, value)) = t.split_once([':', '\u{FF1A}']) else {
            continue;
        };
        let l = label.trim().to_lowercase();
        let value = value.trim();
        if l.contains("dhcp")
            && ["server", "serveur", "servidor", "сервер", "服务器"]
                .iter()
                .any(|w| l.contains(w))
        {
            nic.dhcp_server = Some(value.to_string()).filter(|v| !v.is_empty());
        } else if l.contains("dhcp") {
            nic.dhcp_enabled = yes_no(value);
        } else if [
            "connection name",
            "verbindungsname",
            "nom de la connexion",
            "nombre de conexión",
            "nome connessione",
            "naam van verbinding",
            "verbindingsnaam",
            "имя подключения",
            "连接名",
        ]
        .contains(&l.as_str())
        {
            nic.connection_name = Some(value.to_string());
        } else if ["status", "état", "estado", "stato", "состояние", "状态"].contains(&l.as_str())
        {
            nic.status = Some(value.to_string());
        }
    }
    nics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().expect("time")
    }

    fn one(text: &str) -> ImportRecord {
        let p = parse(text.as_bytes(), "t.txt", now()).expect("parse");
        assert_eq!(p.records.len(), 1, "{p:?}");
        p.records.into_iter().next().expect("record")
    }

    const XP: &str = "\r\nHost Name:                 WINXPSP2\r\nOS Name:                   Microsoft Windows XP Professional\r\nOS Version:                5.1.2600 Service Pack 2 Build 2600\r\nOriginal Install Date:     12/24/2015, 10:07:25 AM\r\nSystem Up Time:            0 Days, 0 Hours, 13 Minutes, 37 Seconds\r\nSystem type:               X86-based PC\r\nProcessor(s):              1 Processor(s) Installed.\r\n                           [01]: x86 Family 6 Model 78 Stepping 3 GenuineIntel ~2496 Mhz\r\nBIOS Version:              INTEL  - 6040000\r\nTime Zone:                 (GMT+01:00) Amsterdam, Berlin\r\nTotal Physical Memory:     511 MB\r\nDomain:                    WORKGROUP\r\nHotfix(s):                 3 Hotfix(s) Installed.\r\n                           [01]: File 1\r\n                           [02]: Q147222\r\n                           [03]: KB2481109 - Update\r\nNetWork Card(s):           1 NIC(s) Installed.\r\n                           [01]: VMware Accelerated AMD PCNet Adapter\r\n                                 Connection Name: Local Area Connection\r\n                                 DHCP Enabled:    Yes\r\n                                 DHCP Server:     192.168.159.254\r\n                                 IP address(es)\r\n                                 [01]: 192.168.159.219\r\n";

    #[test]
    fn xp_list() {
        let r = one(XP);
        let os = &r.report.os;
        assert_eq!(r.identity.host_name.as_deref(), Some("WINXPSP2"));
        assert_eq!(os.version.as_deref(), Some("5.1"));
        assert_eq!(os.build.as_deref(), Some("2600"));
        assert_eq!(os.service_pack.as_deref(), Some("Service Pack 2"));
        assert_eq!(os.architecture.as_deref(), Some("x86"));
        // 10:07:25 AM at UTC+1.
        assert_eq!(
            os.install_date.map(|d| d.to_rfc3339()),
            Some("2015-12-24T09:07:25+00:00".into())
        );
        let ids: Vec<&str> = r
            .report
            .patches
            .installed
            .iter()
            .map(|u| u.id.as_str())
            .collect();
        assert_eq!(ids, ["Q147222", "KB2481109"]);
        assert_eq!(r.hotfix_list_complete, Some(false));
        assert_eq!(r.report.hardware.ram_bytes, Some(511 * 1024 * 1024));
        assert_eq!(
            r.report.hardware.cpu.vendor.as_deref(),
            Some("GenuineIntel")
        );
        assert_eq!(r.report.hardware.cpu.max_clock_mhz, Some(2496));
        assert_eq!(r.identity.domain, None);
        assert_eq!(
            r.identity.ips,
            vec!["192.168.159.219".parse::<IpAddr>().expect("ip")]
        );
        let SourceDetail::Systeminfo(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.nics[0].dhcp_enabled, Some(true));
        assert_eq!(
            d.nics[0].connection_name.as_deref(),
            Some("Local Area Connection")
        );
        assert_eq!(d.hotfix_count_reported, Some(3));
        assert_eq!(d.language.as_deref(), Some("en"));
    }

    #[test]
    fn lf_and_banners_and_two_hosts() {
        let two = format!(
            "C:\\>systeminfo /s A /s B\nLoading Hotfix Information...\n{}\n{}\nC:\\>",
            XP.replace("\r\n", "\n"),
            XP.replace("WINXPSP2", "OTHERPC")
        );
        let p = parse(two.as_bytes(), "two.txt", now()).expect("parse");
        let hosts: Vec<_> = p
            .records
            .iter()
            .map(|r| r.identity.host_name.clone().unwrap_or_default())
            .collect();
        assert_eq!(hosts, ["WINXPSP2", "OTHERPC"]);
        assert_eq!(p.records[1].origin, "two.txt#OTHERPC");
        assert_ne!(p.records[0].report.report_id, p.records[1].report.report_id);
    }

    #[test]
    fn german_utf16_with_bom() {
        let de = "Hostname:                                  PC-DE01\r\nBetriebssystemname:                        Microsoft Windows 10 Enterprise\r\nBetriebssystemversion:                     10.0.19045 Nicht zutreffend Build 19045\r\nUrsprüngliches Installationsdatum:         05.03.2021, 10:12:13\r\nSystemtyp:                                 x64-based PC\r\nGesamter physischer Speicher:              16.234 MB\r\nDomäne:                                    klinik.local\r\nHotfix(es):                                2 Hotfix(e) installiert.\r\n                                           [01]: KB5031988\r\n                                           [02]: KB5032189\r\n";
        let mut bytes = vec![0xFF, 0xFE];
        for u in de.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let r = one_bytes(&bytes);
        assert_eq!(r.identity.host_name.as_deref(), Some("PC-DE01"));
        assert_eq!(r.report.os.build.as_deref(), Some("19045"));
        assert_eq!(r.report.os.service_pack, None);
        assert_eq!(r.report.hardware.ram_bytes, Some(16234 * 1024 * 1024));
        assert_eq!(r.identity.fqdn.as_deref(), Some("pc-de01.klinik.local"));
        assert_eq!(
            r.report.os.install_date.map(|d| d.date_naive().to_string()),
            Some("2021-03-05".into())
        );
        assert_eq!(r.report.patches.installed.len(), 2);
    }

    fn one_bytes(b: &[u8]) -> ImportRecord {
        let p = parse(b, "t.txt", now()).expect("parse");
        p.records.into_iter().next().expect("record")
    }

    #[test]
    fn chinese_and_dutch_labels() {
        let zh = "主机名:           PC-ZH\r\nOS 名称:          Microsoft Windows 7 旗舰版\r\nOS 版本:          6.1.7601 Service Pack 1 Build 7601\r\n初始安装日期:     2019/3/15, 10:12:13\r\n系统类型:         x64-based PC\r\n修补程序:         安装了 1 个修补程序。\r\n                  [01]: KB4012212\r\n";
        let r = one(zh);
        assert_eq!(r.identity.host_name.as_deref(), Some("PC-ZH"));
        assert_eq!(r.report.os.service_pack.as_deref(), Some("Service Pack 1"));
        assert_eq!(r.report.patches.installed[0].id, "KB4012212");
        let SourceDetail::Systeminfo(d) = &r.detail else {
            panic!("detail")
        };
        assert_eq!(d.language.as_deref(), Some("zh"));
        let nl = "Hostnaam:                        PC-NL\nNaam besturingssysteem:          Microsoft Windows 10 Pro\nVersie besturingssysteem:        10.0.19045 N.v.t. build 19045\nSysteemtype:                     x64-based PC\n";
        let r = one(nl);
        assert_eq!(r.identity.host_name.as_deref(), Some("PC-NL"));
        assert_eq!(
            r.report.os.name.as_deref(),
            Some("Microsoft Windows 10 Pro")
        );
    }

    #[test]
    fn unknown_language_falls_back_on_shapes() {
        let pl = "Nazwa hosta:                 PC-PL\nNazwa systemu operacyjnego:  Microsoft Windows 7 Professional\nWersja systemu operacyjnego: 6.1.7601 Dodatek Service Pack 1 Kompilacja 7601\nTyp systemu:                 x64-based PC\nPoprawki:                    1 zainstalowanych poprawek.\n                             [01]: KB4012212\n";
        let r = one(pl);
        assert_eq!(r.identity.host_name.as_deref(), Some("PC-PL"));
        assert_eq!(r.report.os.build.as_deref(), Some("7601"));
        assert_eq!(r.report.os.service_pack.as_deref(), Some("Service Pack 1"));
        assert_eq!(r.report.os.architecture.as_deref(), Some("x86_64"));
        assert_eq!(r.report.patches.installed.len(), 1);
    }

    #[test]
    fn csv_format() {
        let csv = "\"Host Name\",\"OS Name\",\"OS Version\",\"System Type\",\"Time Zone\",\"Hotfix(s)\",\"Network Card(s)\"\r\n\"PC1\",\"Microsoft Windows 7 Enterprise\",\"6.1.7601 Service Pack 1 Build 7601\",\"x64-based PC\",\"(UTC+01:00) Amsterdam, Berlin\",\"2 Hotfix(s) Installed.,[01]: KB1111111,[02]: KB2222222\",\"1 NIC(s) Installed.,[01]: Intel(R) PRO/1000,      Connection Name: LAN,      DHCP Enabled:    No,      IP address(es),      [01]: 10.1.2.3\"\r\n\"PC2\",\"Microsoft Windows XP Professional\",\"5.1.2600 Service Pack 3 Build 2600\",\"X86-based PC\",\"(GMT) Casablanca\",\"N/A\",\"N/A\"\r\n";
        let p = parse(csv.as_bytes(), "c.csv", now()).expect("parse");
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(a.report.patches.installed.len(), 2);
        assert_eq!(
            a.identity.ips,
            vec!["10.1.2.3".parse::<IpAddr>().expect("ip")]
        );
        assert_eq!(
            p.records[1].report.os.service_pack.as_deref(),
            Some("Service Pack 3")
        );
    }

    #[test]
    fn table_format() {
        let t = "\r\nHost Name   OS Name                             OS Version                          System Type    Hotfix(s)\r\n=========== =================================== =================================== ============== ==========================\r\nPC7         Microsoft Windows 7 Professional    6.1.7601 Service Pack 1 Build 7601  x64-based PC   2 Hotfix(s) Installed.\r\n                                                                                                   [01]: KB4012212\r\n                                                                                                   [02]: KB4012215\r\n";
        let r = one(t);
        assert_eq!(r.identity.host_name.as_deref(), Some("PC7"));
        assert_eq!(r.report.os.build.as_deref(), Some("7601"));
        assert_eq!(r.report.patches.installed.len(), 2);
    }

    #[test]
    fn not_systeminfo() {
        assert!(parse(b"hello world\nthis is text\n", "x", now()).is_err());
    }
}
