//! Charts: well-formed XML, accessible frame, labels as escaped text, empty data, many bars,
//! no reliance on colour alone.

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::Event;

use super::*;
use crate::plan::{Money, PlanYear};

/// Parses the whole document; returns every text node (unescaped) and the element names seen.
fn parse(svg: &str) -> (Vec<String>, Vec<String>) {
    let mut reader = Reader::from_str(svg);
    let (mut texts, mut names): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let mut depth = 0i32;
    // Text and entity references next to each other are one text node.
    let mut joining = false;
    loop {
        let event = reader.read_event();
        let is_text = matches!(event, Ok(Event::Text(_) | Event::GeneralRef(_)));
        let join = joining && is_text;
        joining = is_text;
        match event {
            Ok(Event::Start(e)) => {
                depth += 1;
                names.push(AsRef::<str>::as_ref(&e.name()).to_owned());
            }
            Ok(Event::Empty(e)) => names.push(AsRef::<str>::as_ref(&e.name()).to_owned()),
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Text(t)) => match texts.last_mut() {
                Some(last) if join => last.push_str(&t.xml10_content()),
                _ => texts.push(t.xml10_content().into_owned()),
            },
            Ok(Event::GeneralRef(r)) => {
                // Entities arrive separately: put the character back on the last text.
                let ch = r
                    .resolve_char_ref()
                    .unwrap()
                    .map(String::from)
                    .unwrap_or_else(|| match r.xml10_content().as_ref() {
                        "amp" => "&".into(),
                        "lt" => "<".into(),
                        "gt" => ">".into(),
                        "quot" => "\"".into(),
                        "apos" => "'".into(),
                        other => panic!("unknown entity {other}"),
                    });
                match texts.last_mut() {
                    Some(last) if join => last.push_str(&ch),
                    _ => texts.push(ch),
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "not well-formed at {}: {e}\n{svg}",
                reader.buffer_position()
            ),
        }
    }
    assert_eq!(depth, 0, "unbalanced elements");
    (texts, names)
}

fn assert_accessible(svg: &str, title: &str) {
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 "));
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains("width=\"100%\""));
    let (texts, names) = parse(svg);
    assert_eq!(names[0], "svg");
    assert_eq!(names[1], "title");
    assert_eq!(names[2], "desc");
    assert_eq!(texts[0], title);
}

const NASTY: &str = "<St Mary's & \"Annexe\">";

#[test]
fn bar_labels_stay_text_and_every_value_is_written() {
    let chart = BarChart {
        id: "by-site".into(),
        title: format!("Devices at {NASTY}"),
        unit: Unit::Count,
        bars: vec![
            Bar::new(NASTY, 1234.0),
            Bar::new("windows", 12.0),
            Bar::new("zero", 0.0),
            Bar::new("broken", f64::NAN),
        ],
    };
    let svg = bar_chart(&chart);
    assert_accessible(&svg, &chart.title);
    assert!(!svg.contains(NASTY), "raw label in the SVG");
    assert!(svg.contains("&lt;St Mary&#39;s &amp; &quot;Annexe&quot;&gt;"));
    let (texts, _) = parse(&svg);
    assert!(
        texts.iter().any(|t| t == NASTY),
        "the label reads back as text"
    );
    for value in ["1,234", "12", "0"] {
        assert!(
            texts.iter().any(|t| t == value),
            "value {value} written: {texts:?}"
        );
    }
    let desc = &texts[1];
    assert!(
        desc.contains(&format!("{NASTY}: 1,234")) && desc.contains("windows: 12"),
        "{desc}"
    );
}

#[test]
fn empty_data_gives_a_titled_frame_that_says_so() {
    let svgs = [
        bar_chart(&BarChart {
            id: "a".into(),
            title: "Remedies".into(),
            unit: Unit::Count,
            bars: vec![],
        }),
        stacked_chart(&StackedChart {
            id: "b".into(),
            title: "Readiness".into(),
            unit: Unit::Count,
            series: vec!["Capable".into()],
            rows: vec![],
        }),
        line_chart(&LineChart {
            id: "c".into(),
            title: "Trend".into(),
            unit: Unit::Share,
            series: vec![Series {
                name: "Unsupported".into(),
                points: vec![],
            }],
        }),
        plan_risk_chart(
            &Plan {
                years: vec![],
                esu: vec![],
                unfunded: vec![],
                method: String::new(),
            },
            "d",
        ),
    ];
    for svg in &svgs {
        let (texts, _) = parse(svg);
        assert!(texts.iter().any(|t| t == "No data to show yet."), "{svg}");
        assert!(texts[1].ends_with("no data to show yet."));
    }
}

