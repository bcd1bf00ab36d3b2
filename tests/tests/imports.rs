//! Imports end to end with the real binaries: every real systeminfo, qfe and nmap capture in
//! `../shared/realdata` through `ward-collector import`, then the ranking, the findings and the
//! coverage view through the API and the CLI, and a re-import that changes nothing.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;
use ward_tests::{
    Collector, agent, agent_identity, collector_cli, enroll, free_port, init_collector, realdata,
    skip, stderr, stdout,
};

/// Files under `dir`, sorted, hidden entries skipped (as `import` walks a directory).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.file_name().unwrap().to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The result line for each file: `PATH: imported ...` / `PATH: rejected: ...`, keyed by path.
/// Warning lines (indented) belong to the line above and are skipped here.
fn result_lines(out: &str, files: &[PathBuf]) -> BTreeMap<PathBuf, String> {
    let mut lines = BTreeMap::new();
    for line in out.lines().filter(|l| !l.starts_with(' ')) {
        let file = files
            .iter()
            .find(|f| line.starts_with(&format!("{}: ", f.display())))
            .unwrap_or_else(|| panic!("a result line for no file given: {line}"));
        let rest = line[file.display().to_string().len() + 2..].to_owned();
        assert!(
            lines.insert(file.clone(), rest).is_none(),
            "two result lines for {}",
            file.display()
        );
    }
    lines
}

/// `imported N device(s) (FORMAT)` -> (N, FORMAT).
fn imported(rest: &str) -> Option<(u32, String)> {
    let rest = rest.strip_prefix("imported ")?;
    let (n, rest) = rest.split_once(' ')?;
    let format = rest.split_once('(')?.1.strip_suffix(')')?;
    Some((n.parse().ok()?, format.to_owned()))
}

/// The files of the captures that are refused, each for a reason read from the file: lists of
/// update titles (not a format Ward knows) and nmap scans in which no host was up.
const REJECTED: [(&str, &str); 8] = [
    (
        "10_1803_x64_proforworkstations_en-us_A_20190305_updates.txt",
        "format not recognised",
    ),
    (
        "10_1809_x64_education_en-us_20190306_updates.txt",
        "format not recognised",
    ),
    (
        "7_sp1_x64_enterprise_en-us_20190305_updates.txt",
        "format not recognised",
    ),
    (
        "srv_2012r2_u1_updates_optional.txt",
        "format not recognised",
    ),
    ("host-down.xml", "no host is up"),
    ("localscan.xml", "no host is up"),
    ("down.xml", "no host that is up"),
    ("empty.xml", "no host that is up"),
];

/// Hosts the nmap captures call VULNERABLE to MS17-010 (smb-vuln-ms17-010).
const MS17_010_VULNERABLE: [&str; 2] = ["10.129.134.96", "172.28.1.3"];

async fn assessment(c: &Collector, id: &str) -> Value {
    let (status, a) = c
        .admin_get(&format!("/api/v1/devices/{id}/assessment"))
        .await
        .unwrap();
    assert_eq!(status, 200, "{a}");
    a
}

