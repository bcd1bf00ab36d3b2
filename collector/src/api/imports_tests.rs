//! Router tests for `POST /api/v1/imports` and `GET /api/v1/coverage`: every format through
//! the API, bad files refused with a reason and nothing stored, the import permission, the
//! audit entry, coverage by site, stale devices ageing out, and network details withheld.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::tests::{ADMIN, Harness};
use crate::auth::Role;

const SYSTEMINFO: &str = "\r\nHost Name:                 WINXPSP2\r\nOS Name:                   Microsoft Windows XP Professional\r\nOS Version:                5.1.2600 Service Pack 2 Build 2600\r\nSystem type:               X86-based PC\r\nDomain:                    WORKGROUP\r\nHotfix(s):                 2 Hotfix(s) Installed.\r\n                           [01]: KB2481109 - Update\r\n                           [02]: KB958644\r\n";

const QFE: &str = "\"PSComputerName\",\"InstalledOn\",\"Description\",\"HotFixID\",\"CSName\"\r\n\"WS7\",\"3/14/2017 12:00:00 AM\",\"Security Update\",\"KB4012212\",\"WS7\"\r\n";

/// An AD export naming one server that logged on yesterday.
fn ad() -> String {
    let logon = (Utc::now() - Duration::days(1)).format("%m/%d/%Y %H:%M:%S");
    format!(
        "Name,DNSHostName,Enabled,OperatingSystem,OperatingSystemVersion,LastLogonDate\r\nSRV03,srv03.corp.example,True,Windows Server 2003,5.2 (3790),{logon}\r\n"
    )
}

const PROBE: &str = include_str!("../../tests/fixtures/probe/ward-probe-xp-sp3.json");

/// An nmap scan of one host that is up, scanned at `at`, VULNERABLE to MS17-010.
fn nmap(ip: &str, mac: &str, name: &str, at: DateTime<Utc>) -> String {
    let t = at.timestamp();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE nmaprun>
<nmaprun scanner="nmap" args="nmap -p445 --script smb-vuln-ms17-010 {ip}" start="{t}" version="7.94">
<host starttime="{t}" endtime="{t}"><status state="up" reason="arp-response"/>
<address addr="{ip}" addrtype="ipv4"/>
<address addr="{mac}" addrtype="mac" vendor="VMware"/>
<hostnames><hostname name="{name}" type="PTR"/></hostnames>
<ports><port protocol="tcp" portid="445"><state state="open" reason="syn-ack"/><service name="microsoft-ds"/></port></ports>
<hostscript><script id="smb-vuln-ms17-010" output="&#xa;  VULNERABLE:&#xa;    State: VULNERABLE&#xa;"><table key="CVE-2017-0143">
<elem key="state">VULNERABLE</elem>
</table></script></hostscript></host>
</nmaprun>
"#
    )
}

