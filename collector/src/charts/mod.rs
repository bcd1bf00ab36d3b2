//! Server-side SVG charts for the dashboard and the printed board pack. Pure functions: data in,
//! an SVG string out; no I/O, no clock.
//!
//! Every chart:
//! - is an `<svg role="img">` labelled by its `<title>` and a `<desc>` that states the figures
//!   in words, so a screen reader (or a text-only printout) gets the whole content;
//! - has a fixed `viewBox` and `width="100%"`, so it scales to its container and prints sharp;
//! - never relies on colour alone: every bar carries its value as text, series differ by
//!   pattern (hatching, dots...) as well as colour, lines by dash and marker shape, and each
//!   line is labelled at its end;
//! - escapes every label (a site called `<St Mary's & "A">` stays text), and cuts long labels
//!   with the full text in a tooltip;
//! - renders an empty data set as a titled frame saying there is nothing to show yet.
//!
//! A small writer (`svg.rs`) rather than a plotting crate: the crates' SVG back ends give no
//! `<title>`/`<desc>`, patterns or direct labels, which are the point here.

pub mod overview;
mod svg;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use chrono::NaiveDate;

use crate::plan::Plan;
use svg::{COLOURS, DASHES, Svg, clip, n, text_width, ticks};

pub use svg::esc;

/// What the numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Devices, findings...: whole numbers with thousands separators.
    Count,
    /// A share 0..=1, shown as a percentage.
    Share,
    /// Pounds sterling, whole pounds.
    Pounds,
    /// Risk points.
    Points,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        let v = if v.is_finite() { v } else { 0.0 };
        match self {
            Unit::Count | Unit::Points => group(v.round() as i64),
            Unit::Share => format!("{:.1}%", v * 100.0),
            Unit::Pounds => {
                let s = group(v.abs().round() as i64);
                if v < 0.0 {
                    format!("-£{s}")
                } else {
                    format!("£{s}")
                }
            }
        }
    }

    /// Short form for axis ticks: `£250k`, `£1.2m`, `12k`.
    fn tick(self, v: f64) -> String {
        let prefix = if self == Unit::Pounds { "£" } else { "" };
        match self {
            Unit::Share => format!("{:.0}%", v * 100.0),
            _ if v.abs() >= 1e6 => format!("{prefix}{}m", trim(v / 1e6)),
            _ if v.abs() >= 1e4 => format!("{prefix}{}k", trim(v / 1e3)),
            _ => format!("{prefix}{}", group(v.round() as i64)),
        }
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_owned)
}

fn group(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

/// Values that cannot be drawn (NaN, infinite, negative) count as zero.
fn clean(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

const WIDTH: f64 = 720.0;
const TITLE_SIZE: f64 = 16.0;
/// Bars beyond this are summed into one "Other" bar, so the chart stays readable.
pub const MAX_BARS: usize = 24;
const LABEL_CHARS: usize = 28;

fn empty(id: &str, title: &str) -> String {
    let mut s = Svg::open(
        id,
        WIDTH,
        90.0,
        title,
        &format!("{title}: no data to show yet."),
    );
    s.text(12.0, 26.0, "start", TITLE_SIZE, true, title);
    s.text(12.0, 62.0, "start", 13.0, false, "No data to show yet.");
    s.finish()
}

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
}

impl Bar {
    pub fn new(label: impl Into<String>, value: f64) -> Bar {
        Bar {
            label: label.into(),
            value,
        }
    }
}

/// A horizontal bar chart: devices by OS family or lifecycle state, remedy counts.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Prefix for element ids: unique on the page (letters, digits, `-`).
    pub id: String,
    pub title: String,
    pub unit: Unit,
    pub bars: Vec<Bar>,
}

/// Keeps the first `MAX_BARS - 1` bars and sums the rest into "Other (N more)".
fn fold_bars(bars: &[Bar]) -> Vec<Bar> {
    if bars.len() <= MAX_BARS {
        return bars.to_vec();
    }
    let (keep, rest) = bars.split_at(MAX_BARS - 1);
    let mut out = keep.to_vec();
    out.push(Bar::new(
        format!("Other ({} more)", rest.len()),
        rest.iter().map(|b| clean(b.value)).sum(),
    ));
    out
}