fn rules(assessment: &Value) -> Vec<String> {
    assessment["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// The coverage view without the time it was made.
fn coverage_without_time(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("generated_at");
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn real_captures_import_rank_and_show_what_is_unmanaged() {
    let Some(root) = realdata() else {
        skip("../shared/realdata not present");
        return;
    };
    let (sysinfo_dir, nmap_dir) = (root.join("systeminfo"), root.join("nmap"));
    let files: Vec<PathBuf> = files_under(&sysinfo_dir)
        .into_iter()
        .chain(files_under(&nmap_dir))
        .collect();
    assert!(files.len() > 50, "{} capture files", files.len());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(&data, None).unwrap();
    // The captures are years old: a wide stale window counts them as current, as an operator
    // reading an old scan would set it. The port in the config lets the CLI find the server.
    let port = free_port();
    std::fs::write(
        data.join("ward-collector.toml"),
        format!("listen = \"127.0.0.1:{port}\"\n[weights]\nstale_after_days = 36500\n"),
    )
    .unwrap();
    let d = data.to_string_lossy().into_owned();
    let (s, n) = (
        sysinfo_dir.to_string_lossy().into_owned(),
        nmap_dir.to_string_lossy().into_owned(),
    );

    // Server stopped: the CLI writes to the store itself.
    let out = collector_cli(&["import", "--data", &d, &s, &n]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines = result_lines(&stdout(&out), &files);
    let missing: Vec<_> = files.iter().filter(|f| !lines.contains_key(*f)).collect();
    assert!(missing.is_empty(), "no result line for {missing:?}");
    let (mut ok, mut devices) = (0, 0);
    let mut rejected = BTreeSet::new();
    for (file, rest) in &lines {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(reason) = rest.strip_prefix("rejected: ") {
            let expected = REJECTED
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{} rejected: {reason}", file.display()));
            assert!(reason.contains(expected.1), "{name}: {reason}");
            rejected.insert(name);
            continue;
        }
        let (count, format) =
            imported(rest).unwrap_or_else(|| panic!("{}: {rest}", file.display()));
        assert!(count >= 1, "{name}: {rest}");
        let expected_format = if file.starts_with(&nmap_dir) {
            "nmap"
        } else if name.contains("qfe") {
            "qfe"
        } else {
            "systeminfo"
        };
        assert_eq!(format, expected_format, "{name}");
        ok += 1;
        devices += count;
    }
    assert_eq!(rejected.len(), REJECTED.len(), "{rejected:?}");
    assert!(
        stderr(&out).contains(&format!(
            "{ok} of {} files imported, {} rejected, {devices} devices",
            files.len(),
            rejected.len()
        )),
        "{}",
        stderr(&out)
    );

    // An agent at site North, so the coverage view has a managed site beside the imports.
    let c = Collector::start(&data, port).unwrap();
    let state = dir.path().join("agent");
    assert!(enroll(&c, &state).status.success());
    let run = agent(&[
        "run",
        "--once",
        "--state",
        &state.to_string_lossy(),
        "--set",
        "tags.site=North",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let (agent_id, _) = agent_identity(&state);

    // The top of the ranking: an XP or Server 2003 machine, unsupported, and here (nmap saw it
    // VULNERABLE to MS17-010 with SMBv1 on) exposed to WannaCry.
    let (status, page) = c.admin_get("/api/v1/rankings?per_page=500").await.unwrap();
    assert_eq!(status, 200, "{page}");
    let rows = page["rows"].as_array().unwrap();
    let top = &rows[0];
    let os = top["os"].as_str().unwrap_or_default();
    assert!(os.contains("XP") || os.contains("2003"), "{top}");
    let top_assessment = assessment(&c, top["device_id"].as_str().unwrap()).await;
    let top_rules = rules(&top_assessment);
    assert!(
        top_rules.iter().any(|r| r == "os_end_of_support"),
        "{top_assessment}"
    );
    assert_eq!(top["wannacry_exposed"], true, "{top}");
    assert!(
        top_rules.iter().any(|r| r == "wannacry_exposed"),
        "{top_rules:?}"
    );
    // Every machine judged XP or 2003 ranks above every current Windows (11 24H2, Server
    // 2019/2022) in the captures.
    let positions = |pred: &dyn Fn(&Value) -> bool| -> Vec<usize> {
        rows.iter()
            .enumerate()
            .filter(|(_, r)| pred(r))
            .map(|(i, _)| i)
            .collect()
    };
    let legacy = positions(&|r| {
        let reason = r["reason"].as_str().unwrap_or_default();
        reason.starts_with("Windows XP") || reason.starts_with("Windows Server 2003")
    });
    let current = positions(&|r| {
        let os = r["os"].as_str().unwrap_or_default();
        os.contains("Windows 11") && r["reason"].as_str().unwrap_or_default().contains("24H2")
            || os.contains("Server 2019")
            || os.contains("Server 2022")
    });
    assert!(
        legacy.len() >= 6 && !current.is_empty(),
        "{legacy:?} {current:?}"
    );
    assert!(
        legacy.iter().max() < current.iter().min(),
        "{legacy:?} {current:?}"
    );

    // Coverage: the agent is the only managed device; nmap-only hosts are unmanaged, listed
    // with their addresses; the share is given by site.
    let (status, coverage) = c.admin_get("/api/v1/coverage").await.unwrap();
    assert_eq!(status, 200, "{coverage}");
    assert_eq!(coverage["managed"], 1, "{coverage}");
    let total = coverage["devices"].as_u64().unwrap();
    let unmanaged = coverage["unmanaged"].as_u64().unwrap();
    assert!(unmanaged >= 50, "{coverage}");
    assert!(coverage["imported"].as_u64().unwrap() >= 25, "{coverage}");
    assert_eq!(
        coverage["managed_share"].as_f64().unwrap(),
        1.0 / total as f64
    );
    let sites: BTreeMap<String, Value> = coverage["by_site"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["site"].as_str().unwrap().to_owned(), s.clone()))
        .collect();
    assert_eq!(sites["North"]["devices"], 1, "{coverage}");
    assert_eq!(sites["North"]["managed_share"], 1.0, "{coverage}");
    assert_eq!(sites["(no site)"]["managed"], 0, "{coverage}");
    assert_eq!(sites["(no site)"]["unmanaged"], unmanaged, "{coverage}");
    let listed = coverage["unmanaged_devices"].as_array().unwrap();
    assert_eq!(listed.len() as u64, unmanaged, "all active, so all counted");
    for u in listed {
        assert_eq!(u["active"], true, "{u}");
        assert_eq!(u["sources"], serde_json::json!(["nmap"]), "{u}");
        assert_ne!(u["id"], agent_id.as_str());
    }

    // nmap's MS17-010 VULNERABLE verdicts are findings on the hosts it scanned.
    for ip in MS17_010_VULNERABLE {
        let device = listed
            .iter()
            .find(|u| {
                u["ip_addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == ip)
            })
            .unwrap_or_else(|| panic!("{ip} is not listed as unmanaged"));
        let a = assessment(&c, device["id"].as_str().unwrap()).await;
        let finding = a["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "ms17_010_missing")
            .unwrap_or_else(|| panic!("{ip}: no MS17-010 finding: {a}"));
        let sentence = finding["sentence"].as_str().unwrap();
        assert!(
            sentence.contains("nmap") && sentence.contains("VULNERABLE"),
            "{ip}: {sentence}"
        );
    }

    // `ward-collector coverage` prints the same view (through the running server).
    let cli = collector_cli(&["coverage", "--data", &d]);
    assert!(cli.status.success(), "{}", stderr(&cli));
    let printed: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        coverage_without_time(printed),
        coverage_without_time(coverage.clone())
    );

    // The same files again (through the API this time): nothing new, each one says so.
    let (_, before) = c.admin_get("/api/v1/devices").await.unwrap();
    let again = collector_cli(&["import", "--data", &d, &s, &n]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    let again_lines = result_lines(&stdout(&again), &files);
    for (file, rest) in &again_lines {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if rejected.contains(&name) {
            assert!(rest.starts_with("rejected: "), "{name}: {rest}");
        } else {
            assert!(
                rest.starts_with("imported 0 devices (already imported as "),
                "{name}: {rest}"
            );
        }
    }
    assert_eq!(again_lines.len(), files.len());
    let (_, after) = c.admin_get("/api/v1/devices").await.unwrap();
    assert_eq!(before, after);
    let (_, coverage_after) = c.admin_get("/api/v1/coverage").await.unwrap();
    assert_eq!(
        coverage_without_time(coverage_after),
        coverage_without_time(coverage)
    );
    assert!(c.stop().unwrap().success());
}

/// Waits (up to a minute) until `done` says so; the drop folder is polled every second here.
fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

const DROP_SYSTEMINFO: &str = "Host Name:                 LAB-ANALYSER\r\nOS Name:                   Microsoft Windows XP Professional\r\nOS Version:                5.1.2600 Service Pack 3 Build 2600\r\nSystem type:               X86-based PC\r\nDomain:                    KLINIK\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn files_dropped_into_the_watched_folder_are_imported_or_rejected_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_collector(
        &data,
        Some("import_drop_dir = \"drop\"\nimport_poll_secs = 1\n"),
    )
    .unwrap();
    let c = Collector::start(&data, 0).unwrap();
    let drop = data.join("drop");
    let (done, rejected) = (drop.join("done"), drop.join("rejected"));
    assert!(
        done.is_dir() && rejected.is_dir(),
        "serve makes the folders"
    );

    // A copy in progress under a .part name, renamed when complete; a plain write; junk; and
    // names the watcher leaves alone.
    let t = chrono::Utc::now().timestamp();
    let scan = format!(
        "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"nmap\" start=\"{t}\"><host starttime=\"{t}\"><status state=\"up\"/><address addr=\"10.4.0.2\" addrtype=\"ipv4\"/><hostnames><hostname name=\"pump-gw\" type=\"PTR\"/></hostnames></host></nmaprun>\n"
    );
    std::fs::write(drop.join("scan.xml.part"), &scan).unwrap();
    std::fs::write(drop.join("lab-systeminfo.txt"), DROP_SYSTEMINFO).unwrap();
    std::fs::write(
        drop.join("notes.txt"),
        "call the vendor about the analyser\r\n",
    )
    .unwrap();
    std::fs::write(drop.join(".hidden.csv"), "Name,DNSHostName\r\n").unwrap();
    std::fs::write(drop.join("copying.tmp"), DROP_SYSTEMINFO).unwrap();
    std::fs::rename(drop.join("scan.xml.part"), drop.join("scan.xml")).unwrap();

    wait_for("the drop folder to be processed", || {
        names_in(&done).len() == 2 && names_in(&rejected).len() == 2
    });
    assert_eq!(
        names_in(&done),
        BTreeSet::from(["scan.xml".to_owned(), "lab-systeminfo.txt".to_owned()])
    );
    assert_eq!(
        names_in(&rejected),
        BTreeSet::from(["notes.txt".to_owned(), "notes.txt.reason.txt".to_owned()])
    );
    let reason = std::fs::read_to_string(rejected.join("notes.txt.reason.txt")).unwrap();
    assert!(reason.contains("not recognised"), "{reason}");
    // Left alone: the hidden file and the one still being copied.
    assert_eq!(
        names_in(&drop),
        BTreeSet::from([".hidden.csv".to_owned(), "copying.tmp".to_owned()])
    );

    // Both machines are in the estate; the scanned one is unmanaged.
    let (_, devices) = c.admin_get("/api/v1/devices").await.unwrap();
    let hosts: BTreeSet<String> = devices
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["hostname"].as_str().map(str::to_owned))
        .collect();
    assert!(
        hosts.contains("LAB-ANALYSER") && hosts.contains("pump-gw"),
        "{hosts:?}"
    );
    let (_, coverage) = c.admin_get("/api/v1/coverage").await.unwrap();
    assert_eq!(coverage["unmanaged"], 1, "{coverage}");

    // The same bytes dropped again: filed under done/ beside the first (not overwritten), and
    // nothing new in the estate.
    std::fs::write(drop.join("lab-systeminfo.txt"), DROP_SYSTEMINFO).unwrap();
    wait_for("the repeat to be filed", || names_in(&done).len() == 3);
    assert!(
        names_in(&done)
            .iter()
            .any(|n| n != "lab-systeminfo.txt" && n.ends_with("-lab-systeminfo.txt")),
        "{:?}",
        names_in(&done)
    );
    let (_, again) = c.admin_get("/api/v1/devices").await.unwrap();
    assert_eq!(again, devices);
    assert!(c.stop().unwrap().success());
}
