//! The exports take the ranking page's filters (site, department, remedy, OS), and the page's
//! download links carry them.

use super::*;

#[tokio::test]
async fn exports_take_the_ranking_filters_including_department() {
    let web = Web::new();
    let (sam, _) = web.session("sam");
    let csv = |path: String| {
        let web = &web;
        let sam = sam.clone();
        async move {
            let a = web.get(&path, Some(&sam)).await;
            assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
            a.body
        }
    };
    let all = csv("/api/v1/export/ranking.csv".into()).await;
    assert!(
        ["PACS-VIEW-07", "OFFICE-PC-01", "ubuntu-desk"]
            .iter()
            .all(|h| all.contains(h))
    );
    for kind in ["ranking", "devices"] {
        let radiology = csv(format!("/api/v1/export/{kind}.csv?department=radiology")).await;
        assert!(radiology.contains("PACS-VIEW-07"), "{kind}: {radiology}");
        assert!(
            !radiology.contains("OFFICE-PC-01") && !radiology.contains("ubuntu-desk"),
            "{kind}"
        );
        let it_linux = csv(format!("/api/v1/export/{kind}.csv?department=IT&os=linux")).await;
        assert!(
            it_linux.contains("ubuntu-desk") && !it_linux.contains("PACS-VIEW-07"),
            "{kind}"
        );
        let none = csv(format!(
            "/api/v1/export/{kind}.csv?department=IT&os=windows"
        ))
        .await;
        assert!(
            !none.contains("ubuntu-desk") && !none.contains("PACS-VIEW-07"),
            "{kind}"
        );
        let site = csv(format!(
            "/api/v1/export/{kind}.csv?site=North&remedy=no_action"
        ))
        .await;
        assert!(
            !site.contains("PACS-VIEW-07") && !site.contains("OFFICE-PC-01"),
            "{kind}"
        );
    }
    // The XLSX takes them too: fewer rows for one department.
    let whole = web.get("/api/v1/export/ranking.xlsx", Some(&sam)).await;
    let finance = web
        .get("/api/v1/export/ranking.xlsx?department=Finance", Some(&sam))
        .await;
    assert_eq!(finance.status, StatusCode::OK);
    assert_ne!(whole.body.len(), finance.body.len());
    // The JSON ranking too.
    let json = web
        .get("/api/v1/rankings?department=Finance", Some(&sam))
        .await;
    assert!(json.body.contains("OFFICE-PC-01") && !json.body.contains("PACS-VIEW-07"));
    // The ranking page's downloads carry the department filter.
    let page = web
        .get("/ranking?department=Radiology&os=windows", Some(&sam))
        .await;
    assert!(
        page.body
            .contains("/api/v1/export/ranking.xlsx?department=Radiology&amp;os=windows"),
        "{}",
        &page.body[page.body.find("Download").unwrap_or(0)..][..400]
    );
}
