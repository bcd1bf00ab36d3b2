//! Windows 11 CPU support from a processor brand string.
//!
//! Our own rule set, written from DOMAIN.md §6b: Microsoft's setup (appraiser) CPUID blocks and
//! the families, generations and series on Microsoft's supported-processor lists (list version in
//! the catalog's `win11_cpu.list_version`). A test checks these rules against a copy of the lists
//! in `../shared/realdata` without the lists ever entering this repository.
//!
//! The answer is `Unknown` when the string is not recognised: never a guess.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuSupport {
    Supported,
    Unsupported,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuVerdict {
    pub support: CpuSupport,
    /// A sentence: why.
    pub reason: String,
    /// Which rule decided ("intel-core-gen", "amd-ryzen-series", ...).
    pub rule: &'static str,
}

fn v(support: CpuSupport, rule: &'static str, reason: impl Into<String>) -> CpuVerdict {
    CpuVerdict {
        support,
        reason: reason.into(),
        rule,
    }
}

use CpuSupport::{Supported as S, Unknown as U, Unsupported as N};

/// Lower-case brand string without trademarks, clock speed, "CPU", "Nth Gen", "with Radeon ...",
/// "N-Core Processor" and vendor names.
pub fn normalise(brand: &str) -> String {
    let mut s = brand.to_lowercase();
    for t in ["(r)", "(tm)", "®", "™", "(c)"] {
        s = s.replace(t, " ");
    }
    if let Some(i) = s.find('@') {
        s.truncate(i);
    }
    if let Some(i) = s.find(" with ") {
        s.truncate(i);
    }
    let tokens: Vec<&str> = s.split_whitespace().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i];
        let next = tokens.get(i + 1).copied();
        let is_ordinal = t.len() > 2
            && (t.ends_with("th") || t.ends_with("st") || t.ends_with("nd") || t.ends_with("rd"))
            && t[..t.len() - 2].bytes().all(|b| b.is_ascii_digit());
        if is_ordinal && next == Some("gen") {
            i += 2;
            continue;
        }
        if t.ends_with("-core") && next == Some("processor") {
            i += 2;
            continue;
        }
        if matches!(
            t,
            "cpu" | "intel" | "amd" | "qualcomm" | "genuineintel" | "authenticamd" | "-"
        ) {
            i += 1;
            continue;
        }
        out.push(t);
        i += 1;
    }
    out.join(" ")
}

/// Classifies a brand string. `model` is the system model (`Win32_ComputerSystem.Model`), used
/// for the one device-specific entry (i7-7820HQ on Surface Studio 2 / Precision 5520).
pub fn classify(brand: &str, model: Option<&str>) -> CpuVerdict {
    let n = normalise(brand);
    if n.is_empty() {
        return v(U, "empty", "No processor brand string was reported.");
    }
    let t: Vec<&str> = n.split_whitespace().collect();
    let has = |w: &str| t.contains(&w);
    if has("xeon") {
        return xeon(&t);
    }
    if (has("core") || t.iter().any(|x| x.starts_with("core")) || is_core_model(t[0]))
        && let Some(r) = core(&t, model)
    {
        return r;
    }
    if has("pentium") {
        return pentium(&t);
    }
    if has("celeron") {
        return celeron(&t);
    }
    if has("atom") {
        return atom(&t);
    }
    if has("ryzen") {
        return ryzen(&t);
    }
    if has("athlon") || t.iter().any(|x| *x == "3015e" || *x == "3020e") {
        return athlon(&t);
    }
    if has("epyc") {
        return epyc(&t);
    }
    if has("snapdragon") || has("sq1") || has("sq2") || has("sq3") || is_snapdragon_x(&t) {
        return qualcomm(&t);
    }
    if t.iter()
        .any(|x| ["qcm5430", "qcs5430", "qcm6490", "qcs6490"].contains(x))
    {
        return v(
            S,
            "qualcomm-list",
            "Qualcomm QCM/QCS 5430/6490 are on Microsoft's list.",
        );
    }
    if let Some(r) = intel_processor(&t) {
        return r;
    }
    let pre_zen = [
        "phenom", "opteron", "sempron", "turion", "fx-", "a4-", "a6-", "a8-", "a9-", "a10-",
        "a12-", "e1-", "e2-",
    ];
    if t.iter().any(|x| pre_zen.iter().any(|p| x.starts_with(p))) {
        return v(
            N,
            "amd-pre-zen",
            "AMD processor from before Zen; Windows 11 setup blocks AMD family 22 and earlier.",
        );
    }
    if t.iter().any(|x| {
        [
            "via",
            "zhaoxin",
            "apple",
            "cortex-a53",
            "cortex-a72",
            "hygon",
        ]
        .contains(x)
    }) {
        return v(
            N,
            "vendor",
            "Windows 11 accepts only Intel, AMD and Qualcomm processors.",
        );
    }
    v(
        U,
        "unrecognised",
        format!("Processor {brand:?} is not recognised by the rule set."),
    )
}

