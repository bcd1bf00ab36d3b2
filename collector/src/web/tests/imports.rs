//! The Imports page (upload, per-file results, recent imports, audit, CSRF) and the Unmanaged
//! page built from what was imported (coverage by site, the outside-only list, network details
//! by role), and the overview's coverage card.

use super::*;

const BOUNDARY: &str = "ward-test-boundary-7f3a";

/// An nmap scan made `hours_ago` hours ago: the XP PC open to WannaCry with SMBv1 on, a
/// printer that is not vulnerable, and a host nothing could be tested on.
fn nmap_scan(hours_ago: i64) -> String {
    let t = (Utc::now() - chrono::Duration::hours(hours_ago)).timestamp();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -p445 --script smb-os-discovery,smb-protocols,smb-vuln-ms17-010 10.0.0.0/24" start="{t}" version="7.94">
<host starttime="{t}"><status state="up"/>
<address addr="10.0.0.7" addrtype="ipv4"/>
<address addr="00:0C:29:AA:BB:CC" addrtype="mac"/>
<hostnames><hostname name="xp-lab.klinik.local" type="PTR"/></hostnames>
<ports><port protocol="tcp" portid="445"><state state="open"/><service name="microsoft-ds"/></port></ports>
<os><osmatch name="Microsoft Windows XP SP2 or SP3" accuracy="96"/></os>
<hostscript><script id="smb-protocols" output="x"><table key="dialects"><elem>NT LM 0.12 (SMBv1) [dangerous, but default]</elem></table></script>
<script id="smb-vuln-ms17-010" output="VULNERABLE"><table key="CVE-2017-0143"><elem key="state">VULNERABLE</elem></table></script></hostscript></host>
<host starttime="{t}"><status state="up"/>
<address addr="10.0.0.20" addrtype="ipv4"/>
<hostnames><hostname name="printer-3.klinik.local" type="PTR"/></hostnames>
<hostscript><script id="smb-protocols" output="x"><table key="dialects"><elem>2.1</elem></table></script>
<script id="smb-vuln-ms17-010" output="NOT VULNERABLE"><table key="x"><elem key="state">NOT VULNERABLE</elem></table></script></hostscript></host>
</nmaprun>
"#
    )
}

/// A multipart body: text fields first, then files, in the given order.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Web {
    async fn upload(&self, cookie: &str, body: Vec<u8>) -> Answer {
        let r = Request::post("/imports")
            .header(header::COOKIE, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .unwrap();
        self.send(r).await
    }

    fn import_audits(&self) -> usize {
        self.state
            .store
            .audit(500)
            .unwrap()
            .iter()
            .filter(|e| e.action == "import")
            .count()
    }
}

