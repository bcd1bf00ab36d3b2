//! Risk engine and catalog tests. Device cases are data: `tests/risk_cases/*.json`, each run
//! through [`check`]; see `docs/risk-model.md` for what the rules mean.

use std::path::PathBuf;

use ward_collector::catalog::{self, Catalog, CpuSupport, win11_cpu};

fn catalog() -> Catalog {
    Catalog::builtin().expect("builtin catalog parses and validates")
}

/// `../shared/realdata` beside the workspace, if this machine has it.
fn realdata() -> Option<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let p = workspace.join("../shared/realdata");
    p.is_dir().then_some(p)
}

#[test]
fn builtin_catalog_is_consistent() {
    let c = catalog();
    assert_eq!(catalog::validate(&c), Ok(()));
    assert!(c.version >= 1);
}

#[test]
fn win11_cpu_rules_agree_with_microsoft_lists() {
    let Some(root) = realdata() else {
        println!("skipped: ../shared/realdata not present");
        return;
    };
    let dir = root.join("win11-cpus/rcmaehl__WhyNotWin11/includes");
    let c = catalog();
    let mut failures = Vec::new();
    let mut count = 0;
    for (file, vendor) in [
        ("SupportedProcessorsIntel.txt", "Intel(R) "),
        ("SupportedProcessorsAMD.txt", "AMD "),
        ("SupportedProcessorsQualcomm.txt", "Qualcomm(R) "),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).expect("list readable");
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        assert_eq!(
            header, c.win11_cpu.list_version,
            "{file}: list version differs from catalog"
        );
        for line in lines
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "EOF")
        {
            count += 1;
            let brand = format!("{vendor}{line}");
            let verdict = win11_cpu::classify(&brand, None);
            // The one device-specific entry: supported only on two models.
            let verdict = if line.ends_with("i7-7820HQ") {
                win11_cpu::classify(&brand, Some("Surface Studio 2"))
            } else {
                verdict
            };
            if verdict.support != CpuSupport::Supported {
                failures.push(format!(
                    "{brand}: {:?} ({})",
                    verdict.support, verdict.reason
                ));
            }
        }
    }
    assert!(count > 1400, "lists look truncated: {count}");
    assert!(
        failures.is_empty(),
        "{} listed CPUs not supported by our rules:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---- device cases ----

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use ward_collector::risk::{self, Assessment, DeviceFacts, ExceptionInfo, ExtraEvidence, Weights};

/// The fixed "today" of every case (DOMAIN.md's date).
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("valid date")
}

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/risk_cases")
}

/// Loads a case: the file's partial report is completed with the fields every report has.
fn load(path: &std::path::Path) -> (DeviceFacts, Option<ExceptionInfo>, Value) {
    let text = std::fs::read_to_string(path).expect("case readable");
    let case: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("case")
        .to_string();
    let mut report = json!({
        "schema_version": 1,
        "report_id": "0190f000-0000-7000-8000-000000000000",
        "collected_at": "2026-11-24T08:00:00Z",
        "agent": {"name": "ward-agent", "version": "0.1.0"},
    });
    if let (Some(r), Some(partial)) = (report.as_object_mut(), case["report"].as_object()) {
        for (k, v) in partial {
            r.insert(k.clone(), v.clone());
        }
    }
    let report = serde_json::from_value(report).unwrap_or_else(|e| panic!("{stem}: report: {e}"));
    let last_seen = case["last_seen"]
        .as_str()
        .map(|s| s.parse().expect("last_seen is RFC 3339"))
        .unwrap_or_else(|| {
            Utc.with_ymd_and_hms(2026, 11, 24, 8, 0, 0)
                .single()
                .expect("valid date")
        });
    let mut facts = DeviceFacts::new(stem.clone(), report, last_seen);
    facts.hotfix_list_complete = case["hotfix_list_complete"].as_bool();
    facts.esu_enrolled = case["esu_enrolled"].as_bool();
    if let Some(ev) = case.get("evidence") {
        facts.evidence =
            serde_json::from_value::<Vec<ExtraEvidence>>(ev.clone()).expect("evidence");
    }
    if let Some(sources) = case.get("sources") {
        facts.sources = serde_json::from_value(sources.clone()).expect("sources");
    }
    let exception = case
        .get("exception")
        .map(|e| serde_json::from_value(e.clone()).expect("exception"));
    (facts, exception, case["expect"].clone())
}

