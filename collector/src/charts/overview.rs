//! The overview's charts built from the estate, in plain words: devices by OS family, by support
//! status, by remedy, and Windows 11 readiness by device class. Element ids are fixed, so each
//! chart appears once per page.

use std::collections::{BTreeMap, HashMap};

use super::{Bar, BarChart, StackRow, StackedChart, Unit, bar_chart, stacked_chart};
use crate::estate::{Summary, key};
use crate::plan::FormFactor;
use crate::risk::ReadinessVerdict;

/// Engine keys in the order people read them, with their words.
const OS_FAMILIES: [(&str, &str); 4] = [
    ("windows", "Windows"),
    ("linux", "Linux"),
    ("macos", "macOS"),
    ("other", "Other"),
];

const LIFECYCLE: [(&str, &str); 5] = [
    ("supported", "Supported"),
    ("nearing_end", "Support ends soon"),
    ("extended_support", "Paid extended support"),
    ("end_of_support", "No security updates"),
    ("unknown", "Not recognised"),
];

const REMEDIES: [(&str, &str); 7] = [
    ("replace_hardware", "Replace hardware"),
    ("upgrade_os", "Upgrade the OS"),
    ("fix_firmware", "Fix firmware settings"),
    ("patch", "Install updates"),
    ("isolate", "Isolated (exception)"),
    ("no_action", "Nothing to do"),
    ("unknown", "Not enough data"),
];

const READINESS: [(&str, &str); 5] = [
    ("capable", "Ready"),
    ("fixable_in_firmware", "Fix in firmware"),
    ("component_upgrade", "Add RAM or disk"),
    ("replace", "Replace"),
    ("unknown", "Not known"),
];

/// Words for an engine key (`end_of_support` -> "No security updates"); the key itself when new.
pub fn words(key: &str) -> &str {
    OS_FAMILIES
        .iter()
        .chain(&LIFECYCLE)
        .chain(&REMEDIES)
        .chain(&READINESS)
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, w)| w)
}

/// Bars in the known order, then any key this build does not know; zero counts left out.
fn bars(counts: &BTreeMap<String, usize>, order: &[(&str, &str)]) -> Vec<Bar> {
    let mut out: Vec<Bar> = order
        .iter()
        .filter_map(|(k, w)| {
            counts
                .get(*k)
                .filter(|n| **n > 0)
                .map(|n| Bar::new(*w, *n as f64))
        })
        .collect();
    out.extend(
        counts
            .iter()
            .filter(|(k, n)| **n > 0 && !order.iter().any(|(o, _)| o == k))
            .map(|(k, n)| Bar::new(k.clone(), *n as f64)),
    );
    out
}

pub fn by_os_family(summary: &Summary) -> String {
    bar_chart(&BarChart {
        id: "os-family".into(),
        title: "Devices by operating system".into(),
        unit: Unit::Count,
        bars: bars(&summary.by_os_family, &OS_FAMILIES),
    })
}

pub fn by_lifecycle(summary: &Summary) -> String {
    bar_chart(&BarChart {
        id: "lifecycle".into(),
        title: "Devices by support status".into(),
        unit: Unit::Count,
        bars: bars(&summary.by_lifecycle, &LIFECYCLE),
    })
}

pub fn by_remedy(summary: &Summary) -> String {
    bar_chart(&BarChart {
        id: "remedies".into(),
        title: "What to do: devices by remedy".into(),
        unit: Unit::Count,
        bars: bars(&summary.by_remedy, &REMEDIES),
    })
}

fn class_words(f: FormFactor) -> &'static str {
    match f {
        FormFactor::Desktop => "Desktops",
        FormFactor::Laptop => "Laptops",
        FormFactor::ThinClient => "Thin clients",
        FormFactor::Server => "Servers",
    }
}

/// Windows clients by class (desktop, laptop, thin client), each split by readiness verdict;
/// `by_form` counts devices by (class, verdict), as the estate keeps them.
pub fn readiness_by_class(by_form: &HashMap<(FormFactor, ReadinessVerdict), i64>) -> String {
    let classes = [
        FormFactor::Desktop,
        FormFactor::Laptop,
        FormFactor::ThinClient,
        FormFactor::Server,
    ];
    let mut counts = vec![[0usize; READINESS.len()]; classes.len()];
    for ((form, verdict), n) in by_form {
        let verdict = key(verdict);
        let (Some(c), Some(v)) = (
            classes.iter().position(|c| c == form),
            READINESS.iter().position(|(k, _)| *k == verdict),
        ) else {
            continue;
        };
        counts[c][v] += usize::try_from(*n).unwrap_or(0);
    }
    let rows = classes
        .iter()
        .zip(&counts)
        .filter(|(_, n)| n.iter().any(|x| *x > 0))
        .map(|(c, n)| StackRow {
            label: class_words(*c).into(),
            values: n.iter().map(|x| *x as f64).collect(),
        })
        .collect();
    stacked_chart(&StackedChart {
        id: "readiness".into(),
        title: "Windows 11 readiness by device class".into(),
        unit: Unit::Count,
        series: READINESS.iter().map(|(_, w)| (*w).to_owned()).collect(),
        rows,
    })
}