fn describe(bars: &[Bar], unit: Unit) -> String {
    bars.iter()
        .map(|b| format!("{}: {}", b.label, unit.format(clean(b.value))))
        .collect::<Vec<_>>()
        .join("; ")
}

pub fn bar_chart(chart: &BarChart) -> String {
    if chart.bars.is_empty() {
        return empty(&chart.id, &chart.title);
    }
    let bars = fold_bars(&chart.bars);
    let (row, bar_h, top) = (26.0, 18.0, 46.0);
    let height = top + bars.len() as f64 * row + 12.0;
    let desc = format!("{}. {}.", chart.title, describe(&bars, chart.unit));
    let mut s = Svg::open(&chart.id, WIDTH, height, &chart.title, &desc);
    s.text(12.0, 26.0, "start", TITLE_SIZE, true, &chart.title);
    let (x0, x1) = (220.0, WIDTH - 120.0);
    let max = bars.iter().map(|b| clean(b.value)).fold(0.0, f64::max);
    s.line(
        (x0, top - 6.0),
        (x0, top + bars.len() as f64 * row - 4.0),
        "#1a1a1a",
        1.0,
        "",
    );
    for (i, bar) in bars.iter().enumerate() {
        let y = top + i as f64 * row;
        let v = clean(bar.value);
        let w = if max > 0.0 { (x1 - x0) * v / max } else { 0.0 };
        let value = chart.unit.format(v);
        s.raw("<g>");
        s.text(
            x0 - 8.0,
            y + 13.5,
            "end",
            13.0,
            false,
            &clip(&bar.label, LABEL_CHARS),
        );
        s.rect(
            x0,
            y,
            w,
            bar_h,
            COLOURS[0],
            &format!("{}: {value}", bar.label),
        );
        s.text(x0 + w + 6.0, y + 13.5, "start", 13.0, true, &value);
        s.raw("</g>");
    }
    s.finish()
}

/// One row of a stacked bar chart: a category and one value per series.
#[derive(Debug, Clone, PartialEq)]
pub struct StackRow {
    pub label: String,
    pub values: Vec<f64>,
}

/// Horizontal stacked bars: Windows 11 readiness by device class, managed vs unmanaged by site.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedChart {
    pub id: String,
    pub title: String,
    pub unit: Unit,
    /// The segments' names, in stacking order (at most six look distinct).
    pub series: Vec<String>,
    pub rows: Vec<StackRow>,
}

