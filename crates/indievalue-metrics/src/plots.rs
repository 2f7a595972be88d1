//! Plots as PNG and SVG: accuracy per category for several reasoners (Figure 2's layout),
//! accuracy per demographic group (Figure 4's) and the top-k sweep (Table 20's).
//!
//! Text needs a TrueType font: `INDIEVALUE_FONT`, or DejaVu / Liberation Sans at their usual
//! Debian paths. Every function writes `STEM.png` and `STEM.svg` and returns their paths.

use crate::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();

/// Registers the font once for the process.
fn ensure_font() -> Result<()> {
    let result = FONT.get_or_init(|| {
        let mut tried: Vec<String> = Vec::new();
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(p) = std::env::var_os("INDIEVALUE_FONT") {
            candidates.push(PathBuf::from(p));
        }
        candidates.extend(FONT_PATHS.iter().map(PathBuf::from));
        for path in candidates {
            tried.push(path.display().to_string());
            if let Ok(bytes) = std::fs::read(&path) {
                // The font lives as long as the process, as plotters requires.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(tried.join(", "))
    });
    result.clone().map_err(|tried| Error::NoFont { tried })
}

/// Ten distinct colours (the paper's baselines and the learned rows fit without repeating).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn err<E: std::fmt::Display>(path: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Plot {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Encodes RGB pixels as a PNG file, written atomically.
fn write_png(path: &Path, pixels: &[u8], width: u32, height: u32) -> Result<()> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(err(path))?;
        writer.write_image_data(pixels).map_err(err(path))?;
    }
    Ok(indievalue_files::write_atomic(path, &bytes)?)
}

/// Draws the same figure on a PNG and an SVG of the same size: `$draw` is called with each
/// backend's drawing area (a macro, since a closure cannot be generic over the backend).
macro_rules! both {
    ($stem:expr, $size:expr, |$root:ident| $draw:expr) => {{
        ensure_font()?;
        let stem: &Path = $stem;
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");
        let (w, h): (u32, u32) = $size;
        let mut pixels = vec![0u8; w as usize * h as usize * 3];
        {
            let $root = BitMapBackend::with_buffer(&mut pixels, $size).into_drawing_area();
            $draw.map_err(err(&png))?;
        }
        write_png(&png, &pixels, w, h)?;
        let mut text = String::new();
        {
            let $root = SVGBackend::with_string(&mut text, $size).into_drawing_area();
            $draw.map_err(err(&svg))?;
        }
        indievalue_files::write_atomic(&svg, text.as_bytes())?;
        Ok(vec![png, svg])
    }};
}

/// The y-axis labels of horizontal bars: row `i` from the top (drawn at `n - 1 - i`) is named
/// at its middle, nothing elsewhere.
fn row_labels(names: Vec<String>) -> impl Fn(&f64) -> String {
    move |y: &f64| {
        let i = y.floor() as usize;
        if (y - y.floor() - 0.5).abs() < 1e-6 && i < names.len() {
            names[names.len() - 1 - i].clone()
        } else {
            String::new()
        }
    }
}

/// Width of the legend panel right of a chart with several series.
const LEGEND_WIDTH: u32 = 420;

/// Horizontal grouped bars: one row per label, one bar per series, the accuracy axis from 0 to
/// 100; with several series the legend stands in its own panel on the right, clear of the bars.
fn bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    labels: &[String],
    series: &[(String, Vec<f64>)],
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (width, _) = root.dim_in_pixel();
    let (plot, legend) = if series.len() > 1 {
        let (left, right) = root.split_horizontally(width.saturating_sub(LEGEND_WIDTH));
        (left, Some(right))
    } else {
        (root.clone(), None)
    };
    let n = labels.len().max(1) as f64;
    let mut chart = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(260)
        .build_cartesian_2d(0f64..100f64, 0f64..n)
        .map_err(e)?;
    let row_label = row_labels(labels.to_vec());
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(labels.len().max(1) * 2 + 1)
        .y_label_formatter(&row_label)
        .x_desc("accuracy (%)")
        .draw()
        .map_err(e)?;
    let k = series.len().max(1) as f64;
    for (s, (_, values)) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        let rects = values.iter().enumerate().map(move |(i, &v)| {
            let row = n - 1.0 - i as f64;
            let top = row + 0.9 - s as f64 * 0.8 / k;
            let v = if v.is_finite() {
                v.clamp(0.0, 100.0)
            } else {
                0.0
            };
            Rectangle::new([(0.0, top - 0.8 / k), (v, top)], color.filled())
        });
        chart.draw_series(rects).map_err(e)?;
    }
    if let Some(panel) = legend {
        for (s, (name, _)) in series.iter().enumerate() {
            let color = PALETTE[s % PALETTE.len()];
            let y = 60 + 26 * s as i32;
            panel
                .draw(&Rectangle::new([(8, y), (22, y + 14)], color.filled()))
                .map_err(e)?;
            panel
                .draw(&Text::new(name.clone(), (30, y), ("sans-serif", 15)))
                .map_err(e)?;
        }
    }
    root.present().map_err(e)
}

