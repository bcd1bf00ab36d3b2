//! Small server-side SVG charts: horizontal bars and lines. Each chart carries a `<title>` and
//! a `<desc>` for screen readers; pages also print the numbers beside it. Colours come from
//! classes in `ward.css`, so the print stylesheet can keep them readable in greyscale.

use std::fmt::Write as _;

/// Escapes text for SVG/XML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar: label, value, CSS class (`bad`, `warn`, `ok`, `unknown`, `neutral`).
pub struct Bar<'a> {
    pub label: String,
    pub value: f64,
    pub class: &'a str,
}

/// Horizontal bars, one per row, with the value printed at the end of each.
pub fn bars(title: &str, bars: &[Bar<'_>], fmt: impl Fn(f64) -> String) -> String {
    let row = 26.0;
    let label_w = 230.0;
    let bar_w = 300.0;
    let width = label_w + bar_w + 90.0;
    let height = (bars.len().max(1) as f64) * row + 8.0;
    let max = bars
        .iter()
        .map(|b| b.value)
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let mut s = String::new();
    let desc: Vec<String> = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, fmt(b.value)))
        .collect();
    let _ = write!(
        s,
        r#"<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title><desc>{}</desc>"#,
        esc(title),
        esc(&desc.join("; "))
    );
    if bars.is_empty() {
        let _ = write!(s, r#"<text x="4" y="18" class="axis">No data yet</text>"#);
    }
    for (i, b) in bars.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let w = (b.value / max * bar_w).max(if b.value > 0.0 { 2.0 } else { 0.0 });
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" class="label">{}</text><rect x="{label_w}" y="{y}" width="{w:.1}" height="{}" class="bar {}"/><text x="{}" y="{}" class="value">{}</text>"#,
            label_w - 8.0,
            y + row * 0.62,
            esc(&b.label),
            row - 8.0,
            esc(b.class),
            label_w + w + 6.0,
            y + row * 0.62,
            esc(&fmt(b.value))
        );
    }
    s.push_str("</svg>");
    s
}

/// One line of a line chart.
pub struct Series<'a> {
    pub name: String,
    pub class: &'a str,
    pub values: Vec<f64>,
}

/// Lines over labelled x positions (the same count of values in every series).
pub fn lines(
    title: &str,
    x_labels: &[String],
    series: &[Series<'_>],
    fmt: impl Fn(f64) -> String,
) -> String {
    let (width, height) = (640.0, 260.0);
    let (left, right, top, bottom) = (70.0, 50.0, 16.0, 60.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let n = x_labels.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            left + plot_w / 2.0
        } else {
            left + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| top + plot_h - v / max * plot_h;
    let mut desc = Vec::new();
    for s in series {
        let vals: Vec<String> = x_labels
            .iter()
            .zip(&s.values)
            .map(|(l, v)| format!("{l} {}", fmt(*v)))
            .collect();
        desc.push(format!("{}: {}", s.name, vals.join(", ")));
    }
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{}</title><desc>{}</desc>"#,
        esc(title),
        esc(&desc.join("; "))
    );
    // Axes and grid: 0, half, max.
    for frac in [0.0, 0.5, 1.0] {
        let v = max * frac;
        let _ = write!(
            out,
            r#"<line x1="{left}" x2="{}" y1="{:.1}" y2="{:.1}" class="grid"/><text x="{}" y="{:.1}" text-anchor="end" class="axis">{}</text>"#,
            width - right,
            y(v),
            y(v),
            left - 6.0,
            y(v) + 4.0,
            esc(&fmt(v))
        );
    }
    for (i, l) in x_labels.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="axis">{}</text>"#,
            x(i),
            top + plot_h + 18.0,
            esc(l)
        );
    }
    for (k, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline points="{}" class="line {}" fill="none"/>"#,
            points.join(" "),
            esc(s.class)
        );
        for (i, v) in s.values.iter().enumerate() {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3.5" class="dot {}"/>"#,
                x(i),
                y(*v),
                esc(s.class)
            );
        }
        // Legend below the axis labels.
        let lx = left + k as f64 * 200.0;
        let ly = height - 14.0;
        let _ = write!(
            out,
            r#"<rect x="{lx}" y="{}" width="14" height="4" class="bar {}"/><text x="{}" y="{ly}" class="label">{}</text>"#,
            ly - 6.0,
            esc(s.class),
            lx + 20.0,
            esc(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_and_describe() {
        let svg = bars(
            "Devices <by> OS",
            &[Bar {
                label: "Windows & co".into(),
                value: 3.0,
                class: "bad",
            }],
            |v| format!("{v:.0}"),
        );
        assert!(svg.contains("<title>Devices &lt;by&gt; OS</title>"));
        assert!(svg.contains("Windows &amp; co: 3"));
        let svg = lines(
            "Trend",
            &["Jan".into(), "Feb".into()],
            &[Series {
                name: "Unsupported".into(),
                class: "bad",
                values: vec![1.0, 2.0],
            }],
            |v| format!("{v:.0}"),
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("Unsupported: Jan 1, Feb 2"));
    }
}