fn is_core_model(t: &str) -> bool {
    ["i3-", "i5-", "i7-", "i9-"]
        .iter()
        .any(|p| t.starts_with(p))
}

fn ordinal(n: &str) -> String {
    let suffix = match n {
        "1" => "st",
        "2" => "nd",
        "3" => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// Splits "8500t" into ("8500", "t").
fn digits_suffix(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

fn core(t: &[&str], model: Option<&str>) -> Option<CpuVerdict> {
    if t.iter()
        .any(|x| x.starts_with("core2") || *x == "duo" || *x == "quad" || *x == "solo")
    {
        return Some(v(
            N,
            "intel-core2",
            "Core 2 / Core Duo processors are far older than Microsoft's list (8th generation and later).",
        ));
    }
    if t.contains(&"ultra") {
        return Some(v(
            S,
            "intel-core-ultra",
            "Intel Core Ultra (Series 1/2) processors are on Microsoft's list.",
        ));
    }
    // "core 5 120u", "core 5-120u", "core 3 n350": Core Series 1/2 without Ultra.
    if let Some(i) = t.iter().position(|x| *x == "core")
        && let Some(next) = t.get(i + 1)
    {
        let series = next.split('-').next().unwrap_or("");
        if ["3", "5", "7", "9"].contains(&series) {
            return Some(v(
                S,
                "intel-core-series",
                "Intel Core 3/5/7/9 (Series 1/2) processors are on Microsoft's list.",
            ));
        }
        if let Some(m) = next
            .strip_prefix('m')
            .filter(|m| m.starts_with(|c: char| c.is_ascii_digit()))
        {
            return Some(if m == "3-8100y" {
                v(S, "intel-core-m", "Core m3-8100Y is on Microsoft's list.")
            } else {
                v(
                    N,
                    "intel-core-m",
                    "Core m (6th/7th generation) processors are not on Microsoft's list; only m3-8100Y is.",
                )
            });
        }
    }
    let tok = t.iter().find(|x| is_core_model(x))?;
    let model_part = &tok[3..];
    if model_part.starts_with('n') {
        return Some(v(
            S,
            "intel-core-n",
            "Core i3-N300/N305 are on Microsoft's list.",
        ));
    }
    let (digits, suffix) = digits_suffix(model_part);
    let name = format!("Core {tok}").replace("core ", "");
    let r = match digits.len() {
        5 => {
            let generation = &digits[..2];
            v(
                S,
                "intel-core-gen",
                format!(
                    "{name} is a {generation}th-generation Core processor; 8th generation and later are supported."
                ),
            )
        }
        4 if digits.starts_with('1') && !suffix.is_empty() => v(
            S,
            "intel-core-gen",
            format!(
                "{name} is a {}th-generation mobile Core processor; 8th generation and later are supported.",
                &digits[..2]
            ),
        ),
        4 if digits.starts_with('8') || digits.starts_with('9') => {
            if *tok == "i3-8121u" {
                v(
                    N,
                    "intel-core-exception",
                    "Core i3-8121U (Cannon Lake) is not on Microsoft's list.",
                )
            } else {
                v(
                    S,
                    "intel-core-gen",
                    format!(
                        "{name} is a {}-generation Core processor; 8th generation and later are supported.",
                        ordinal(&digits[..1])
                    ),
                )
            }
        }
        4 => {
            let hedt = [
                "i7-7800x",
                "i7-7820x",
                "i9-7900x",
                "i9-7920x",
                "i9-7940x",
                "i9-7960x",
                "i9-7980xe",
            ];
            if hedt.contains(tok) {
                v(
                    S,
                    "intel-core-exception",
                    format!("{name} (Skylake-X) is on Microsoft's list although 7th generation."),
                )
            } else if *tok == "i7-7820hq" {
                let m = model.unwrap_or("").to_lowercase();
                if m.contains("surface studio 2") || m.contains("precision 5520") {
                    v(
                        S,
                        "intel-core-exception",
                        "Core i7-7820HQ is supported on Surface Studio 2 and Dell Precision 5520 only, and this is one.",
                    )
                } else {
                    v(
                        N,
                        "intel-core-exception",
                        "Core i7-7820HQ is supported only on Surface Studio 2 and Dell Precision 5520.",
                    )
                }
            } else {
                v(
                    N,
                    "intel-core-gen",
                    format!(
                        "{name} is a {}-generation Core processor; Microsoft supports 8th generation and later.",
                        ordinal(&digits[..1])
                    ),
                )
            }
        }
        3 => v(
            N,
            "intel-core-gen",
            format!(
                "{name} is a 1st-generation Core processor; Microsoft supports 8th generation and later."
            ),
        ),
        _ => return None,
    };
    Some(r)
}

fn model_after<'a>(t: &[&'a str], words: &[&str]) -> Option<&'a str> {
    t.iter()
        .copied()
        .find(|x| !words.contains(x) && x.chars().any(|c| c.is_ascii_digit()))
}