fn as_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serialisable")
}

/// Runs one case and compares the verdict with its `expect` block; returns the assessment.
fn check(path: &std::path::Path, catalog: &Catalog) -> Assessment {
    let (facts, exception, expect) = load(path);
    let a = risk::assess(
        &facts,
        catalog,
        now(),
        &Weights::default(),
        exception.as_ref(),
    );
    let name = &facts.device_id;
    let dump = serde_json::to_string_pretty(&a).unwrap_or_default();
    let fail = |what: String| -> ! { panic!("case {name}: {what}\nassessment:\n{dump}") };

    let remedy = as_json(&a.remedy.class);
    if let Some(want) = expect.get("remedy")
        && &remedy != want
    {
        fail(format!("remedy {remedy} != expected {want}"));
    }
    if let Some(want) = expect.get("then")
        && &as_json(&a.remedy.then) != want
    {
        fail(format!(
            "remedy.then {:?} != expected {want}",
            a.remedy.then
        ));
    }
    // Each listed text appears in one of the remedy's steps.
    if let Some(want) = expect.get("steps_include").and_then(Value::as_array) {
        for text in want.iter().filter_map(Value::as_str) {
            if !a.remedy.steps.iter().any(|s| s.contains(text)) {
                fail(format!(
                    "no remedy step says {text:?}: {:?}",
                    a.remedy.steps
                ));
            }
        }
    }
    if let Some(want) = expect.get("readiness") {
        let got = a
            .readiness
            .as_ref()
            .map(|r| as_json(&r.verdict))
            .unwrap_or(Value::Null);
        if &got != want {
            fail(format!("readiness {got} != expected {want}"));
        }
    }
    if let Some(want) = expect.get("lifecycle")
        && &as_json(&a.lifecycle.state) != want
    {
        fail(format!(
            "lifecycle {:?} != expected {want}",
            a.lifecycle.state
        ));
    }
    if let Some(want) = expect.get("ms17_010")
        && &as_json(&a.ms17_010.state) != want
    {
        fail(format!(
            "ms17_010 {:?} != expected {want}",
            a.ms17_010.state
        ));
    }
    if let Some(want) = expect.get("findings").and_then(Value::as_array) {
        let mut want: Vec<&str> = want.iter().filter_map(Value::as_str).collect();
        let mut got: Vec<&str> = a.findings.iter().map(|f| f.rule.as_str()).collect();
        want.sort_unstable();
        got.sort_unstable();
        if want != got {
            fail(format!("findings {got:?} != expected {want:?}"));
        }
    }
    if let Some(want) = expect.get("top").and_then(Value::as_str)
        && a.top_finding().map(|f| f.rule.as_str()) != Some(want)
    {
        fail(format!("top finding is not {want}"));
    }
    if let Some(want) = expect.get("months_behind").and_then(Value::as_u64) {
        let got = a.patch_level.as_ref().map(|p| u64::from(p.months_behind));
        if got != Some(want) {
            fail(format!("months_behind {got:?} != expected {want}"));
        }
    }
    if let Some(want) = expect.get("score").and_then(Value::as_u64)
        && u64::from(a.score) != want
    {
        fail(format!("score {} != expected {want}", a.score));
    }
    if let Some(min) = expect.get("score_min").and_then(Value::as_u64)
        && u64::from(a.score) < min
    {
        fail(format!("score {} below {min}", a.score));
    }
    if let Some(want) = expect.get("criteria").and_then(Value::as_object) {
        let Some(r) = &a.readiness else {
            fail("no readiness".into())
        };
        for (name, status) in want {
            let got = r
                .criteria
                .iter()
                .find(|c| c.name == name)
                .map(|c| as_json(&c.status));
            if got.as_ref() != Some(status) {
                fail(format!("criterion {name}: {got:?} != expected {status}"));
            }
        }
    }
    if let Some(want) = expect.get("sentence_contains").and_then(Value::as_object) {
        for (rule, text) in want {
            let text = text.as_str().unwrap_or_default();
            let ok = a
                .findings
                .iter()
                .any(|f| &f.rule == rule && f.sentence.contains(text));
            if !ok {
                fail(format!("no {rule} finding saying {text:?}"));
            }
        }
    }
    // Every finding explains itself and names its evidence.
    for f in &a.findings {
        if f.sentence.is_empty() || f.evidence.is_empty() {
            fail(format!("finding {} lacks a sentence or evidence", f.rule));
        }
    }
    a
}