#[tokio::test]
async fn admin_uploads_files_and_sees_each_result() {
    let web = Web::new();
    let (admin, csrf) = web.session("ada");
    let page = web.get("/imports", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"enctype="multipart/form-data""#));
    assert!(page.body.contains(r#"type="file""#) && page.body.contains("multiple"));
    assert!(
        page.body.contains("Up to 64 MB per file"),
        "size limits shown"
    );
    assert!(page.body.contains("No files imported yet."));

    let scan = nmap_scan(2);
    let a = web
        .upload(
            &admin,
            multipart(
                &[("csrf", &csrf)],
                &[
                    ("scan.xml", scan.as_bytes()),
                    ("notes.txt", b"shopping list: milk, eggs"),
                ],
            ),
        )
        .await;
    // One file rejected: the whole answer says so, the good file is stored all the same.
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.body);
    assert!(a.body.contains("Result of this upload"));
    assert!(
        a.body.contains("2 files: <strong>1 imported (2 device records)</strong>, 0 already imported before, 1 not imported."),
        "{}",
        a.body
    );
    assert!(a.body.contains("scan.xml") && a.body.contains("2 devices (nmap scan, XML)."));
    assert!(a.body.contains("notes.txt") && a.body.contains("Rejected"));
    assert!(a.body.contains("Nothing from this file was stored."));
    let files = web.state.store.import_files().unwrap();
    assert_eq!(files.len(), 1, "only the good file is stored");
    assert_eq!(files[0].name, "scan.xml");
    assert_eq!(web.import_audits(), 2, "every file's result is audited");

    // The same file again is a duplicate and changes nothing.
    let again = web
        .upload(
            &admin,
            multipart(&[("csrf", &csrf)], &[("scan-copy.xml", scan.as_bytes())]),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("Duplicate"));
    assert!(again.body.contains("imported before (as scan.xml)"));
    assert_eq!(web.state.store.import_files().unwrap().len(), 1);
    assert_eq!(web.import_audits(), 3);

    // The recent list shows it, and the audit log names the importer.
    let page = web.get("/imports", Some(&admin)).await;
    assert!(page.body.contains("Recent imports") && page.body.contains("scan.xml"));
    assert!(page.body.contains("nmap scan, XML"));
    let audit = web.get("/admin/audit", Some(&admin)).await;
    assert!(audit.body.contains("user:ada") && audit.body.contains("scan.xml: imported 2 devices"));

    // No file chosen: a browser sends one empty nameless part.
    let none = web
        .upload(&admin, multipart(&[("csrf", &csrf)], &[("", b"")]))
        .await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert!(none.body.contains("No file was chosen"));
}

#[tokio::test]
async fn uploads_without_the_csrf_token_or_the_role_change_nothing() {
    let web = Web::new();
    let (admin, csrf) = web.session("ada");
    let scan = nmap_scan(1);
    let (_, other) = web.session("ada");
    for fields in [
        vec![],
        vec![("csrf", "forged")],
        vec![("csrf", other.as_str())],
    ] {
        let a = web
            .upload(&admin, multipart(&fields, &[("scan.xml", scan.as_bytes())]))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(a.body.contains("nothing was changed"));
    }
    // The token after the file is too late: the file is refused unread.
    let mut late = multipart(&[], &[("scan.xml", scan.as_bytes())]);
    let end = format!("--{BOUNDARY}--\r\n");
    late.truncate(late.len() - end.len());
    late.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n{end}"
        )
        .as_bytes(),
    );
    assert_eq!(web.upload(&admin, late).await.status, StatusCode::FORBIDDEN);
    // A plain form post (no multipart) is refused the same way.
    let a = web
        .post_form("/imports", Some(&admin), &[("csrf", &csrf)])
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    for user in ["vic", "fin", "sam"] {
        let (cookie, token) = web.session(user);
        let a = web
            .upload(
                &cookie,
                multipart(&[("csrf", &token)], &[("scan.xml", scan.as_bytes())]),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{user}");
        assert!(a.body.contains("Not available to your role"));
    }
    assert!(web.state.store.import_files().unwrap().is_empty());
    assert_eq!(web.import_audits(), 0);
}

#[tokio::test]
async fn unmanaged_page_lists_outside_only_devices_by_role() {
    let web = Web::new();
    let (admin, csrf) = web.session("ada");
    let before = web.get("/unmanaged", Some(&admin)).await;
    assert!(
        before
            .body
            .contains("None. An administrator adds nmap scans")
    );
    let scan = nmap_scan(3);
    let a = web
        .upload(
            &admin,
            multipart(&[("csrf", &csrf)], &[("scan.xml", scan.as_bytes())]),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);

    let (sam, _) = web.session("sam");
    let s = web.get("/unmanaged", Some(&sam)).await;
    assert_eq!(s.status, StatusCode::OK);
    assert!(s.body.contains("Coverage by site"));
    assert!(
        s.body.contains(r#"id="coverage-by-site-title""#),
        "the accessible chart"
    );
    // Three agents (managed) and two outside-only: 60% report from inside.
    assert!(s.body.contains("60%"), "managed share");
    assert!(s.body.contains("xp-lab") && s.body.contains("printer-3"));
    assert!(s.body.contains("nmap scan"));
    assert!(s.body.contains("Open to WannaCry (MS17-010)"));
    assert!(s.body.contains("Not vulnerable"));
    assert!(s.body.contains("SMBv1 on") && s.body.contains("SMBv1 off"));
    assert!(s.body.contains("Microsoft Windows XP"));
    assert!(s.body.contains("10.0.0.7") && s.body.contains("xp-lab.klinik.local"));
    assert!(s.body.contains("00:0C:29:AA:BB:CC") || s.body.contains("00:0c:29:aa:bb:cc"));
    assert!(s.body.contains("Active"));

    // Finance: the same figures, no names or addresses.
    let (fin, _) = web.session("fin");
    let f = web.get("/unmanaged", Some(&fin)).await;
    assert_eq!(f.status, StatusCode::OK);
    assert!(f.body.contains("60%") && f.body.contains("Open to WannaCry (MS17-010)"));
    for secret in [
        "10.0.0.7",
        "10.0.0.20",
        "xp-lab",
        "printer-3",
        "klinik.local",
        "00:0C:29",
        "00:0c:29",
    ] {
        assert!(!f.body.contains(secret), "finance sees {secret}");
    }
    assert!(f.body.contains("withheld for your role"));
    assert!(f.body.contains("Device "), "opaque labels");

    // A device known only from the scan has its own page, with the scan as its source.
    let devices = crate::estate::reference::merged_devices(
        web.state.store.as_ref(),
        &crate::estate::reference::default_context(),
        Utc::now(),
    )
    .unwrap();
    let xp = devices
        .iter()
        .find(|d| {
            d.hostname
                .as_deref()
                .is_some_and(|h| h.starts_with("xp-lab"))
        })
        .expect("the XP PC");
    let page = web.get(&format!("/devices/{}", xp.id), Some(&sam)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<td>nmap scan</td>") && page.body.contains("scan.xml"));
    assert!(page.body.contains("Open to WannaCry"));

    // The overview's coverage card has the numbers and links here.
    let o = web.get("/overview", Some(&sam)).await;
    let card = o
        .body
        .find(r#"href="/unmanaged" class="card"#)
        .expect("card links to /unmanaged");
    let card = &o.body[card..card + 400];
    assert!(card.contains(">2<"), "{card}");
    assert!(card.contains("60% of 5 active devices"), "{card}");
}