fn in_range(model: &str, prefix: char, lo: u32, hi: u32) -> bool {
    model
        .strip_prefix(prefix)
        .map(digits_suffix)
        .and_then(|(d, _)| d.parse::<u32>().ok())
        .is_some_and(|n| (lo..=hi).contains(&n))
}

fn pentium(t: &[&str]) -> CpuVerdict {
    let Some(m) = model_after(t, &["pentium", "gold", "silver"]) else {
        return v(
            N,
            "intel-pentium",
            "Pentium without a current model number: older than Microsoft's list.",
        );
    };
    pentium_model(m)
}

fn pentium_model(m: &str) -> CpuVerdict {
    let listed = [
        "4417u", "4425y", "5400t", "5405u", "6405u", "6500y", "6805", "7505", "8500", "8505",
        "n5000", "n5030", "j5005", "j5040", "n6000", "n6005", "j6426", "n6415",
    ];
    let ok = listed.contains(&m)
        || in_range(m, 'g', 5400, 5620)
        || in_range(m, 'g', 6400, 6605)
        || in_range(m, 'g', 7400, 7400);
    if ok {
        v(
            S,
            "intel-pentium",
            format!("Pentium {} is on Microsoft's list.", m.to_uppercase()),
        )
    } else {
        v(
            N,
            "intel-pentium",
            format!("Pentium {} is not on Microsoft's list.", m.to_uppercase()),
        )
    }
}

fn celeron(t: &[&str]) -> CpuVerdict {
    let Some(m) = model_after(t, &["celeron"]) else {
        return v(
            N,
            "intel-celeron",
            "Celeron without a current model number: older than Microsoft's list.",
        );
    };
    let listed = [
        "3867u", "4205u", "4305u", "4305ue", "5205u", "5305u", "5805", "6305", "6305e", "6600he",
        "7300", "7305", "7305e", "7305l", "j4005", "j4025", "j4105", "j4115", "j4125", "n4000",
        "n4020", "n4100", "n4120", "n4500", "n4505", "n5100", "n5105", "j6412", "j6413", "n6210",
        "n6211",
    ];
    let ok = listed.contains(&m)
        || in_range(m, 'g', 4900, 4950)
        || in_range(m, 'g', 5900, 5925)
        || in_range(m, 'g', 6900, 6900);
    if ok {
        v(
            S,
            "intel-celeron",
            format!("Celeron {} is on Microsoft's list.", m.to_uppercase()),
        )
    } else {
        v(
            N,
            "intel-celeron",
            format!("Celeron {} is not on Microsoft's list.", m.to_uppercase()),
        )
    }
}