/// Accuracy per category for several reasoners side by side (Figure 2's layout).
pub fn category_accuracy(
    stem: impl AsRef<Path>,
    title: &str,
    categories: &[String],
    reasoners: &[(String, Vec<f64>)],
) -> Result<Vec<PathBuf>> {
    let height = 120 + 28 * categories.len() as u32 * reasoners.len().clamp(1, 3) as u32;
    both!(stem.as_ref(), (1120, height.max(400)), |root| bars(
        root, title, categories, reasoners
    ))
}

/// [`category_accuracy`] of accuracy reports: every category of `categories` (in that order, by
/// the catalog's short name), one bar per labelled report.
pub fn report_categories(
    stem: impl AsRef<Path>,
    title: &str,
    catalog: &indievalue_catalog::Catalog,
    categories: &[indievalue_catalog::Category],
    reports: &[(String, &crate::AccuracyReport)],
) -> Result<Vec<PathBuf>> {
    let names: Vec<String> = categories
        .iter()
        .map(|c| catalog.category_short_name(*c).to_owned())
        .collect();
    let series: Vec<(String, Vec<f64>)> = reports
        .iter()
        .map(|(label, r)| (label.clone(), r.category_series(categories)))
        .collect();
    category_accuracy(stem, title, &names, &series)
}

/// Accuracy per group of one demographic dimension (Figure 4's layout).
pub fn group_accuracy(
    stem: impl AsRef<Path>,
    title: &str,
    groups: &[(String, f64)],
) -> Result<Vec<PathBuf>> {
    let labels: Vec<String> = groups.iter().map(|(g, _)| g.clone()).collect();
    let series = vec![(
        "accuracy".to_owned(),
        groups.iter().map(|&(_, a)| a).collect::<Vec<_>>(),
    )];
    let height = 120 + 24 * groups.len() as u32;
    both!(stem.as_ref(), (900, height.max(300)), |root| bars(
        root, title, &labels, &series
    ))
}

/// The change of one reasoner's accuracy over another's per group of one demographic dimension
/// (Figure 4's improvement bars; the ablations' relative changes): one horizontal bar per
/// group, in the order given, signed, in percentage points, on an axis symmetric about zero.
pub fn group_change(
    stem: impl AsRef<Path>,
    title: &str,
    changes: &[(String, f64)],
) -> Result<Vec<PathBuf>> {
    let height = 120 + 24 * changes.len() as u32;
    both!(stem.as_ref(), (900, height.max(300)), |root| signed_bars(
        root,
        title,
        changes,
        "change in accuracy (percentage points)"
    ))
}

/// [`group_change`] for relative changes, in percent of the other reasoner's accuracy
/// (Figure 4's and Figures 11-21's bars).
pub fn group_relative_change(
    stem: impl AsRef<Path>,
    title: &str,
    changes: &[(String, f64)],
) -> Result<Vec<PathBuf>> {
    let height = 120 + 24 * changes.len() as u32;
    both!(stem.as_ref(), (900, height.max(300)), |root| signed_bars(
        root,
        title,
        changes,
        "relative change in accuracy (%)"
    ))
}

