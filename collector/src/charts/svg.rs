//! A small SVG writer: escaping, numbers, the accessible frame, patterns and markers.

use std::fmt::Write as _;

/// Text made safe for SVG content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 cannot hold most control characters, even escaped.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal, no `-0`.
pub fn n(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Letters, digits and `-` only, so it can prefix element ids.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "chart".into() } else { out }
}

/// Okabe-Ito colours (distinguishable with colour-blindness), each also with its own pattern.
pub const COLOURS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
];

/// Approximate width of `text` at `size` px in a sans-serif font.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.58
}

/// `text` cut to `max` characters with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

pub struct Svg {
    out: String,
    pub id: String,
}

impl Svg {
    /// The frame: a scalable viewBox, `role="img"`, and `<title>`/`<desc>` the image is labelled
    /// by, so a screen reader reads both.
    pub fn open(id: &str, width: f64, height: f64, title: &str, desc: &str) -> Svg {
        let id = slug(id);
        let mut out = String::with_capacity(8 * 1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"100%\" \
             role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" class=\"ward-chart\" \
             font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"13\">\
             <title id=\"{id}-title\">{title}</title><desc id=\"{id}-desc\">{desc}</desc>",
            w = n(width),
            h = n(height),
            title = esc(title),
            desc = esc(desc),
        );
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>",
            n(width),
            n(height)
        );
        Svg { out, id }
    }

    pub fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, anchor: &str, size: f64, bold: bool, content: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"{anchor}\" font-size=\"{}\"{} fill=\"#1a1a1a\">{}</text>",
            n(x),
            n(y),
            n(size),
            if bold { " font-weight=\"bold\"" } else { "" },
            esc(content)
        );
    }

    pub fn line(
        &mut self,
        (x1, y1): (f64, f64),
        (x2, y2): (f64, f64),
        stroke: &str,
        width: f64,
        dash: &str,
    ) {
        let _ = write!(
            self.out,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"{}\"{}/>",
            n(x1),
            n(y1),
            n(x2),
            n(y2),
            n(width),
            if dash.is_empty() {
                String::new()
            } else {
                format!(" stroke-dasharray=\"{dash}\"")
            }
        );
    }

    /// A rectangle with a tooltip (`<title>`) that names what it shows.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, tooltip: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" stroke=\"#1a1a1a\" stroke-width=\"0.75\"><title>{}</title></rect>",
            n(x),
            n(y),
            n(w.max(0.0)),
            n(h.max(0.0)),
            esc(tooltip)
        );
    }

    /// Six fills, each a colour plus its own pattern, so series differ in black and white too.
    /// Use [`Svg::fill`] to refer to them.
    pub fn patterns(&mut self) {
        self.out.push_str("<defs>");
        for (i, colour) in COLOURS.iter().enumerate() {
            let overlay = match i {
                0 => "",
                1 => {
                    "<path d=\"M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4\" stroke=\"#000\" stroke-width=\"1.4\" stroke-opacity=\"0.7\"/>"
                }
                2 => "<circle cx=\"4\" cy=\"4\" r=\"1.6\" fill=\"#000\" fill-opacity=\"0.7\"/>",
                3 => {
                    "<path d=\"M0,0 L8,8 M8,0 L0,8\" stroke=\"#000\" stroke-width=\"1\" stroke-opacity=\"0.7\"/>"
                }
                4 => {
                    "<path d=\"M0,4 H8\" stroke=\"#000\" stroke-width=\"1.4\" stroke-opacity=\"0.7\"/>"
                }
                _ => {
                    "<path d=\"M4,0 V8\" stroke=\"#000\" stroke-width=\"1.4\" stroke-opacity=\"0.7\"/>"
                }
            };
            let _ = write!(
                self.out,
                "<pattern id=\"{}-p{i}\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\"><rect width=\"8\" height=\"8\" fill=\"{colour}\"/>{overlay}</pattern>",
                self.id
            );
        }
        self.out.push_str("</defs>");
    }

    /// The fill of series `i` (after [`Svg::patterns`]).
    pub fn fill(&self, i: usize) -> String {
        format!("url(#{}-p{})", self.id, i % COLOURS.len())
    }

    /// A marker of one of four shapes, so lines differ without colour.
    pub fn marker(&mut self, i: usize, x: f64, y: f64, colour: &str, tooltip: &str) {
        let shape = match i % 4 {
            0 => format!("<circle cx=\"{}\" cy=\"{}\" r=\"4.5\"", n(x), n(y)),
            1 => format!(
                "<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\"",
                n(x - 4.0),
                n(y - 4.0)
            ),
            2 => format!(
                "<path d=\"M{},{} L{},{} L{},{} Z\"",
                n(x),
                n(y - 5.0),
                n(x + 5.0),
                n(y + 4.0),
                n(x - 5.0),
                n(y + 4.0)
            ),
            _ => format!(
                "<path d=\"M{},{} L{},{} L{},{} L{},{} Z\"",
                n(x),
                n(y - 5.5),
                n(x + 5.5),
                n(y),
                n(x),
                n(y + 5.5),
                n(x - 5.5),
                n(y)
            ),
        };
        let _ = write!(
            self.out,
            "{shape} fill=\"{colour}\" stroke=\"#1a1a1a\" stroke-width=\"1\"><title>{}</title>{}",
            esc(tooltip),
            if shape.starts_with("<circle") {
                "</circle>"
            } else if shape.starts_with("<rect") {
                "</rect>"
            } else {
                "</path>"
            }
        );
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// Dash patterns for lines, one per series.
pub const DASHES: [&str; 4] = ["", "8 4", "2 3", "10 3 2 3"];

/// "Nice" axis ticks from 0 (or `min`) to at least `max`: steps of 1, 2 or 5 times a power of ten.
pub fn ticks(min: f64, max: f64, count: usize) -> Vec<f64> {
    let (min, max) = if max > min {
        (min, max)
    } else {
        (min, min + 1.0)
    };
    let raw = (max - min) / count.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(power * 10.0);
    let start = (min / step).floor() * step;
    let mut out = Vec::new();
    let mut v = start;
    while v < max + step * 0.999 && out.len() < 50 {
        out.push(v);
        v += step;
    }
    out
}