fn atom(t: &[&str]) -> CpuVerdict {
    let m = model_after(t, &["atom"]).unwrap_or("");
    if in_range(m, 'x', 6200, 6427) || ["x7211e", "x7213e", "x7425e"].contains(&m) {
        v(
            S,
            "intel-atom",
            format!("Atom {} is on Microsoft's list.", m.to_uppercase()),
        )
    } else {
        v(
            N,
            "intel-atom",
            "Only Atom x6000E and x7000E parts are on Microsoft's list.",
        )
    }
}

/// "Intel Processor N100", "Intel N100", "Intel Processor U300E".
fn intel_processor(t: &[&str]) -> Option<CpuVerdict> {
    let m = model_after(t, &["processor"])?;
    let n_series = ["n50", "n95", "n97", "n100", "n150", "n200", "n250"];
    let numbered = ["300", "300t", "310", "310t"];
    let ok = n_series.contains(&m)
        || (t.contains(&"processor") && numbered.contains(&m))
        || in_range(m, 'u', 300, 303);
    ok.then(|| {
        v(
            S,
            "intel-processor",
            format!(
                "Intel Processor {} is on Microsoft's list.",
                m.to_uppercase()
            ),
        )
    })
}

fn xeon(t: &[&str]) -> CpuVerdict {
    let tier = t
        .iter()
        .find(|x| ["bronze", "silver", "gold", "platinum"].contains(x));
    let m = model_after(t, &["xeon", "bronze", "silver", "gold", "platinum"]).unwrap_or("");
    if let Some(tier) = tier {
        // List quirk: Pentium Gold G6400.. and 6405U also appear under "Xeon Gold".
        if m.starts_with('g') || m == "6405u" {
            let mut r = pentium_model(m);
            r.reason = format!(
                "{} (listed by Microsoft under Xeon Gold)",
                r.reason.trim_end_matches('.')
            );
            return r;
        }
        let (d, _) = digits_suffix(m);
        let generation = d.chars().nth(1).and_then(|c| c.to_digit(10));
        return match (d.len(), generation) {
            (4, Some(g @ 1..=4)) => v(
                S,
                "intel-xeon-scalable",
                format!(
                    "Xeon {tier} {m} is a generation-{g} Xeon Scalable processor; generations 1 to 4 are on Microsoft's list."
                ),
            ),
            (4, Some(_)) => v(
                U,
                "intel-xeon-scalable",
                format!("Xeon {tier} {m} is newer than the Microsoft list the rules follow."),
            ),
            _ => v(
                U,
                "intel-xeon-scalable",
                format!("Xeon {tier} {m} is not recognised."),
            ),
        };
    }
    if t.iter().any(|x| {
        x.ends_with("v2")
            || x.ends_with("v3")
            || x.ends_with("v4")
            || x.ends_with("v5")
            || x.ends_with("v6")
    }) || ["e3-", "e5-", "e7-", "x5", "x3", "l5", "e5", "w35", "w36"]
        .iter()
        .any(|p| m.starts_with(p))
    {
        return v(
            N,
            "intel-xeon-legacy",
            "Xeon E3/E5/E7 and older Xeons are not on Microsoft's list.",
        );
    }
    let (d, _) = digits_suffix(m.split('-').nth(1).unwrap_or(""));
    let num: u32 = d.parse().unwrap_or(0);
    let ok = if m.starts_with("e-") {
        (2100..=2499).contains(&num)
    } else if m.starts_with("w-") {
        (1200..=1399).contains(&num)
            || (2100..=2299).contains(&num)
            || (3200..=3399).contains(&num)
            || m.starts_with("w-3175x")
            || (10000..=11999).contains(&num)
    } else if m.starts_with("w3-")
        || m.starts_with("w5-")
        || m.starts_with("w7-")
        || m.starts_with("w9-")
    {
        true
    } else if m.starts_with("d-") {
        (1700..=1899).contains(&num) || (2700..=2899).contains(&num)
    } else {
        return v(
            U,
            "intel-xeon",
            format!("Xeon {m} is not recognised by the rule set."),
        );
    };
    if ok {
        v(
            S,
            "intel-xeon",
            format!("Xeon {} is on Microsoft's list.", m.to_uppercase()),
        )
    } else {
        v(
            N,
            "intel-xeon",
            format!("Xeon {} is not on Microsoft's list.", m.to_uppercase()),
        )
    }
}