fn case_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("risk_cases dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn device_cases() {
    let c = catalog();
    let files = case_files();
    assert!(files.len() >= 10, "cases missing");
    let mut assessments = Vec::new();
    for f in &files {
        assessments.push(check(f, &c));
    }
    // Ranking: the cases that say so come first.
    let ranked = risk::rank(assessments);
    for f in &files {
        let (facts, _, expect) = load(f);
        if expect["rank_first"].as_bool() == Some(true) {
            assert_eq!(
                ranked[0].device_id,
                facts.device_id,
                "ranking: {:?}",
                ranked
                    .iter()
                    .map(|a| (&a.device_id, a.score, a.total))
                    .collect::<Vec<_>>()
            );
        }
    }
    // A readable ranking for `cargo test -- --nocapture`.
    for a in &ranked {
        println!(
            "{:>3} {:>4} {:<32} {:?}: {}",
            a.score, a.total, a.device_id, a.remedy.class, a.remedy.reason
        );
        for f in &a.findings {
            println!("          {:>3} {}", f.points, f.sentence);
        }
    }
}

// ---- catalog tables ----

/// `validate` catches each kind of inconsistency it promises to.
#[test]
fn validate_rejects_broken_catalogs() {
    let good = catalog();
    let mut overlap = good.clone();
    let row = overlap.lifecycle[0].clone();
    overlap.lifecycle.push(catalog::LifecycleRow {
        id: "copy".into(),
        ..row
    });
    assert!(catalog::validate(&overlap).is_err_and(|e| e.iter().any(|m| m.contains("overlaps"))));

    let mut unordered = good.clone();
    let r = &mut unordered.lifecycle[0];
    r.end_mainstream = r.end.map(|e| e + chrono::Days::new(1));
    assert!(catalog::validate(&unordered).is_err());

    let mut no_source = good.clone();
    no_source.lifecycle[1].source = "NOPE".into();
    assert!(catalog::validate(&no_source).is_err_and(|e| e.iter().any(|m| m.contains("NOPE"))));

    let mut ubr = good.clone();
    ubr.windows_updates[0].updates.swap(0, 1);
    assert!(catalog::validate(&ubr).is_err());

    let mut ms = good.clone();
    ms.ms17_010.entries[0].srv_sys_min[0].version = "6.1.7601.23689".into();
    assert!(catalog::validate(&ms).is_err());

    assert!(Catalog::from_json("{}").is_err());
    let text = serde_json::to_string(&good).expect("serialise");
    assert_eq!(Catalog::from_json(&text).expect("round trip"), good);
}

