//! `ward-collector import` and `coverage` as a user meets them, with the server stopped (the
//! CLI opens the store itself): exit codes, result lines, a rejected file changing nothing,
//! progress within a large file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn ward_collector(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ward-collector"))
        .args(args)
        .stdin(Stdio::null())
        .env("WARD_LOG", "warn")
        .output()
        .expect("run ward-collector")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SYSTEMINFO: &str = "Host Name:                 WINXPSP2\r\nOS Name:                   Microsoft Windows XP Professional\r\nOS Version:                5.1.2600 Service Pack 2 Build 2600\r\nSystem type:               X86-based PC\r\nDomain:                    WORKGROUP\r\nHotfix(s):                 1 Hotfix(s) Installed.\r\n                           [01]: KB958644\r\n";

/// An nmap scan of one host, up and scanned now.
fn nmap_now() -> String {
    let t = chrono::Utc::now().timestamp();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" start="{t}" version="7.94">
<host starttime="{t}"><status state="up"/><address addr="10.3.0.8" addrtype="ipv4"/>
<address addr="00:0C:29:00:03:08" addrtype="mac"/><hostnames><hostname name="infusion-gw" type="PTR"/></hostnames></host>
</nmaprun>
"#
    )
}

struct Dir {
    _tmp: tempfile::TempDir,
    data: String,
    files: PathBuf,
}

fn setup() -> Dir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let init = ward_collector(&["init", "--data", &data.to_string_lossy()]);
    assert!(init.status.success(), "{}", stderr(&init));
    let files = tmp.path().join("files");
    std::fs::create_dir(&files).expect("mkdir");
    Dir {
        data: data.to_string_lossy().into_owned(),
        files,
        _tmp: tmp,
    }
}

fn write(dir: &Path, name: &str, body: impl AsRef<[u8]>) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write");
    p.to_string_lossy().into_owned()
}

/// What the store holds, as the CLI shows it: the coverage view without its time.
fn estate(data: &str) -> Value {
    let out = ward_collector(&["coverage", "--data", data]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("coverage prints JSON");
    v.as_object_mut().expect("object").remove("generated_at");
    v
}

#[test]
fn all_imported_exits_0_and_each_file_gets_its_line() {
    let d = setup();
    let si = write(&d.files, "pc-systeminfo.txt", SYSTEMINFO);
    let scan = write(&d.files, "scan.xml", nmap_now());
    let out = ward_collector(&["import", "--data", &d.data, &si, &scan]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("{si}: imported 1 device (systeminfo)\n{scan}: imported 1 device (nmap)\n")
    );
    assert!(
        stderr(&out).contains("2 of 2 files imported, 0 rejected, 2 devices"),
        "{}",
        stderr(&out)
    );

    // Coverage, printed by the CLI: the scanned host is unmanaged, the systeminfo one imported.
    let c = estate(&d.data);
    assert_eq!(c["devices"], 2, "{c}");
    assert_eq!(c["managed"], 0, "{c}");
    assert_eq!(c["imported"], 1, "{c}");
    assert_eq!(c["unmanaged"], 1, "{c}");
    assert_eq!(c["unmanaged_devices"][0]["hostname"], "infusion-gw", "{c}");
    assert_eq!(c["unmanaged_devices"][0]["ip_addresses"][0], "10.3.0.8");
    assert_eq!(c["by_site"][0]["site"], "(no site)");
    assert_eq!(c["by_site"][0]["managed_share"], 0.0);

    // The same files again: still exit 0 (imported before), nothing new.
    let again = ward_collector(&["import", "--data", &d.data, &d.files.to_string_lossy()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    for line in stdout(&again).lines() {
        assert!(
            line.contains(": imported 0 devices (already imported as "),
            "{line}"
        );
    }
    assert_eq!(estate(&d.data), c);
}

#[test]
fn a_rejected_file_exits_2_says_why_and_changes_nothing() {
    let d = setup();
    let si = write(&d.files, "pc-systeminfo.txt", SYSTEMINFO);
    let first = ward_collector(&["import", "--data", &d.data, &si]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let before = estate(&d.data);

    let bad = write(
        &d.files,
        "notes.txt",
        "meeting at ten\r\nbring the list\r\n",
    );
    let cut = write(
        &d.files,
        "cut.json",
        "{\"schema_version\":1,\"report_id\":\"5f0c9a8e-",
    );
    let binary = write(
        &d.files,
        "tool.exe",
        [b"MZ".as_slice(), &[0u8; 200]].concat(),
    );
    let missing = d.files.join("absent.txt").to_string_lossy().into_owned();
    let out = ward_collector(&[
        "import", "--data", &d.data, &bad, &cut, &binary, &missing, &si,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for (line, file) in lines.iter().zip([&bad, &cut, &binary, &missing]) {
        let reason = line
            .strip_prefix(&format!("{file}: rejected: "))
            .unwrap_or_else(|| panic!("not a rejection of {file}: {line}"));
        assert!(reason.len() > 10, "{line}");
    }
    assert!(lines[3].contains("cannot read"), "{}", lines[3]);
    assert_eq!(
        lines[4],
        format!(
            "{si}: imported 0 devices (already imported as pc-systeminfo.txt; nothing changed)"
        )
    );
    assert!(
        stderr(&out).contains("1 of 5 files imported, 4 rejected, 0 devices"),
        "{}",
        stderr(&out)
    );
    assert_eq!(estate(&d.data), before, "a rejected file changed the store");

    // Nothing to import at all is an error (exit 1), not a rejection.
    let empty = d.files.join("empty-dir");
    std::fs::create_dir(&empty).expect("mkdir");
    let none = ward_collector(&["import", "--data", &d.data, &empty.to_string_lossy()]);
    assert_eq!(none.status.code(), Some(1), "{}", stderr(&none));
    assert!(
        stderr(&none).contains("no file to import"),
        "{}",
        stderr(&none)
    );
}

#[test]
fn a_large_ad_export_shows_progress_within_the_file() {
    let d = setup();
    let mut csv = String::from(
        "Name,DNSHostName,Enabled,OperatingSystem,OperatingSystemVersion,LastLogonTimestamp\r\n",
    );
    // Logged on yesterday (FILETIME: 100 ns since 1601), so every machine counts as active.
    let logon = (chrono::Utc::now().timestamp() - 86_400 + 11_644_473_600) * 10_000_000;
    for i in 0..20_000 {
        csv.push_str(&format!(
            "PC{i:05},pc{i:05}.corp.example,True,Windows 10 Enterprise,10.0 (19045),{logon}\r\n"
        ));
    }
    // And one that last logged on in 2018: a stale record, not an active machine.
    csv.push_str(
        "GONE,gone.corp.example,True,Windows 7 Professional,6.1 (7601),131900000000000000\r\n",
    );
    let ad = write(&d.files, "ad-computers.csv", csv);
    let out = ward_collector(&["import", "--data", &d.data, &ad]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{ad}: imported 20001 devices (ad)\n"));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("progress: {ad}: 20001 records read; storing them")),
        "{err}"
    );
    // Every count shown while reading is below the total and they only go up.
    let counts: Vec<usize> = err
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("progress: {ad}: ")))
        .filter_map(|l| l.strip_suffix(" records read"))
        .map(|n| n.parse().expect("a count"))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts.iter().all(|&n| n <= 20_001), "{counts:?}");
    let c = estate(&d.data);
    assert_eq!(
        c["unmanaged"], 20_000,
        "AD-only machines are unmanaged: {}",
        c["stale"]
    );
    assert_eq!(c["stale"], 1, "the account unused since 2018 is stale");
}