/// Horizontal bars of signed values, one per label, around a zero line.
fn signed_bars<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    values: &[(String, f64)],
    x_desc: &str,
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let n = values.len().max(1) as f64;
    let largest = values
        .iter()
        .map(|(_, v)| v.abs())
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    let bound = (largest * 1.15).ceil();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(260)
        .build_cartesian_2d(-bound..bound, 0f64..n)
        .map_err(e)?;
    let row_label = row_labels(values.iter().map(|(g, _)| g.clone()).collect());
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(values.len().max(1) * 2 + 1)
        .y_label_formatter(&row_label)
        .x_desc(x_desc)
        .draw()
        .map_err(e)?;
    let rects = values.iter().enumerate().map(|(i, &(_, v))| {
        let row = n - 1.0 - i as f64;
        let color = if v >= 0.0 { PALETTE[2] } else { PALETTE[3] };
        let v = if v.is_finite() { v } else { 0.0 };
        Rectangle::new([(0.0, row + 0.1), (v, row + 0.9)], color.filled())
    });
    chart.draw_series(rects).map_err(e)?;
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            BLACK.stroke_width(1),
        )))
        .map_err(e)?;
    root.present().map_err(e)
}

/// Accuracy against k, one line per series (Table 20's sweep): [`accuracy_lines`] over k.
pub fn top_k_sweep(
    stem: impl AsRef<Path>,
    title: &str,
    ks: &[usize],
    series: &[(String, Vec<f64>)],
) -> Result<Vec<PathBuf>> {
    accuracy_lines(stem, title, "k (most similar training people)", ks, series)
}

/// A name as a file stem: lowercase ASCII letters and digits, anything else a `-`, no runs
/// of `-` and none at the ends.
///
/// ```
/// assert_eq!(indievalue_metrics::plots::file_slug("Resemble (top 1)"), "resemble-top-1");
/// ```
pub fn file_slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// Training curves: loss against optimizer step, one line per series (the training loss of
/// every step, the held-out loss where it was measured). The y axis starts at 0.
pub fn loss_curve(
    stem: impl AsRef<Path>,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<Vec<PathBuf>> {
    let all = || series.iter().flat_map(|(_, p)| p.iter().copied());
    let xmax = all().map(|(x, _)| x).fold(1.0, f64::max);
    let ymax = all()
        .map(|(_, y)| y)
        .filter(|y| y.is_finite())
        .fold(0.0, f64::max);
    let ranges = ((0.0, xmax), (0.0, (ymax * 1.05).max(1e-3)));
    both!(stem.as_ref(), (900, 560), |root| xy_chart(
        root,
        title,
        series,
        ranges,
        ("optimizer step", "loss", SeriesLabelPosition::UpperRight)
    ))
}

/// Lines through `(x, y)` points, one per series, with a legend.
fn xy_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    (x_range, y_range): ((f64, f64), (f64, f64)),
    (x_desc, y_desc, legend): (&str, &str, SeriesLabelPosition),
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(e)?;
    for (s, (name, points)) in series.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                points
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite()),
                color.stroke_width(2),
            ))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(legend)
        .draw()
        .map_err(e)?;
    root.present().map_err(e)
}

/// Accuracy against a count (demonstrations, k, ...), one line per series; the accuracy axis
/// ends at 100 and starts at the ten below the lowest point.
pub fn accuracy_lines(
    stem: impl AsRef<Path>,
    title: &str,
    x_desc: &str,
    xs: &[usize],
    series: &[(String, Vec<f64>)],
) -> Result<Vec<PathBuf>> {
    let lo = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let lo = if lo.is_finite() {
        ((lo - 2.0) / 10.0).floor().max(0.0) * 10.0
    } else {
        0.0
    };
    let xmin = xs.iter().copied().min().unwrap_or(0) as f64;
    let xmax = xs.iter().copied().max().unwrap_or(1) as f64;
    let points: Vec<(String, Vec<(f64, f64)>)> = series
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                xs.iter().zip(v).map(|(&x, &y)| (x as f64, y)).collect(),
            )
        })
        .collect();
    let ranges = ((xmin, xmax.max(xmin + 1.0)), (lo, 100.0));
    let descs = || (x_desc, "accuracy (%)", SeriesLabelPosition::LowerRight);
    both!(stem.as_ref(), (900, 560), |root| xy_chart(
        root,
        title,
        &points,
        ranges,
        descs()
    ))
}