pub fn stacked_chart(chart: &StackedChart) -> String {
    if chart.rows.is_empty() || chart.series.is_empty() {
        return empty(&chart.id, &chart.title);
    }
    let rows: Vec<&StackRow> = chart.rows.iter().take(MAX_BARS).collect();
    let value = |r: &StackRow, i: usize| clean(r.values.get(i).copied().unwrap_or(0.0));
    let total = |r: &StackRow| (0..chart.series.len()).map(|i| value(r, i)).sum::<f64>();

    // Legend: swatch and name, wrapping onto more lines as needed.
    let mut legend = Vec::new();
    let (mut lx, mut ly) = (12.0, 46.0);
    for name in &chart.series {
        let name = clip(name, LABEL_CHARS);
        let w = 22.0 + text_width(&name, 13.0) + 18.0;
        if lx + w > WIDTH - 12.0 && lx > 12.0 {
            lx = 12.0;
            ly += 22.0;
        }
        legend.push((lx, ly, name));
        lx += w;
    }
    let top = ly + 28.0;
    let (row, bar_h) = (30.0, 20.0);
    let height = top + rows.len() as f64 * row + 12.0;

    let mut desc = format!("{}.", chart.title);
    for r in &rows {
        let parts: Vec<String> = chart
            .series
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} {}", chart.unit.format(value(r, i))))
            .collect();
        let _ = write!(
            desc,
            " {}: {} (total {}).",
            r.label,
            parts.join(", "),
            chart.unit.format(total(r))
        );
    }
    if chart.rows.len() > MAX_BARS {
        let _ = write!(
            desc,
            " {} more rows not shown.",
            chart.rows.len() - MAX_BARS
        );
    }
    let mut s = Svg::open(&chart.id, WIDTH, height, &chart.title, &desc);
    s.patterns();
    s.text(12.0, 26.0, "start", TITLE_SIZE, true, &chart.title);
    for (i, (x, y, name)) in legend.iter().enumerate() {
        let fill = s.fill(i);
        s.rect(*x, y - 12.0, 16.0, 16.0, &fill, name);
        s.text(x + 22.0, *y, "start", 13.0, false, name);
    }
    let (x0, x1) = (180.0, WIDTH - 90.0);
    let max = rows.iter().map(|r| total(r)).fold(0.0, f64::max);
    for (ri, r) in rows.iter().enumerate() {
        let y = top + ri as f64 * row;
        s.raw("<g>");
        s.text(x0 - 8.0, y + 14.5, "end", 13.0, false, &clip(&r.label, 24));
        let mut x = x0;
        for (i, name) in chart.series.iter().enumerate() {
            let v = value(r, i);
            if v <= 0.0 {
                continue;
            }
            let w = if max > 0.0 { (x1 - x0) * v / max } else { 0.0 };
            let text = chart.unit.format(v);
            let fill = s.fill(i);
            s.rect(
                x,
                y,
                w,
                bar_h,
                &fill,
                &format!("{}, {name}: {text}", r.label),
            );
            // The value on a white plate inside the segment when it fits.
            let tw = text_width(&text, 12.0) + 6.0;
            if w >= tw + 2.0 {
                let cx = x + w / 2.0;
                let _ = write_plate(&mut s, cx, y + bar_h / 2.0, tw);
                s.text(cx, y + 14.5, "middle", 12.0, true, &text);
            }
            x += w;
        }
        s.text(
            x + 6.0,
            y + 14.5,
            "start",
            13.0,
            true,
            &chart.unit.format(total(r)),
        );
        s.raw("</g>");
    }
    s.finish()
}

fn write_plate(s: &mut Svg, cx: f64, cy: f64, w: f64) -> std::fmt::Result {
    let mut plate = String::new();
    write!(
        plate,
        "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"15\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.9\"/>",
        n(cx - w / 2.0),
        n(cy - 7.5),
        n(w)
    )?;
    s.raw(&plate);
    Ok(())
}

/// One line of a trend chart: dated values (the web pages read them from the stored history).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(NaiveDate, f64)>,
}

/// A trend over time: unsupported share, WannaCry-exposed count, coverage.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub id: String,
    pub title: String,
    pub unit: Unit,
    pub series: Vec<Series>,
}

const PLOT_TOP: f64 = 56.0;
const PLOT_BOTTOM: f64 = 300.0;
const PLOT_LEFT: f64 = 72.0;
const PLOT_RIGHT: f64 = WIDTH - 180.0;
const PLOT_HEIGHT: f64 = 340.0;

/// Axes with gridlines; returns the y scale.
fn y_axis(s: &mut Svg, unit: Unit, max: f64, label: &str) -> impl Fn(f64) -> f64 + use<> {
    let ts = ticks(0.0, if max > 0.0 { max } else { 1.0 }, 5);
    let top = ts.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let scale = move |v: f64| PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * v / top;
    for t in &ts {
        let y = scale(*t);
        s.line((PLOT_LEFT, y), (PLOT_RIGHT, y), "#d0d0d0", 1.0, "");
        s.text(PLOT_LEFT - 6.0, y + 4.0, "end", 12.0, false, &unit.tick(*t));
    }
    s.line(
        (PLOT_LEFT, PLOT_TOP - 4.0),
        (PLOT_LEFT, PLOT_BOTTOM),
        "#1a1a1a",
        1.0,
        "",
    );
    s.line(
        (PLOT_LEFT, PLOT_BOTTOM),
        (PLOT_RIGHT, PLOT_BOTTOM),
        "#1a1a1a",
        1.0,
        "",
    );
    s.text(12.0, PLOT_TOP - 16.0, "start", 12.0, false, label);
    scale
}

/// Moves end-of-line labels apart so none overlap.
fn spread(mut ys: Vec<(usize, f64)>, gap: f64) -> Vec<(usize, f64)> {
    ys.sort_by(|a, b| a.1.total_cmp(&b.1));
    for i in 1..ys.len() {
        if ys[i].1 < ys[i - 1].1 + gap {
            ys[i].1 = ys[i - 1].1 + gap;
        }
    }
    ys
}