/// Each table, row by row: sources named, dates ordered, no overlaps (validate), plus facts
/// from DOMAIN.md that the tables must keep.
#[test]
fn catalog_tables_hold_domain_facts() {
    let c = catalog();
    let row = |id: &str| {
        c.lifecycle
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("row {id}"))
    };
    let d = |s: &str| s.parse::<chrono::NaiveDate>().expect("date");
    // Microsoft dates are Patch Tuesdays (not the UTC day after).
    for r in c
        .lifecycle
        .iter()
        .filter(|r| r.os == catalog::OsKind::Windows)
    {
        for date in [r.end, r.end_enterprise]
            .into_iter()
            .flatten()
            .chain(r.extended.iter().map(|e| e.end))
        {
            use chrono::Datelike;
            let tuesday = date.weekday() == chrono::Weekday::Tue && (8..=14).contains(&date.day());
            let known_exception = r.id == "winxp" || r.id == "winxp-x64" || r.id == "ws2003";
            assert!(
                tuesday || known_exception,
                "{}: {date} is not a Patch Tuesday",
                r.id
            );
        }
    }
    assert_eq!(row("win7-sp1").last_extended_end(), Some(d("2023-01-10")));
    assert_eq!(row("win10-22h2").last_extended_end(), Some(d("2028-10-10")));
    assert_eq!(
        row("win10-22h2")
            .extended
            .iter()
            .filter_map(|e| e.price_usd)
            .collect::<Vec<_>>(),
        [61, 122, 244]
    );
    assert_eq!(
        row("win11-24h2").end_for(Some("Professional")),
        Some(d("2026-10-13"))
    );
    assert_eq!(
        row("win11-24h2").end_for(Some("Enterprise")),
        Some(d("2027-10-12"))
    );
    assert_eq!(row("ws2012r2").last_extended_end(), Some(d("2026-10-13")));
    assert_eq!(row("ubuntu-18.04").end, Some(d("2023-05-31")));
    // Every Windows 10/11 feature version has a row.
    for b in [
        10240, 10586, 14393, 15063, 16299, 17134, 17763, 18362, 18363, 19041, 19042, 19043, 19044,
        19045, 22000, 22621, 22631, 26100, 26200, 28000,
    ] {
        assert!(
            c.lifecycle
                .iter()
                .any(|r| r.channel == Some(catalog::Channel::Client) && r.builds.contains(&b)),
            "build {b}"
        );
    }
    // Patch table: every Windows build still in support has 24 months of monthly updates.
    for (build, server) in [
        (19045, false),
        (19044, false),
        (26100, false),
        (26200, false),
        (22631, false),
        (14393, true),
        (17763, true),
        (20348, true),
        (26100, true),
    ] {
        let s = c
            .windows_updates
            .iter()
            .find(|s| s.covers(build, server))
            .unwrap_or_else(|| panic!("stream {build}"));
        let months = s
            .updates
            .iter()
            .filter(|u| u.kind == catalog::UpdateKind::Security && u.date >= d("2024-08-01"))
            .count();
        let first = s
            .updates
            .iter()
            .find(|u| u.kind == catalog::UpdateKind::Security)
            .map(|u| u.date);
        // Server 2025 shipped in November 2024: everything since its first update.
        let young = first.is_some_and(|f| f > d("2024-08-01"));
        assert!(
            months >= 24 || young,
            "{build}: {months} monthly updates since 2024-08"
        );
    }
    // Siblings share the UBR stream; the examples of DOMAIN.md §4a resolve.
    let s = c
        .windows_updates
        .iter()
        .find(|s| s.covers(19044, false))
        .expect("19044");
    assert!(s.covers(19045, false));
    assert_eq!(s.row(6456).map(|r| r.kb.as_str()), Some("KB5066791"));
    let s = c
        .windows_updates
        .iter()
        .find(|s| s.covers(20348, true))
        .expect("20348");
    assert_eq!(s.row(5499).map(|r| r.kb.as_str()), Some("KB5120242"));
    // MS17-010 thresholds (KB4023262) and the April 2017 security-only exception.
    let ms = &c.ms17_010;
    let e = ms.entry(7601, Some(false)).expect("win7");
    assert_eq!(
        e.srv_sys("6.1.7601.23689"),
        catalog::ms17_010::SrvVerdict::Fixed
    );
    assert_eq!(
        e.srv_sys("6.1.7601.23688"),
        catalog::ms17_010::SrvVerdict::Missing
    );
    assert!(e.not_fixing.contains(&"KB4015546".to_string()));
    assert!(e.fixing_kbs().any(|k| k == "KB4019264"));
    let vista = ms.entry(6002, Some(true)).expect("2008");
    assert_eq!(
        vista.srv_sys("6.0.6002.24067"),
        catalog::ms17_010::SrvVerdict::Fixed
    );
    assert_eq!(
        vista.srv_sys("6.0.6002.24066"),
        catalog::ms17_010::SrvVerdict::Missing
    );
    assert_eq!(
        vista.srv_sys("6.0.6002.19743"),
        catalog::ms17_010::SrvVerdict::Fixed
    );
    assert_eq!(
        ms.entry(9200, Some(false)).map(|e| e.id.as_str()),
        Some("win8")
    );
    assert_eq!(
        ms.entry(9200, Some(true)).map(|e| e.id.as_str()),
        Some("ws2012")
    );
    assert_eq!(
        ms.entry(14393, None).and_then(|e| e.first_fixed_ubr),
        Some(953)
    );
}

