//! Line charts of the scale curves, as SVG (plotters' SVG backend: text is left to the viewer's
//! fonts, nothing is rasterised, no system font library is needed).

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One line of a chart.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is laid out.
#[derive(Clone, Copy)]
pub enum XAxis {
    Linear,
    /// Logarithmic (message sizes spanning decades).
    Log,
}

/// Draw `series` into an SVG file at `path`; the y axis starts at 0.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_axis: XAxis,
    series: &[Series],
) -> anyhow::Result<()> {
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let x_min = points().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let y_max = points().map(|p| p.1).fold(0.0, f64::max);
    if !x_min.is_finite() || !x_max.is_finite() {
        anyhow::bail!("nothing to plot in {title}");
    }
    let y_range = 0.0..(y_max * 1.15).max(1e-9);
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (760, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(72);
        match x_axis {
            XAxis::Linear => {
                let pad = ((x_max - x_min) * 0.04).max(0.5);
                let mut chart =
                    builder.build_cartesian_2d((x_min - pad)..(x_max + pad), y_range.clone())?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                lines(&mut chart, series)?;
            }
            XAxis::Log => {
                let mut chart = builder.build_cartesian_2d(
                    ((x_min * 0.8)..(x_max * 1.25)).log_scale(),
                    y_range.clone(),
                )?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .light_line_style(WHITE.mix(0.0))
                    .draw()?;
                lines(&mut chart, series)?;
            }
        }
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot draw {}", path.display()))
}

fn lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error + 'a>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.1.is_finite())
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
        line_chart(&path, "t", "x", "y", XAxis::Log, &series).unwrap();
        line_chart(&path, "t", "x", "y", XAxis::Linear, &series).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.contains("<svg") && svg.contains("<text"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