pub fn line_chart(chart: &LineChart) -> String {
    let series: Vec<&Series> = chart
        .series
        .iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    if series.is_empty() {
        return empty(&chart.id, &chart.title);
    }
    let dates = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let (first, last) = dates.fold((NaiveDate::MAX, NaiveDate::MIN), |(a, b), d| {
        (a.min(d), b.max(d))
    });
    let span = (last - first).num_days().max(1) as f64;
    let x_of = |d: NaiveDate| {
        if first == last {
            (PLOT_LEFT + PLOT_RIGHT) / 2.0
        } else {
            PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * (d - first).num_days() as f64 / span
        }
    };
    let max = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| clean(p.1)))
        .fold(0.0, f64::max);

    let mut desc = format!(
        "{}, {} to {}.",
        chart.title,
        long_date(first),
        long_date(last)
    );
    for ser in &series {
        let (d0, v0) = ser.points[0];
        let (d1, v1) = ser.points[ser.points.len() - 1];
        let _ = write!(
            desc,
            " {}: {} on {}, {} on {} ({} points).",
            ser.name,
            chart.unit.format(clean(v0)),
            long_date(d0),
            chart.unit.format(clean(v1)),
            long_date(d1),
            ser.points.len()
        );
    }
    let mut s = Svg::open(&chart.id, WIDTH, PLOT_HEIGHT, &chart.title, &desc);
    s.text(12.0, 24.0, "start", TITLE_SIZE, true, &chart.title);
    let y_of = y_axis(&mut s, chart.unit, max, "");
    for (d, label) in date_ticks(first, last) {
        let x = x_of(d);
        s.line((x, PLOT_BOTTOM), (x, PLOT_BOTTOM + 5.0), "#1a1a1a", 1.0, "");
        s.text(x, PLOT_BOTTOM + 20.0, "middle", 12.0, false, &label);
    }
    let mut ends = Vec::new();
    for (i, ser) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = ser.points.clone();
        points.sort_by_key(|p| p.0);
        let path: Vec<String> = points
            .iter()
            .map(|(d, v)| format!("{},{}", n(x_of(*d)), n(y_of(clean(*v)))))
            .collect();
        let dash = DASHES[i % DASHES.len()];
        let _ = write_polyline(&mut s, &path.join(" "), colour, dash, &ser.name);
        // Markers only where they stay apart.
        if points.len() <= 60 {
            for (d, v) in &points {
                let tip = format!(
                    "{}, {}: {}",
                    ser.name,
                    long_date(*d),
                    chart.unit.format(clean(*v))
                );
                s.marker(i, x_of(*d), y_of(clean(*v)), colour, &tip);
            }
        }
        if let Some((_, v)) = points.last() {
            ends.push((i, y_of(clean(*v))));
        }
    }
    for (i, y) in spread(ends, 15.0) {
        let ser = series[i];
        let value = ser
            .points
            .iter()
            .max_by_key(|p| p.0)
            .map_or(0.0, |p| clean(p.1));
        s.text(
            PLOT_RIGHT + 10.0,
            y + 4.0,
            "start",
            12.0,
            true,
            &format!("{} {}", clip(&ser.name, 18), chart.unit.format(value)),
        );
    }
    s.finish()
}

fn write_polyline(
    s: &mut Svg,
    points: &str,
    colour: &str,
    dash: &str,
    name: &str,
) -> std::fmt::Result {
    let mut out = String::new();
    write!(
        out,
        "<polyline points=\"{points}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"{}><title>{}</title></polyline>",
        if dash.is_empty() {
            String::new()
        } else {
            format!(" stroke-dasharray=\"{dash}\"")
        },
        esc(name)
    )?;
    s.raw(&out);
    Ok(())
}

fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// Up to six dates across the range, labelled by day or by month as the span needs.
fn date_ticks(first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDate, String)> {
    let days = (last - first).num_days();
    let fmt = |d: NaiveDate| {
        if days <= 120 {
            d.format("%-d %b").to_string()
        } else {
            d.format("%b %Y").to_string()
        }
    };
    if days == 0 {
        return vec![(first, long_date(first))];
    }
    let steps = days.clamp(1, 5);
    let mut out: Vec<(NaiveDate, String)> = (0..=steps)
        .map(|k| {
            let d = first + chrono::Duration::days(days * k / steps);
            (d, fmt(d))
        })
        .collect();
    out.dedup_by(|a, b| a.1 == b.1);
    out
}

/// "Risk left after each year against money spent": one point per financial year at the money
/// spent so far and the estate's risk left after that year, from the plan.
pub fn plan_risk_chart(plan: &Plan, id: &str) -> String {
    let title = "Risk left after each year against money spent";
    let Some(first) = plan.years.first() else {
        return empty(id, title);
    };
    let mut points = vec![("Today".to_owned(), 0.0, first.risk_before as f64)];
    let mut spent = 0.0;
    for y in &plan.years {
        spent += y.spent.pence() as f64 / 100.0;
        points.push((y.label.clone(), spent, y.risk_after as f64));
    }
    let mut desc = format!(
        "{title}. Risk today: {} points.",
        Unit::Points.format(first.risk_before as f64)
    );
    for (label, spent, risk) in &points[1..] {
        let _ = write!(
            desc,
            " After {label}: {} spent in total, {} points left.",
            Unit::Pounds.format(*spent),
            Unit::Points.format(*risk)
        );
    }
    let max_x = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let max_y = points.iter().map(|p| p.2).fold(0.0, f64::max);
    let mut s = Svg::open(id, WIDTH, PLOT_HEIGHT + 16.0, title, &desc);
    s.text(12.0, 24.0, "start", TITLE_SIZE, true, title);
    let y_of = y_axis(&mut s, Unit::Points, max_y, "Risk points");
    let xt = ticks(0.0, if max_x > 0.0 { max_x } else { 1.0 }, 5);
    let x_top = xt.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let x_of = |v: f64| PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * v / x_top;
    for t in &xt {
        let x = x_of(*t);
        s.line((x, PLOT_BOTTOM), (x, PLOT_BOTTOM + 5.0), "#1a1a1a", 1.0, "");
        s.text(
            x,
            PLOT_BOTTOM + 20.0,
            "middle",
            12.0,
            false,
            &Unit::Pounds.tick(*t),
        );
    }
    s.text(
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        PLOT_BOTTOM + 42.0,
        "middle",
        12.0,
        false,
        "Money spent so far",
    );
    let path: Vec<String> = points
        .iter()
        .map(|(_, x, y)| format!("{},{}", n(x_of(*x)), n(y_of(*y))))
        .collect();
    let _ = write_polyline(&mut s, &path.join(" "), COLOURS[0], "", "Risk left");
    // Years that spend nothing sit on the previous point: one marker, one label naming them all.
    let mut marks: Vec<(String, f64, f64)> = Vec::new();
    for (label, x, y) in &points {
        match marks.last_mut() {
            Some(last) if (last.1 - x).abs() < 0.005 && (last.2 - y).abs() < 0.5 => {
                last.0 = format!("{} to {label}", last.0.split(" to ").next().unwrap_or(""));
            }
            _ => marks.push((label.clone(), *x, *y)),
        }
    }
    for (i, (label, x, y)) in marks.iter().enumerate() {
        let (px, py) = (x_of(*x), y_of(*y));
        let tip = format!(
            "{label}: {} spent, {} points left",
            Unit::Pounds.format(*x),
            Unit::Points.format(*y)
        );
        s.marker(0, px, py, COLOURS[0], &tip);
        // Above and to the right: risk falls as money is spent, so the line runs down and away
        // from the label; the right margin leaves room for the last one. A label that would sit
        // on the previous one goes below its point instead, unless that is the money axis.
        let dy = if i > 0 && (marks[i - 1].2 - y).abs() < 1.0 && py + 20.0 < PLOT_BOTTOM - 4.0 {
            20.0
        } else {
            -10.0
        };
        s.text(
            px + 7.0,
            py + dy,
            "start",
            12.0,
            true,
            &format!("{label}: {} left", Unit::Points.format(*y)),
        );
    }
    s.finish()
}