/// Figures 4, 9 and 11-21 from one function: for every dimension of `a`, a plot of `a`'s
/// accuracy per group (`DIR/SLUG-accuracy.{png,svg}`) and of its relative change over `b` in
/// percent, 100 x (a - b) / b (`DIR/SLUG-change.{png,svg}`), groups in the dimension's order.
/// Returns (dimension, slug) for every dimension plotted.
pub fn dimension_groups(
    dir: &Path,
    a_label: &str,
    b_label: &str,
    a: &crate::InequityIndex,
    b: &crate::InequityIndex,
) -> Result<Vec<(String, String)>> {
    indievalue_files::create_dir_all(dir)?;
    let mut out = Vec::new();
    for row in &a.rows {
        if row.groups.is_empty() {
            continue;
        }
        let slug = file_slug(&row.dimension);
        let groups: Vec<(String, f64)> = row
            .groups
            .iter()
            .map(|g| (format!("{} ({})", g.group, g.people), g.accuracy))
            .collect();
        group_accuracy(
            dir.join(format!("{slug}-accuracy")),
            &format!("{a_label}: accuracy by {}", row.dimension.to_lowercase()),
            &groups,
        )?;
        let theirs = b.rows.iter().find(|r| r.dimension == row.dimension);
        let changes: Vec<(String, f64)> = row
            .groups
            .iter()
            .map(|g| {
                let base = theirs
                    .and_then(|r| r.groups.iter().find(|h| h.group == g.group))
                    .map_or(f64::NAN, |h| h.accuracy);
                let change = if base > 0.0 {
                    100.0 * (g.accuracy - base) / base
                } else {
                    f64::NAN
                };
                (format!("{} ({})", g.group, g.people), change)
            })
            .collect();
        group_relative_change(
            dir.join(format!("{slug}-change")),
            &format!(
                "{a_label} over {b_label}: relative change by {}",
                row.dimension.to_lowercase()
            ),
            &changes,
        )?;
        out.push((row.dimension.clone(), slug));
    }
    Ok(out)
}

/// A grid of values with every value printed in its cell (Figure 8's layout): `rows` down the
/// left (top to bottom, in the order given), `columns` along the bottom; cells shaded from white
/// (`low`) to blue (`high`); a NaN cell stays grey and prints `-`.
pub fn heatmap(
    stem: impl AsRef<Path>,
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<f64>],
    (low, high): (f64, f64),
) -> Result<Vec<PathBuf>> {
    let cell = 62u32;
    let width = 300 + cell * columns.len().max(1) as u32;
    let height = 120 + cell * rows.len().max(1) as u32;
    both!(stem.as_ref(), (width, height), |root| grid(
        root,
        title,
        rows,
        columns,
        values,
        (low, high)
    ))
}

fn grid<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<f64>],
    (low, high): (f64, f64),
) -> std::result::Result<(), String> {
    let e = |x: DrawingAreaErrorKind<DB::ErrorType>| x.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (nr, nc) = (rows.len().max(1) as f64, columns.len().max(1) as f64);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(270)
        .build_cartesian_2d(0f64..nc, 0f64..nr)
        .map_err(e)?;
    let row_label = row_labels(rows.to_vec());
    let column_names = columns.to_vec();
    let column_label = move |x: &f64| {
        let i = x.floor() as usize;
        if (x - x.floor() - 0.5).abs() < 1e-6 && i < column_names.len() {
            column_names[i].clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(rows.len().max(1) * 2 + 1)
        .y_label_formatter(&row_label)
        .x_labels(columns.len().max(1) * 2 + 1)
        .x_label_formatter(&column_label)
        .x_desc("probe category (numbered as the rows)")
        .draw()
        .map_err(e)?;
    let span = (high - low).max(1e-9);
    for (r, line) in values.iter().enumerate() {
        let y = nr - 1.0 - r as f64;
        for (c, &v) in line.iter().enumerate() {
            let x = c as f64;
            let fill = if v.is_finite() {
                let t = ((v - low) / span).clamp(0.0, 1.0);
                let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t) as u8;
                RGBColor(mix(255, 31), mix(255, 119), mix(255, 180))
            } else {
                RGBColor(220, 220, 220)
            };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x, y), (x + 1.0, y + 1.0)],
                    fill.filled(),
                )))
                .map_err(e)?;
            let text = if v.is_finite() {
                format!("{v:.1}")
            } else {
                "-".to_owned()
            };
            let ink = if v.is_finite() && (v - low) / span > 0.6 {
                WHITE
            } else {
                BLACK
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    text,
                    (x + 0.22, y + 0.62),
                    ("sans-serif", 14).into_font().color(&ink),
                )))
                .map_err(e)?;
        }
    }
    root.present().map_err(e)
}