fn ryzen(t: &[&str]) -> CpuVerdict {
    if t.contains(&"threadripper") {
        let m = model_after(t, &["ryzen", "threadripper", "pro"]).unwrap_or("");
        let (d, _) = digits_suffix(m);
        return if t.contains(&"pro")
            && (d.starts_with('3') || d.starts_with('5'))
            && m.ends_with("wx")
        {
            v(
                S,
                "amd-threadripper",
                format!(
                    "Threadripper PRO {} is on Microsoft's list.",
                    m.to_uppercase()
                ),
            )
        } else if t.contains(&"pro") {
            v(
                U,
                "amd-threadripper",
                format!(
                    "Threadripper PRO {} is newer than the Microsoft list the rules follow.",
                    m.to_uppercase()
                ),
            )
        } else {
            v(
                N,
                "amd-threadripper",
                "Non-PRO Threadripper is not on the current Microsoft list (the 2021 list had some; the list changed).",
            )
        };
    }
    if t.contains(&"embedded") {
        let ok = t.iter().any(|x| x.starts_with("r2") || x.starts_with("v2"));
        return if ok {
            v(
                S,
                "amd-ryzen-embedded",
                "Ryzen Embedded R2000/V2000 are on Microsoft's list.",
            )
        } else {
            v(
                N,
                "amd-ryzen-embedded",
                "Only Ryzen Embedded R2000 and V2000 are on Microsoft's list.",
            )
        };
    }
    if t.contains(&"z1") {
        return v(S, "amd-ryzen", "Ryzen Z1 is on Microsoft's list.");
    }
    if t.contains(&"ai") {
        return v(
            U,
            "amd-ryzen",
            "Ryzen AI processors are newer than the Microsoft list the rules follow.",
        );
    }
    let Some(m) = model_after(t, &["ryzen", "pro", "3", "5", "7", "9"]) else {
        return v(U, "amd-ryzen", "Ryzen without a model number.");
    };
    let (d, suffix) = digits_suffix(m);
    if d.len() != 4 {
        return v(U, "amd-ryzen", format!("Ryzen {m} is not recognised."));
    }
    let name = m.to_uppercase();
    match d.as_bytes()[0] {
        b'1' => v(
            N,
            "amd-ryzen-series",
            format!(
                "Ryzen {name} is a 1000-series (Zen 1) processor; none is on Microsoft's list."
            ),
        ),
        b'2' => {
            let desktop = [
                "2300x", "2500x", "2600", "2600e", "2600x", "2700", "2700e", "2700x",
            ];
            if desktop.contains(&m) {
                v(
                    S,
                    "amd-ryzen-series",
                    format!("Ryzen {name} is a desktop Zen+ processor on Microsoft's list."),
                )
            } else if suffix.starts_with('g') || suffix.starts_with('u') || suffix.starts_with('h')
            {
                v(
                    N,
                    "amd-ryzen-series",
                    format!("Ryzen {name} is a Raven Ridge APU; Windows 11 setup blocks it."),
                )
            } else {
                v(
                    N,
                    "amd-ryzen-series",
                    format!("Ryzen {name} is not on Microsoft's list."),
                )
            }
        }
        _ => v(
            S,
            "amd-ryzen-series",
            format!("Ryzen {name} is a 3000-series or later processor; these are supported."),
        ),
    }
}

