//! Line charts of the scale curves, as SVG (plotters' SVG backend: text is left to the viewer's
//! fonts, nothing is rasterised, no system font library is needed).

use std::path::Path;

use anyhow::Context;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How an axis is laid out.
#[derive(Clone, Copy)]
pub enum Scale {
    /// Linear, from 0 for y.
    Linear,
    /// Logarithmic (values spanning decades).
    Log,
}

/// Distinct, readable line colours (Tableau 10).
const COLORS: &[RGBColor] = &[
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draw `series` into an SVG file at `path`.
pub fn line_chart(
    path: &Path,
    title: &str,
    (x_label, x_scale): (&str, Scale),
    (y_label, y_scale): (&str, Scale),
    series: &[Series],
) -> anyhow::Result<()> {
    let finite = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
    };
    let x_min = finite().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = finite().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_min = finite().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let y_max = finite().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if !x_min.is_finite() || !y_max.is_finite() {
        anyhow::bail!("nothing to plot in {title}");
    }
    let pad = ((x_max - x_min) * 0.04).max(0.5);
    let linear_x = (x_min - pad)..(x_max + pad);
    let log_x = (x_min * 0.8)..(x_max * 1.25);
    let linear_y = 0.0..(y_max * 1.15).max(1e-9);
    let log_y = (y_min.max(1e-9) * 0.7)..(y_max * 1.5).max(1e-9);
    let labels = Labels {
        title,
        x: x_label,
        y: y_label,
    };
    let drawn = match (x_scale, y_scale) {
        (Scale::Linear, Scale::Linear) => draw(path, &labels, linear_x, linear_y, series),
        (Scale::Log, Scale::Linear) => draw(path, &labels, log_x.log_scale(), linear_y, series),
        (Scale::Linear, Scale::Log) => draw(path, &labels, linear_x, log_y.log_scale(), series),
        (Scale::Log, Scale::Log) => {
            draw(path, &labels, log_x.log_scale(), log_y.log_scale(), series)
        }
    };
    drawn
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot draw {}", path.display()))
}

struct Labels<'a> {
    title: &'a str,
    x: &'a str,
    y: &'a str,
}

/// A compact tick label: no decimals for large values, no trailing zeros.
fn tick(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.round() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn draw<X, Y>(
    path: &Path,
    labels: &Labels,
    x: X,
    y: Y,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error>>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let root = SVGBackend::new(path, (760, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(labels.title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(labels.x)
        .y_desc(labels.y)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_without_fonts() {
        let dir = std::env::temp_dir().join(format!("xtask-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        let series = [Series {
            name: "a".into(),
            points: vec![(1.0, 2.0), (10.0, 3.0), (100.0, 5.0)],
        }];
        line_chart(&path, "t", ("x", Scale::Log), ("y", Scale::Log), &series).unwrap();
        line_chart(
            &path,
            "t",
            ("x", Scale::Linear),
            ("y", Scale::Linear),
            &series,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