fn upload(token: &str, name: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(format!("/api/v1/imports?name={name}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(body.into())
        .unwrap()
}

fn multipart(token: &str, files: &[(&str, &[u8])]) -> Request<Body> {
    let boundary = "ward-test-boundary";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Request::post("/api/v1/imports")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

/// Imported files and records in the store.
fn stored(h: &Harness) -> (usize, usize) {
    (
        h.state.store.import_files().unwrap().len(),
        h.state.store.import_records().unwrap().len(),
    )
}

fn token(h: &Harness, name: &str, role: Role) -> String {
    crate::auth::create_token(h.state.store.as_ref(), "test", name, role)
        .unwrap()
        .1
}

async fn get(h: &Harness, token: &str, path: &str) -> (StatusCode, Value) {
    h.call(
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn every_format_imports_through_the_api() {
    let h = Harness::new();
    let scan = nmap("10.0.0.7", "00:0C:29:AA:BB:CC", "xp-lab", Utc::now());
    for (name, body, format) in [
        ("pc-systeminfo.txt", SYSTEMINFO.to_owned(), "systeminfo"),
        ("ws7-hotfix.csv", QFE.to_owned(), "qfe"),
        ("ad-computers.csv", ad(), "ad"),
        ("rad-ct-02.json", PROBE.to_owned(), "probe"),
        ("scan.xml", scan, "nmap"),
    ] {
        let (status, answer) = h.call(upload(ADMIN, name, body)).await;
        assert_eq!(status, StatusCode::OK, "{name}: {answer}");
        assert_eq!(answer["imported"], 1, "{answer}");
        assert_eq!(answer["rejected"], 0, "{answer}");
        let r = &answer["results"][0];
        assert_eq!(r["name"], name);
        assert_eq!(r["status"], "imported", "{r}");
        assert_eq!(r["format"], format, "{r}");
        assert_eq!(r["devices"], 1, "{r}");
    }
    assert_eq!(stored(&h), (5, 5));
    let (status, devices) = h.admin_get("/api/v1/devices").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = devices
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["hostname"].as_str())
        .collect();
    for want in ["WINXPSP2", "WS7", "SRV03", "RAD-CT-02", "xp-lab"] {
        assert!(
            names.iter().any(|n| n.eq_ignore_ascii_case(want)),
            "{want} not in {names:?}"
        );
    }

    // The same bytes again: a duplicate, answered 200, nothing stored twice.
    let (status, answer) = h.call(upload(ADMIN, "again.txt", SYSTEMINFO)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["status"], "duplicate", "{answer}");
    assert_eq!(answer["results"][0]["name"], "again.txt");
    assert_eq!(
        answer["results"][0]["imported_as"], "pc-systeminfo.txt",
        "{answer}"
    );
    assert_eq!(stored(&h), (5, 5));
    // The answer reads back as the CLI reads it.
    let parsed: super::imports::ImportAnswer = serde_json::from_value(answer).unwrap();
    assert!(parsed.results[0].ok());
}

#[tokio::test]
async fn a_multipart_upload_imports_each_file_and_refuses_the_bad_one() {
    let h = Harness::new();
    let (status, answer) = h
        .call(multipart(
            ADMIN,
            &[
                ("pc-systeminfo.txt", SYSTEMINFO.as_bytes()),
                ("garbage.bin", &[0u8, 159, 146, 150, 0, 1, 2, 3, 255, 0]),
            ],
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["imported"], 1);
    assert_eq!(answer["rejected"], 1);
    assert_eq!(answer["results"][0]["status"], "imported");
    assert_eq!(answer["results"][1]["name"], "garbage.bin");
    assert_eq!(answer["results"][1]["status"], "rejected");
    assert!(
        !answer["results"][1]["reason"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "{answer}"
    );
    assert_eq!(stored(&h), (1, 1), "only the good file is stored");
}

#[tokio::test]
async fn bad_files_are_refused_with_a_reason_and_store_nothing() {
    let h = Harness::new();
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<nmaprun scanner=\"nmap\" start=\"1700000000\"><host><status state=\"up\"/><address addr=\"10.0.0.1\" addrtype=\"ipv4\"/><hostnames><hostname name=\"&xxe;\"/></hostnames></host></nmaprun>\n";
    let truncated_probe = &PROBE[..PROBE.len() / 2];
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("empty.txt", Vec::new(), "empty"),
        (
            "binary.exe",
            [b"MZ".as_slice(), &[0u8; 64], &[0x90; 64]].concat(),
            "binary",
        ),
        ("xxe.xml", xxe.as_bytes().to_vec(), "entit"),
        ("probe.json", truncated_probe.as_bytes().to_vec(), "probe"),
        (
            "notes.txt",
            b"Shopping list:\r\nmilk\r\neggs\r\n".to_vec(),
            "not recognised",
        ),
    ];
    for (name, body, why) in cases {
        let (status, answer) = h.call(upload(ADMIN, name, body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {answer}");
        let r = &answer["results"][0];
        assert_eq!(r["status"], "rejected", "{name}: {r}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.to_lowercase().contains(why),
            "{name}: reason {reason:?} does not say {why:?}"
        );
        assert!(
            !reason.contains("root:"),
            "an entity was expanded: {reason}"
        );
    }
    assert_eq!(stored(&h), (0, 0));
    let (_, devices) = h.admin_get("/api/v1/devices").await;
    assert_eq!(devices, serde_json::json!([]));
}

#[tokio::test]
async fn only_the_import_permission_may_import_and_each_file_is_audited() {
    let h = Harness::new();
    for role in [Role::Viewer, Role::Finance, Role::Security] {
        let t = token(&h, &format!("t-{}", role.as_str()), role);
        let (status, answer) = h.call(upload(&t, "pc.txt", SYSTEMINFO)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {answer}");
        assert_eq!(stored(&h), (0, 0), "{role:?} stored something");
    }
    let (status, _) = h
        .call(
            Request::post("/api/v1/imports?name=pc.txt")
                .body(Body::from(SYSTEMINFO))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(stored(&h), (0, 0));
    assert!(
        !h.state
            .store
            .audit(100)
            .unwrap()
            .iter()
            .any(|e| e.action == "import"),
        "a refused upload was audited as an import"
    );

    let admin = token(&h, "importer", Role::Admin);
    let (status, answer) = h.call(upload(&admin, "pc.txt", SYSTEMINFO)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = h.call(upload(&admin, "bad.txt", "nothing useful")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let audit = h.state.store.audit(100).unwrap();
    let imports: Vec<_> = audit.iter().filter(|e| e.action == "import").collect();
    assert_eq!(imports.len(), 2, "{audit:?}");
    assert!(imports.iter().all(|e| e.actor == "token:importer"));
    assert!(
        imports.iter().any(|e| e
            .detail
            .starts_with("pc.txt: imported 1 device (systeminfo)")),
        "{imports:?}"
    );
    assert!(
        imports
            .iter()
            .any(|e| e.detail.starts_with("bad.txt: rejected: ")),
        "{imports:?}"
    );
}

/// An agent report from site `site`, collected now.
async fn agent_at_site(h: &Harness, site: &str) -> uuid::Uuid {
    let enrolled = h.enroll().await;
    let mut r = ward_shared::Report::new(
        ward_shared::AgentInfo {
            id: Some(enrolled.agent_id),
            name: "ward-agent".into(),
            version: "0.1.0".into(),
        },
        Utc::now(),
    );
    r.host.hostname = Some(format!("{site}-pc"));
    r.os.name = Some("Windows 11 Pro".into());
    r.tags.site = Some(site.into());
    let (status, body) = h
        .post_report(&enrolled.agent_key, serde_json::to_vec(&r).unwrap(), false)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    enrolled.agent_id
}

#[tokio::test]
async fn coverage_counts_by_site_ages_out_stale_devices_and_hides_addresses_from_finance() {
    let h = Harness::new_large();
    let north = agent_at_site(&h, "North").await;
    // Seen by nmap today: unmanaged and active. Seen by nmap a year ago: stale.
    let fresh = nmap("10.1.0.5", "00:0C:29:00:00:05", "mri-console", Utc::now());
    let old = nmap(
        "10.1.0.9",
        "00:0C:29:00:00:09",
        "old-analyser",
        Utc::now() - Duration::days(365),
    );
    for (name, body) in [("fresh.xml", fresh), ("old.xml", old)] {
        let (status, answer) = h.call(upload(ADMIN, name, body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    // A systeminfo file: imported (not managed, not unmanaged).
    let (status, _) = h.call(upload(ADMIN, "pc.txt", SYSTEMINFO)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, c) = h.admin_get("/api/v1/coverage").await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["devices"], 3, "the stale device is not counted: {c}");
    assert_eq!(c["managed"], 1, "{c}");
    assert_eq!(c["imported"], 1, "{c}");
    assert_eq!(c["unmanaged"], 1, "{c}");
    assert_eq!(c["stale"], 1, "{c}");
    assert!((c["managed_share"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(c["by_source"]["nmap"], 1, "only the fresh scan counts: {c}");
    let sites = c["by_site"].as_array().unwrap();
    let site = |name: &str| {
        sites
            .iter()
            .find(|s| s["site"] == name)
            .unwrap_or_else(|| panic!("no site {name}: {c}"))
    };
    assert_eq!(site("North")["devices"], 1);
    assert_eq!(site("North")["managed"], 1);
    assert_eq!(site("North")["managed_share"], 1.0);
    assert_eq!(site("(no site)")["devices"], 2);
    assert_eq!(site("(no site)")["unmanaged"], 1);
    assert_eq!(site("(no site)")["managed_share"], 0.0);

    // The list: the active one first, then the stale one, kept with `active: false`.
    let listed = c["unmanaged_devices"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "{c}");
    assert_eq!(listed[0]["active"], true);
    assert_eq!(listed[0]["ip_addresses"], serde_json::json!(["10.1.0.5"]));
    assert_eq!(listed[0]["sources"], serde_json::json!(["nmap"]));
    assert_eq!(listed[1]["active"], false);
    assert_eq!(listed[1]["ip_addresses"], serde_json::json!(["10.1.0.9"]));
    assert!(listed.iter().all(|d| d["id"] != north.to_string()));
    // The stale device keeps its history: its record is still there.
    let stale_id = listed[1]["id"].as_str().unwrap();
    let (status, view) = h.admin_get(&format!("/api/v1/devices/{stale_id}")).await;
    assert_eq!(status, StatusCode::OK, "{view}");

    // A viewer sees the addresses; finance (no network details) gets none of them.
    let viewer = token(&h, "viewer", Role::Viewer);
    let (status, v) = get(&h, &viewer, "/api/v1/coverage").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["unmanaged_devices"][0]["ip_addresses"][0], "10.1.0.5");
    let finance = token(&h, "finance", Role::Finance);
    let (status, f) = get(&h, &finance, "/api/v1/coverage").await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(f["unmanaged"], 1, "the counts stay");
    for d in f["unmanaged_devices"].as_array().unwrap() {
        assert_eq!(d["ip_addresses"], serde_json::json!([]), "{d}");
        assert_eq!(d["mac_addresses"], serde_json::json!([]), "{d}");
        assert_eq!(d["fqdn"], Value::Null, "{d}");
    }
    let text = f.to_string();
    assert!(
        !text.contains("10.1.0.") && !text.to_lowercase().contains("00:0c:29"),
        "{text}"
    );

    // Without credentials: nothing.
    let (status, _) = h
        .call(
            Request::get("/api/v1/coverage")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