fn athlon(t: &[&str]) -> CpuVerdict {
    if t.contains(&"gold") || t.contains(&"silver") {
        return v(
            S,
            "amd-athlon",
            "Athlon Gold and Silver 3000/4000 parts are on Microsoft's list.",
        );
    }
    let m = t
        .iter()
        .copied()
        .find(|x| x.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("");
    let listed = [
        "3000g", "300ge", "320ge", "300u", "3045b", "7120e", "7120u", "7220e", "7220u", "3015e",
        "3020e",
    ];
    if listed.contains(&m) {
        v(
            S,
            "amd-athlon",
            format!("Athlon {} is on Microsoft's list.", m.to_uppercase()),
        )
    } else {
        v(
            N,
            "amd-athlon",
            format!(
                "Athlon {} is not on Microsoft's list (200GE/220GE/240GE are Raven Ridge).",
                m.to_uppercase()
            ),
        )
    }
}

fn epyc(t: &[&str]) -> CpuVerdict {
    let m = model_after(t, &["epyc"]).unwrap_or("");
    if m.len() == 4 && m.starts_with('7') && m.ends_with('1') {
        v(
            N,
            "amd-epyc",
            format!(
                "EPYC {} is 1st-generation (Naples); Windows 11 setup blocks it.",
                m.to_uppercase()
            ),
        )
    } else if m.len() >= 4 {
        v(
            S,
            "amd-epyc",
            format!(
                "EPYC {} is 2nd-generation (Rome) or later; these are on Microsoft's list.",
                m.to_uppercase()
            ),
        )
    } else {
        v(U, "amd-epyc", "EPYC without a model number.")
    }
}

fn is_snapdragon_x(t: &[&str]) -> bool {
    t.iter().any(|x| {
        let c: String = x.chars().filter(|c| *c != '-').collect();
        (c.starts_with("x1e") || c.starts_with("x1p") || c.starts_with("x126"))
            && c.ends_with("100")
    })
}

fn qualcomm(t: &[&str]) -> CpuVerdict {
    if t.iter().any(|x| ["sq1", "sq2", "sq3"].contains(x)) {
        return v(
            S,
            "qualcomm-list",
            "Microsoft SQ1/SQ2/SQ3 are on Microsoft's list.",
        );
    }
    if is_snapdragon_x(t) || t.windows(2).any(|w| w == ["snapdragon", "x"]) {
        return v(
            S,
            "qualcomm-list",
            "Snapdragon X processors are on Microsoft's list.",
        );
    }
    let after: Vec<&str> = t
        .iter()
        .copied()
        .skip_while(|x| *x != "snapdragon")
        .skip(1)
        .collect();
    let joined = after.join(" ");
    let listed = [
        "850",
        "7c",
        "7c gen 2",
        "7c+ gen 3",
        "8c",
        "8cx",
        "8cx gen 2",
        "8cx gen 3",
    ];
    let head: String = after.iter().take(3).copied().collect::<Vec<_>>().join(" ");
    let ok = listed.iter().any(|l| {
        head == *l
            || joined == *l
            || head.starts_with(&format!("{l} ")) && !l.contains("gen") && !head.contains("gen")
    });
    if ok || listed.contains(&joined.as_str()) {
        v(
            S,
            "qualcomm-list",
            format!("Snapdragon {joined} is on Microsoft's list."),
        )
    } else {
        v(
            N,
            "qualcomm-list",
            format!("Snapdragon {joined} is not on Microsoft's list."),
        )
    }
}

/// Setup's CPUID blocks (DOMAIN.md §6b layer 1) from an identifier such as
/// "Intel64 Family 6 Model 158 Stepping 9" or "AMD64 Family 23 Model 17 Stepping 0".
/// `Some(Unsupported)` when blocked; `None` when this layer cannot decide (the PlatformId cases
/// 142/9 and 158/9 are not decidable without it).
pub fn cpuid_block(identifier: &str, vendor: Option<&str>) -> Option<CpuVerdict> {
    let w: Vec<&str> = identifier.split_whitespace().collect();
    let num = |key: &str| -> Option<u32> {
        let i = w.iter().position(|x| x.eq_ignore_ascii_case(key))?;
        w.get(i + 1)?.parse().ok()
    };
    let family = num("Family")?;
    let model = num("Model")?;
    let ident = identifier.to_lowercase();
    let vendor = vendor.unwrap_or("").to_lowercase();
    let intel = ident.contains("intel") || vendor.contains("intel");
    let amd = ident.starts_with("amd") || vendor.contains("amd");
    if intel && family == 6 && model <= 95 && model != 85 {
        return Some(v(
            N,
            "cpuid-block",
            format!(
                "CPUID family 6 model {model}: Windows 11 setup blocks Intel models up to 95 (except 85)."
            ),
        ));
    }
    if amd && (family <= 22 || (family == 23 && (model == 1 || model == 17))) {
        return Some(v(
            N,
            "cpuid-block",
            format!(
                "CPUID family {family} model {model}: Windows 11 setup blocks this AMD generation."
            ),
        ));
    }
    None
}