#[test]
fn win11_cpu_test_vectors() {
    use win11_cpu::classify;
    let cases = [
        (
            "Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz",
            CpuSupport::Supported,
        ),
        (
            "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz",
            CpuSupport::Supported,
        ),
        (
            "Intel(R) Core(TM) i7-7820HQ CPU @ 2.90GHz",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Xeon(R) W-2223 CPU @ 3.60GHz",
            CpuSupport::Supported,
        ),
        (
            "Intel(R) Xeon(R) CPU E5-2690 v4 @ 2.60GHz",
            CpuSupport::Unsupported,
        ),
        ("AMD Ryzen 5 2600 Six-Core Processor", CpuSupport::Supported),
        (
            "AMD Ryzen 5 2400G with Radeon Vega Graphics",
            CpuSupport::Unsupported,
        ),
        ("AMD Ryzen 7 1700", CpuSupport::Unsupported),
        (
            "AMD Ryzen 7 1700 Eight-Core Processor",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Core(TM) i3-8121U CPU @ 2.20GHz",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Core(TM)2 Duo CPU E8400 @ 3.00GHz",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Core(TM) i7 CPU 920 @ 2.67GHz",
            CpuSupport::Unknown,
        ),
        (
            "Intel(R) Core(TM) i7-920 CPU @ 2.67GHz",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Pentium(R) CPU G4560 @ 3.50GHz",
            CpuSupport::Unsupported,
        ),
        (
            "Intel(R) Celeron(R) CPU N3450 @ 1.10GHz",
            CpuSupport::Unsupported,
        ),
        (
            "AMD Athlon 200GE with Radeon Vega Graphics",
            CpuSupport::Unsupported,
        ),
        ("AMD EPYC 7551 32-Core Processor", CpuSupport::Unsupported),
        ("AMD EPYC 7302 16-Core Processor", CpuSupport::Supported),
        ("Intel(R) Core(TM) Ultra 7 155H", CpuSupport::Supported),
        ("Intel(R) N100", CpuSupport::Supported),
        (
            "Snapdragon(R) X Elite - X1E78100 - Qualcomm(R) Oryon(TM) CPU",
            CpuSupport::Supported,
        ),
        ("Qualcomm Snapdragon 835", CpuSupport::Unsupported),
        ("Some Future CPU 9000", CpuSupport::Unknown),
        ("", CpuSupport::Unknown),
    ];
    for (brand, want) in cases {
        let v = classify(brand, None);
        assert_eq!(v.support, want, "{brand}: {}", v.reason);
        assert!(!v.reason.is_empty());
    }
    assert_eq!(
        classify(
            "Intel(R) Core(TM) i7-7820HQ CPU @ 2.90GHz",
            Some("Precision 5520")
        )
        .support,
        CpuSupport::Supported
    );
    let blocked =
        win11_cpu::cpuid_block("Intel64 Family 6 Model 94 Stepping 3", Some("GenuineIntel"));
    assert_eq!(blocked.map(|v| v.support), Some(CpuSupport::Unsupported));
    assert!(
        win11_cpu::cpuid_block(
            "Intel64 Family 6 Model 158 Stepping 9",
            Some("GenuineIntel")
        )
        .is_none()
    );
    assert!(
        win11_cpu::cpuid_block("AMD64 Family 23 Model 17 Stepping 0", Some("AuthenticAMD"))
            .is_some()
    );
}