#[test]
fn many_bars_fold_into_other_and_the_height_is_bounded() {
    let bars: Vec<Bar> = (0..200)
        .map(|i| Bar::new(format!("site-{i:03}"), 1.0))
        .collect();
    let svg = bar_chart(&BarChart {
        id: "many".into(),
        title: "Devices by site".into(),
        unit: Unit::Count,
        bars,
    });
    let (texts, _) = parse(&svg);
    assert!(texts.iter().any(|t| t == "site-000"));
    assert!(texts.iter().any(|t| t == "site-022"));
    assert!(!texts.iter().any(|t| t == "site-023"));
    assert!(texts.iter().any(|t| t == "Other (177 more)"));
    assert!(texts.iter().any(|t| t == "177"), "the folded bar's value");
    let height: f64 = svg
        .split("viewBox=\"0 0 720 ")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(height < 720.0, "{height}");
    // A long label is cut, with the whole label in the tooltip.
    let long = "A very long department name that goes on and on";
    let svg = bar_chart(&BarChart {
        id: "long".into(),
        title: "t".into(),
        unit: Unit::Count,
        bars: vec![Bar::new(long, 3.0)],
    });
    let (texts, _) = parse(&svg);
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with('…') && long.starts_with(t.trim_end_matches('…')))
    );
    assert!(texts.iter().any(|t| t == &format!("{long}: 3")));
}

