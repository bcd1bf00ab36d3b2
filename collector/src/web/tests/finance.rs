//! Finance sees asset labels, never host names or addresses: on the ranking, the device page,
//! the exceptions register and the plan, including the free text of an exception.

use super::*;

const HOSTS: [&str; 3] = ["PACS-VIEW-07", "OFFICE-PC-01", "ubuntu-desk"];
const ADDRESSES: [&str; 3] = ["10.1.2.3", "10.9.9.9", "00:15:5d:01:02:03"];

#[tokio::test]
async fn finance_sees_asset_labels_and_scrubbed_exception_text() {
    let web = Web::new();
    let (sam, csrf) = web.session("sam");
    let device = web.win.to_string();
    let mut form = web.exception_form(&csrf, &device);
    form[2].1 = "PACS-VIEW-07 (10.1.2.3) drives the MRI console; pacs-view-07 cannot be patched";
    form[4].1 = "Radiology IT, ask about OFFICE-PC-01 too";
    let a = web.post_form("/exceptions", Some(&sam), &form).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);

    // The Windows PC and the office PC share make, model and serial: opaque ends tell them apart.
    let label = format!(
        "HP EliteDesk 800 G3 SFF · serial CZC7281XYZ · {}",
        &crate::api::redact::opaque_label(web.win)["Device ".len()..]
    );
    let label = label.as_str();
    let (fin, _) = web.session("fin");
    for path in [
        "/ranking".to_owned(),
        "/ranking?sort=hostname".to_owned(),
        format!("/devices/{}", web.win),
        format!("/devices/{}", web.lin),
        "/exceptions".to_owned(),
        "/plan?budget=100000&years=2".to_owned(),
        "/overview".to_owned(),
    ] {
        let f = web.get(&path, Some(&fin)).await;
        assert_eq!(f.status, StatusCode::OK, "{path}");
        for secret in HOSTS.iter().chain(&ADDRESSES) {
            assert!(
                !f.body
                    .to_ascii_lowercase()
                    .contains(&secret.to_ascii_lowercase()),
                "finance sees {secret} on {path}"
            );
        }
    }
    let ranking = web.get("/ranking", Some(&fin)).await;
    assert!(ranking.body.contains(label), "asset label on the ranking");
    assert!(
        ranking
            .body
            .contains(&crate::api::redact::opaque_label(web.lin))
            || ranking.body.contains("· serial"),
        "every row has a label"
    );
    let page = web.get(&format!("/devices/{}", web.win), Some(&fin)).await;
    assert!(page.body.contains(&format!("<h1>{label}</h1>")));
    // The exception's text: host names become the label, the address is hidden.
    assert!(page.body.contains(&format!("Reason: {label} ([network detail hidden]) drives the MRI console; {label} cannot be patched")), "{}", &page.body[page.body.find("Reason:").unwrap_or(0)..][..300]);
    let exceptions = web.get("/exceptions", Some(&fin)).await;
    assert!(exceptions.body.contains(label));
    assert!(
        exceptions
            .body
            .contains("ask about HP EliteDesk 800 G3 SFF")
    );
    let plan = web.get("/plan?budget=100000&years=2", Some(&fin)).await;
    assert!(plan.body.contains(label), "plan rows carry asset labels");

    // Security (network details) sees names and the text as written.
    let s = web.get("/ranking", Some(&sam)).await;
    assert!(HOSTS.iter().all(|h| s.body.contains(h)));
    let d = web.get(&format!("/devices/{}", web.win), Some(&sam)).await;
    assert!(d.body.contains("<h1>PACS-VIEW-07</h1>"));
    assert!(
        d.body
            .contains("PACS-VIEW-07 (10.1.2.3) drives the MRI console")
    );
}
