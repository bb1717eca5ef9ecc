//! Plots as inline SVG, drawn on the server: they need no script and no external asset, and the
//! page's CSS colours them (classes `allow`, `deny`, `p50`, `p99`).

use std::collections::BTreeMap;

use maud::{Markup, html};

use super::view::Latency;

const WIDTH: f64 = 720.0;

/// Bucket widths tried, in seconds, smallest first: the first that fits the span in
/// [`MAX_BARS`] bars is used.
const STEPS: [u64; 9] = [1, 5, 10, 30, 60, 300, 900, 3600, 86_400];
const MAX_BARS: u64 = 60;
const MIN_BARS: u64 = 30;

/// `HH:MM:SS` (UTC) of a Unix time.
fn clock(secs: u64) -> String {
    let day = secs % 86_400;
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

fn seconds_label(step: u64) -> String {
    match step {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Allowed and denied exchanges over time, as stacked bars. `points`: (Unix seconds, denied).
pub fn decisions(points: &[(u64, bool)]) -> Markup {
    let (Some(first), Some(last)) = (
        points.iter().map(|p| p.0).min(),
        points.iter().map(|p| p.0).max(),
    ) else {
        return html! { p.empty { "No exchanges yet." } };
    };
    let span = last - first + 1;
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span.div_ceil(*s) <= MAX_BARS)
        .unwrap_or(86_400 * 30);
    // At least MIN_BARS bars, ending with the newest: a lone bar does not fill the plot.
    let end = last - last % step;
    let start = (first - first % step).min(end.saturating_sub(step * (MIN_BARS - 1)));
    let bars = ((end - start) / step + 1) as usize;
    let mut counts = vec![(0u32, 0u32); bars];
    for &(at, denied) in points {
        let i = ((at - start) / step) as usize;
        if let Some(c) = counts.get_mut(i) {
            if denied {
                c.1 += 1;
            } else {
                c.0 += 1;
            }
        }
    }
    let max = counts.iter().map(|c| c.0 + c.1).max().unwrap_or(1).max(1);
    let (height, top, left, bottom) = (160.0, 12.0, 36.0, 22.0);
    let plot_h = height - top - bottom;
    let bar_w = (WIDTH - left) / bars as f64;
    let y = |n: u32| top + plot_h - plot_h * f64::from(n) / f64::from(max);
    let allowed: u32 = counts.iter().map(|c| c.0).sum();
    let denied: u32 = counts.iter().map(|c| c.1).sum();
    html! {
        figure.plot {
            svg viewBox={ "0 0 " (WIDTH) " " (height) } role="img"
                aria-label={ "Decisions over time: " (allowed) " allowed, " (denied) " denied, in bars of " (seconds_label(step)) } {
                line.axis x1=(left) y1=(top + plot_h) x2=(WIDTH) y2=(top + plot_h) {}
                text.tick x=(left - 4.0) y=(top + 8.0) text-anchor="end" { (max) }
                text.tick x=(left - 4.0) y=(top + plot_h) text-anchor="end" { "0" }
                @for (i, (allow, deny)) in counts.iter().enumerate() {
                    @let x = left + bar_w * i as f64 + bar_w * 0.1;
                    @let w = (bar_w * 0.8).max(1.0);
                    @if *allow > 0 {
                        rect.allow x=(x) y=(y(*allow)) width=(w) height=(top + plot_h - y(*allow)) {
                            title { (clock(start + step * i as u64)) ": " (allow) " allowed" }
                        }
                    }
                    @if *deny > 0 {
                        @let base = y(*allow);
                        rect.deny x=(x) y=(base - (top + plot_h - y(*deny))) width=(w) height=(top + plot_h - y(*deny)) {
                            title { (clock(start + step * i as u64)) ": " (deny) " denied" }
                        }
                    }
                }
                text.tick x=(left) y=(height - 6.0) { (clock(start)) " UTC" }
                text.tick x=(WIDTH) y=(height - 6.0) text-anchor="end" { (clock(start + step * bars as u64)) }
            }
            figcaption {
                span.key.allow { "allowed " (allowed) }
                " "
                span.key.deny { "denied " (denied) }
                " · bars of " (seconds_label(step))
            }
        }
    }
}

/// A duration in seconds, for people.
pub fn duration(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 0.001 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.0} µs", seconds * 1e6)
    }
}

/// p50 and p99 per label, as pairs of horizontal bars on one linear scale.
pub fn latencies(title: &str, rows: &BTreeMap<String, Latency>) -> Markup {
    if rows.is_empty() {
        return html! { p.empty { "No " (title) " measured yet." } };
    }
    let max = rows
        .values()
        .map(|l| l.p99.max(l.p50))
        .fold(0.0_f64, f64::max)
        .max(1e-9);
    let (left, right, row_h) = (130.0, 250.0, 26.0);
    let height = row_h * rows.len() as f64 + 8.0;
    let plot_w = WIDTH - left - right;
    html! {
        figure.plot {
            svg viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(title) {
                @for (i, (name, l)) in rows.iter().enumerate() {
                    @let y = 4.0 + row_h * i as f64;
                    text.label x=(left - 6.0) y=(y + 15.0) text-anchor="end" { (name) }
                    rect.p99 x=(left) y=(y + 3.0) width=((plot_w * l.p99 / max).max(1.0)) height="9" {
                        title { (name) " p99 " (duration(l.p99)) }
                    }
                    rect.p50 x=(left) y=(y + 13.0) width=((plot_w * l.p50 / max).max(1.0)) height="9" {
                        title { (name) " p50 " (duration(l.p50)) }
                    }
                    text.tick x=(WIDTH - right + 6.0) y=(y + 15.0) {
                        "p50 " (duration(l.p50)) " · p99 " (duration(l.p99)) " · n=" (l.count)
                    }
                }
            }
            figcaption { span.key.p50 { "p50" } " " span.key.p99 { "p99" } " · " (title) " since the gateway started" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_bucketed_and_counted() {
        let svg = decisions(&[(100, false), (101, true), (160, false)]).into_string();
        assert!(svg.contains("allowed 2"), "{svg}");
        assert!(svg.contains("denied 1"), "{svg}");
        assert!(svg.contains("<rect class=\"deny\""), "{svg}");
        assert!(decisions(&[]).into_string().contains("No exchanges"));
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.000_042), "42 µs");
        assert_eq!(duration(0.0123), "12.30 ms");
        assert_eq!(duration(2.5), "2.50 s");
    }
}