#[test]
fn stacked_series_differ_by_pattern_and_values_are_labelled() {
    let chart = StackedChart {
        id: "readiness".into(),
        title: "Windows 11 readiness by class".into(),
        unit: Unit::Count,
        series: vec![
            "Capable".into(),
            "Fixable in firmware".into(),
            "Replace".into(),
            NASTY.into(),
        ],
        rows: vec![
            StackRow {
                label: "Desktops".into(),
                values: vec![120.0, 40.0, 60.0, 1.0],
            },
            StackRow {
                label: "Laptops".into(),
                values: vec![30.0, 0.0, 15.0],
            },
        ],
    };
    let svg = stacked_chart(&chart);
    assert_accessible(&svg, &chart.title);
    let (texts, names) = parse(&svg);
    assert_eq!(names.iter().filter(|n| *n == "pattern").count(), 6);
    for i in 0..4 {
        assert!(
            svg.contains(&format!("fill=\"url(#readiness-p{i})\"")),
            "series {i} has its pattern"
        );
    }
    for value in ["120", "40", "60", "221", "45"] {
        assert!(texts.iter().any(|t| t == value), "{value} in {texts:?}");
    }
    assert!(texts.iter().any(|t| t == NASTY), "legend names stay text");
    assert!(texts[1].contains("Desktops: Capable 120, Fixable in firmware 40, Replace 60"));
    assert!(texts[1].contains("Laptops: Capable 30, Fixable in firmware 0, Replace 15"));
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn lines_differ_by_dash_and_marker_and_are_labelled_at_their_ends() {
    let chart = LineChart {
        id: "trend".into(),
        title: "Unsupported and exposed over time".into(),
        unit: Unit::Share,
        series: vec![
            Series {
                name: "Unsupported".into(),
                points: vec![
                    (day(2026, 9, 1), 0.40),
                    (day(2026, 10, 1), 0.35),
                    (day(2026, 11, 1), 0.30),
                ],
            },
            Series {
                name: "WannaCry exposed".into(),
                points: vec![(day(2026, 9, 1), 0.10), (day(2026, 11, 1), 0.30)],
            },
        ],
    };
    let svg = line_chart(&chart);
    assert_accessible(&svg, &chart.title);
    let (texts, names) = parse(&svg);
    assert_eq!(names.iter().filter(|n| *n == "polyline").count(), 2);
    assert!(
        svg.contains("stroke-dasharray=\"8 4\""),
        "the second line is dashed"
    );
    assert!(texts.iter().any(|t| t == "Unsupported 30.0%"));
    assert!(texts.iter().any(|t| t == "WannaCry exposed 30.0%"));
    assert!(texts[1].contains("Unsupported: 40.0% on 1 September 2026, 30.0% on 1 November 2026"));
    // Both end at 30%: their labels are moved apart.
    let ys: Vec<f64> = svg
        .match_indices(">Unsupported 30.0%<")
        .chain(svg.match_indices(">WannaCry exposed 30.0%<"))
        .map(|(i, _)| {
            let head = &svg[..i];
            let y = head.rsplit(" y=\"").next().unwrap();
            y.split('"').next().unwrap().parse::<f64>().unwrap()
        })
        .collect();
    assert!((ys[0] - ys[1]).abs() >= 14.0, "{ys:?}");
    // One point only: still a chart.
    let one = line_chart(&LineChart {
        id: "one".into(),
        title: "t".into(),
        unit: Unit::Count,
        series: vec![Series {
            name: "Devices".into(),
            points: vec![(day(2026, 12, 1), 5.0)],
        }],
    });
    let (texts, _) = parse(&one);
    assert!(texts.iter().any(|t| t == "1 December 2026"));
}

fn year(label: &str, start: NaiveDate, spent: i64, before: u64, after: u64) -> PlanYear {
    PlanYear {
        label: label.into(),
        start,
        budget: Money::from_pounds(10_000),
        spent: Money::from_pounds(spent),
        actions: vec![],
        risk_before: before,
        risk_after: after,
    }
}

#[test]
fn plan_chart_plots_risk_left_against_cumulative_spend() {
    let plan = Plan {
        years: vec![
            year("2026/27", day(2026, 4, 1), 7_892, 2_754, 1_374),
            year("2027/28", day(2027, 4, 1), 5_810, 1_500, 616),
            year("2028/29", day(2028, 4, 1), 3_390, 700, 200),
        ],
        esu: vec![],
        unfunded: vec![],
        method: String::new(),
    };
    let svg = plan_risk_chart(&plan, "plan-risk");
    assert_accessible(&svg, "Risk left after each year against money spent");
    let (texts, _) = parse(&svg);
    let desc = &texts[1];
    assert!(desc.contains("Risk today: 2,754 points."), "{desc}");
    assert!(desc.contains("After 2026/27: £7,892 spent in total, 1,374 points left."));
    assert!(desc.contains("After 2028/29: £17,092 spent in total, 200 points left."));
    for label in [
        "Today: 2,754 left",
        "2026/27: 1,374 left",
        "2027/28: 616 left",
        "2028/29: 200 left",
    ] {
        assert!(texts.iter().any(|t| t == label), "{label} in {texts:?}");
    }
    assert!(texts.iter().any(|t| t == "Money spent so far"));
    assert!(
        texts.iter().any(|t| t == "£20k"),
        "x axis in pounds: {texts:?}"
    );
}

#[test]
fn numbers_are_formatted_for_people() {
    assert_eq!(Unit::Count.format(1_234_567.0), "1,234,567");
    assert_eq!(Unit::Share.format(0.1234), "12.3%");
    assert_eq!(Unit::Pounds.format(250_000.4), "£250,000");
    assert_eq!(Unit::Pounds.format(-5.0), "-£5");
    assert_eq!(Unit::Pounds.tick(250_000.0), "£250k");
    assert_eq!(Unit::Pounds.tick(1_500_000.0), "£1.5m");
    assert_eq!(Unit::Count.format(f64::INFINITY), "0");
    assert_eq!(svg::esc("a\u{1}b"), "a\u{FFFD}b");
    assert_eq!(svg::slug("Devices by OS!"), "devices-by-os");
    assert_eq!(svg::slug("<>"), "chart");
}

/// Writes sample charts to `target/chart-samples/` to look at:
/// `cargo test -p ward-collector --lib charts::tests::write_samples -- --ignored`.
#[test]
#[ignore = "writes sample files to look at; run by hand"]
fn write_samples() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/chart-samples");
    std::fs::create_dir_all(&dir).unwrap();
    let write =
        |name: &str, svg: String| std::fs::write(dir.join(format!("{name}.svg")), svg).unwrap();
    write(
        "os",
        bar_chart(&BarChart {
            id: "os".into(),
            title: "Devices by support status".into(),
            unit: Unit::Count,
            bars: vec![
                Bar::new("Supported", 812.0),
                Bar::new("Nearing end of support", 95.0),
                Bar::new("Extended support (paid)", 140.0),
                Bar::new("End of support", 233.0),
                Bar::new(NASTY, 4.0),
            ],
        }),
    );
    write(
        "readiness",
        stacked_chart(&StackedChart {
            id: "readiness".into(),
            title: "Windows 11 readiness by device class".into(),
            unit: Unit::Count,
            series: [
                "Capable",
                "Fixable in firmware",
                "Component upgrade",
                "Replace",
                "Unknown",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                StackRow {
                    label: "Desktops".into(),
                    values: vec![420.0, 130.0, 25.0, 210.0, 12.0],
                },
                StackRow {
                    label: "Laptops".into(),
                    values: vec![260.0, 40.0, 8.0, 90.0, 3.0],
                },
                StackRow {
                    label: "Thin clients".into(),
                    values: vec![0.0, 0.0, 0.0, 35.0, 60.0],
                },
            ],
        }),
    );
    write(
        "trend",
        line_chart(&LineChart {
            id: "trend".into(),
            title: "Share of devices on unsupported systems".into(),
            unit: Unit::Share,
            series: vec![
                Series {
                    name: "Unsupported".into(),
                    points: (0..12)
                        .map(|m| (day(2026, 1 + m, 1), 0.32 - f64::from(m) * 0.015))
                        .collect(),
                },
                Series {
                    name: "WannaCry exposed".into(),
                    points: (0..12)
                        .map(|m| (day(2026, 1 + m, 1), 0.08 - f64::from(m) * 0.006))
                        .collect(),
                },
            ],
        }),
    );
    write(
        "plan",
        plan_risk_chart(
            &Plan {
                years: vec![
                    year("2026/27", day(2026, 4, 1), 247_892, 2_754, 1_374),
                    year("2027/28", day(2027, 4, 1), 198_810, 1_500, 616),
                    year("2028/29", day(2028, 4, 1), 149_390, 700, 200),
                ],
                esu: vec![],
                unfunded: vec![],
                method: String::new(),
            },
            "plan",
        ),
    );
}