// ---- properties ----

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn opt<T: std::fmt::Debug + Clone + 'static>(
        s: impl Strategy<Value = T> + 'static,
    ) -> impl Strategy<Value = Option<T>> {
        prop_oneof![Just(None), s.prop_map(Some)]
    }

    prop_compose! {
        fn arb_facts()(
            id in "[a-z]{1,6}",
            family in prop_oneof![Just("windows"), Just("linux"), Just("macos"), Just("other")],
            os_id in opt(prop_oneof![Just("ubuntu".to_string()), Just("debian".to_string()), Just("rhel".to_string()), "[a-z]{0,5}"]),
            version in opt(prop_oneof![Just("18.04".to_string()), Just("12".to_string()), Just("7.9".to_string()), "[0-9.]{0,8}"]),
            build in opt(prop_oneof![Just("2600".to_string()), Just("7601".to_string()), Just("14393".to_string()), Just("19045".to_string()), Just("26100".to_string()), "[0-9.a-z]{0,8}"]),
            ubr in opt(any::<u32>()),
            edition in opt(prop_oneof![Just("Enterprise".to_string()), Just("Professional".to_string()), Just("EnterpriseS".to_string()), ".{0,8}"]),
            server in any::<bool>(),
            brand in opt(".{0,40}"),
            tpm_version in opt("[0-9., ]{0,8}"),
            flags in proptest::collection::vec(opt(any::<bool>()), 8),
            ram in opt(any::<u64>()),
            disk in opt(any::<u64>()),
            pending in opt(any::<u32>()),
            kbs in proptest::collection::vec(prop_oneof![Just("KB4012215".to_string()), Just("KB4019264".to_string()), "[A-Za-z0-9]{0,9}"], 0..4),
            srv in opt("[0-9.]{0,16}"),
            seen_days in -5i64..4000,
            clinical in opt(any::<bool>()),
        ) -> DeviceFacts {
            let mut r: ward_shared::Report = serde_json::from_value(json!({
                "schema_version": 1,
                "report_id": "0190f000-0000-7000-8000-000000000000",
                "collected_at": "2026-11-24T08:00:00Z",
                "agent": {"name": "prop", "version": "0"},
                "os": {"family": family},
            })).expect("base report");
            r.os.id = os_id;
            r.os.version = version;
            r.os.build = build;
            r.os.revision = ubr;
            r.os.edition = edition;
            r.os.installation_type = Some(if server { "Server".into() } else { "Client".into() });
            r.hardware.cpu.brand = brand;
            r.hardware.tpm.version = tpm_version;
            r.hardware.tpm.present = flags[0];
            r.hardware.tpm.enabled = flags[1];
            r.hardware.uefi = flags[2];
            r.hardware.secure_boot = flags[3];
            r.hardware.ram_bytes = ram;
            r.hardware.disks = disk.map(|s| ward_shared::report::Disk { name: "C:".into(), size_bytes: Some(s), system: true, ..Default::default() }).into_iter().collect();
            r.security.smb1_server_enabled = flags[4];
            r.security.firewall_enabled = flags[5];
            r.security.system_disk_encrypted = flags[6];
            r.security.srv_sys_version = srv;
            r.patches.reboot_pending = flags[7];
            r.patches.pending_security_count = pending;
            r.patches.installed = kbs.into_iter().map(|id| ward_shared::report::InstalledUpdate { id, ..Default::default() }).collect();
            r.tags.clinical = clinical;
            DeviceFacts::new(id, r, now() - chrono::Duration::days(seen_days))
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Scoring never panics, the score stays in 0..=100 and findings are ordered.
        #[test]
        fn assess_never_panics(facts in arb_facts(), expired in any::<bool>()) {
            let c = catalog();
            let exception = ExceptionInfo {
                reason: "test".into(),
                controls: vec![],
                owner: "o".into(),
                review_date: if expired { now().date_naive() - chrono::Days::new(1) } else { now().date_naive() },
            };
            let a = risk::assess(&facts, &c, now(), &Weights::default(), Some(&exception));
            prop_assert!(a.score <= 100);
            prop_assert!(a.score <= a.total || a.total >= 100);
            prop_assert!(a.findings.windows(2).all(|w| w[0].points >= w[1].points));
            let again = risk::assess(&facts, &c, now(), &Weights::default(), Some(&exception));
            prop_assert_eq!(&a, &again);
        }

        /// The ranking order is total (antisymmetric, transitive) and the sort is stable: ranking
        /// any permutation gives the same sequence of device ids.
        #[test]
        fn rank_is_total_and_stable(all in proptest::collection::vec(arb_facts(), 1..12), seed in any::<u64>()) {
            let c = catalog();
            let w = Weights::default();
            let a: Vec<Assessment> = all.iter().map(|f| risk::assess(f, &c, now(), &w, None)).collect();
            for x in &a {
                for y in &a {
                    let xy = risk::compare(x, y);
                    prop_assert_eq!(xy, risk::compare(y, x).reverse());
                    for z in &a {
                        if xy.is_le() && risk::compare(y, z).is_le() {
                            prop_assert!(risk::compare(x, z).is_le());
                        }
                    }
                }
            }
            let ids = |v: &[Assessment]| v.iter().map(|x| (x.device_id.clone(), x.total)).collect::<Vec<_>>();
            let first = risk::rank(a.clone());
            let mut shuffled = a;
            // Deterministic shuffle from the seed.
            let n = shuffled.len();
            for i in 0..n {
                let j = ((seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64)) % n as u64) as usize;
                shuffled.swap(i, j);
            }
            let second = risk::rank(shuffled);
            // Devices with the same id may be equal; compare the keys the order uses.
            prop_assert_eq!(ids(&first).len(), ids(&second).len());
            for (x, y) in first.iter().zip(&second) {
                prop_assert_eq!(risk::compare(x, y), std::cmp::Ordering::Equal);
            }
        }
    }
}