#[test]
fn overview_charts_speak_plainly_about_the_estate() {
    use crate::store::Store;
    let windows = include_str!("../../../shared/tests/golden/v1-windows.json");
    let linux = include_str!("../../../shared/tests/golden/v1-linux-full.json");
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .unwrap()
        .to_utc();
    let store = crate::store::memory::MemoryStore::new();
    for (n, json) in [(1, windows), (2, windows), (3, linux)] {
        let mut report: ward_shared::Report = serde_json::from_str(json).unwrap();
        report.report_id = uuid::Uuid::from_u128(100 + n);
        store
            .put_report(uuid::Uuid::from_u128(n), now, &report, None)
            .unwrap();
    }
    let estate = crate::estate::reference::snapshot(&store, now);
    let all: Vec<_> = estate.rows().collect();
    let summary = estate.summary();

    let (texts, _) = parse(&overview::by_os_family(&summary));
    assert_eq!(texts[0], "Devices by operating system");
    assert!(
        texts[1].contains("Windows: 2") && texts[1].contains("Linux: 1"),
        "{}",
        texts[1]
    );
    assert!(
        !texts.iter().any(|t| t == "macOS"),
        "zero counts are left out"
    );

    let (texts, _) = parse(&overview::by_lifecycle(&summary));
    assert!(texts[1].contains("No security updates: 2"), "{}", texts[1]);

    let (texts, _) = parse(&overview::by_remedy(&summary));
    let remedy = overview::words(&crate::estate::key(&all[0].remedy)).to_owned();
    assert!(texts[1].contains(&format!("{remedy}: 2")), "{}", texts[1]);
    assert_eq!(overview::words("end_of_support"), "No security updates");
    assert_eq!(overview::words("something_new"), "something_new");

    let svg = overview::readiness_by_class(&estate.counts.readiness_by_form);
    let (texts, _) = parse(&svg);
    assert_eq!(texts[0], "Windows 11 readiness by device class");
    let verdict = all[0].readiness.unwrap();
    let verdict = overview::words(&crate::estate::key(&verdict)).to_owned();
    assert!(
        texts[1].contains(&format!("{verdict} 2")),
        "two Windows clients: {}",
        texts[1]
    );
    assert!(!texts[1].contains("Servers"));

    let (texts, _) = parse(&overview::readiness_by_class(&Default::default()));
    assert!(texts.iter().any(|t| t == "No data to show yet."));
}
