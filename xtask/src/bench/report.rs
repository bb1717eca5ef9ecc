//! What a benchmark leaves behind: tables on the console, JSON and Markdown under target/bench/,
//! the same Markdown (and plots) under bench/results/ in the repository, and BENCHMARKS.md's
//! generated part rebuilt from them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use serde::Serialize;

use super::compare::Row;

/// A table printed to the console (aligned) or written as Markdown.
pub struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Leading columns that hold text (left-aligned); the others hold figures.
    text_columns: usize,
}

impl Table {
    pub fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            text_columns: 1,
        }
    }

    /// Left-align the first `n` columns (text) instead of only the first.
    pub fn text_columns(mut self, n: usize) -> Table {
        self.text_columns = n;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Text columns left-aligned, figures right-aligned.
    pub fn console(&self) -> String {
        let cols = self.head.len();
        let width = |i: usize| {
            std::iter::once(&self.head)
                .chain(&self.rows)
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..cols).map(width).collect();
        let line = |cells: &Vec<String>| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let pad = widths[i].saturating_sub(c.chars().count());
                    if i < self.text_columns {
                        format!("{c}{}", " ".repeat(pad))
                    } else {
                        format!("{}{c}", " ".repeat(pad))
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        std::iter::once(&self.head)
            .chain(&self.rows)
            .map(line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n", self.head.join(" | "));
        out += &format!(
            "|{}\n",
            (0..self.head.len())
                .map(|i| if i < self.text_columns {
                    "---|"
                } else {
                    "---:|"
                })
                .collect::<String>()
        );
        for row in &self.rows {
            out += &format!("| {} |\n", row.join(" | "));
        }
        out
    }
}

pub fn ms(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v < 1.0 {
        format!("{v:.3} ms")
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// A rate or count with thousands separators.
pub fn count(v: f64) -> String {
    if v.is_nan() {
        return "—".into();
    }
    let digits = format!("{:.0}", v.round());
    let (sign, digits) = digits
        .strip_prefix('-')
        .map_or(("", digits.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

pub fn us(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{} µs", count(v)))
}

pub fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "—".into(),
        |b| format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0)),
    )
}

pub fn ratio(v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        "—".into()
    } else if v < 0.1 {
        format!("{v:.3}×")
    } else {
        format!("{v:.2}×")
    }
}

/// The side-by-side table of one concurrency: every target against the direct mock and the
/// nginx pass-through.
pub fn comparison(rows: &[Row], concurrency: u32, rss: &BTreeMap<String, u64>) -> Table {
    let mut table = Table::new(&[
        "target",
        "p50",
        "p99",
        "added p50",
        "req/s",
        "× direct",
        "× nginx proxy",
        "CPU / req",
        "peak RSS",
        "failed",
    ]);
    let at: Vec<&Row> = rows
        .iter()
        .filter(|r| r.concurrency == concurrency)
        .collect();
    let find = |key: &str| at.iter().find(|r| r.target == key).copied();
    let direct = find("direct");
    let nginx = find("nginx-proxy");
    for r in &at {
        let added = direct.map_or(f64::NAN, |d| r.p50_ms - d.p50_ms);
        table.row(vec![
            r.label.clone(),
            ms(r.p50_ms),
            ms(r.p99_ms),
            if r.target == "direct" {
                "—".into()
            } else {
                ms(added)
            },
            count(r.rps),
            direct.map_or("—".into(), |d| ratio(r.rps / d.rps)),
            nginx.map_or("—".into(), |n| ratio(r.rps / n.rps)),
            us(r.cpu_us_per_req),
            mib(rss.get(&r.target).copied()),
            count(r.failed as f64),
        ]);
    }
    table
}

/// One of the performance goals, checked against a run.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub target: String,
    pub what: String,
    pub measured: String,
    pub bound: String,
    pub met: bool,
}

/// The goals of issue 17 for Lucid full and bare (CPU per request at c=16).
pub fn goals(rows: &[Row]) -> Vec<Goal> {
    let find = |key: &str, c: u32| rows.iter().find(|r| r.target == key && r.concurrency == c);
    let mut goals = Vec::new();
    let added = |key: &str| match (find(key, 1), find("direct", 1)) {
        (Some(r), Some(d)) => Some(r.p50_ms - d.p50_ms),
        _ => None,
    };
    let cpu_goal = |goals: &mut Vec<Goal>, key: &str, name: &str, bound: f64| {
        if let Some(cpu) = find(key, 16).and_then(|r| r.cpu_us_per_req) {
            goals.push(Goal {
                target: name.into(),
                what: "server CPU per request (c=16)".into(),
                measured: us(Some(cpu)),
                bound: format!("≤ {bound:.0} µs"),
                met: cpu <= bound,
            });
        }
    };
    let added_goal = |goals: &mut Vec<Goal>, key: &str, name: &str, bound: f64| {
        if let Some(a) = added(key) {
            goals.push(Goal {
                target: name.into(),
                what: "added p50 over the direct mock (c=1)".into(),
                measured: ms(a),
                bound: format!("≤ {bound} ms"),
                met: a <= bound,
            });
        }
    };
    cpu_goal(&mut goals, "lucid-full", "Lucid full", 250.0);
    if let (Some(l), Some(n)) = (find("lucid-full", 16), find("nginx-proxy", 16)) {
        let r = l.rps / n.rps;
        goals.push(Goal {
            target: "Lucid full".into(),
            what: "throughput vs nginx proxy_pass (c=16)".into(),
            measured: ratio(r),
            bound: "≥ 0.2×".into(),
            met: r >= 0.2,
        });
    }
    added_goal(&mut goals, "lucid-full", "Lucid full", 0.4);
    if let Some(l) = find("lucid-full", 16) {
        let r = l.p99_ms / l.p50_ms;
        goals.push(Goal {
            target: "Lucid full".into(),
            what: "p99 / p50 (c=16)".into(),
            measured: ratio(r),
            bound: "≤ 3×".into(),
            met: r <= 3.0,
        });
    }
    cpu_goal(&mut goals, "lucid-bare", "Lucid bare", 100.0);
    added_goal(&mut goals, "lucid-bare", "Lucid bare", 0.25);
    goals
}

/// The goals as console lines, one per Lucid target.
pub fn goal_lines(goals: &[Goal]) -> Vec<String> {
    let mut names: Vec<&str> = Vec::new();
    for g in goals {
        if !names.contains(&g.target.as_str()) {
            names.push(&g.target);
        }
    }
    names
        .iter()
        .map(|name| {
            let parts: Vec<String> = goals
                .iter()
                .filter(|g| g.target == *name)
                .map(|g| {
                    format!(
                        "{} {} {}: {}",
                        g.what,
                        g.measured,
                        g.bound,
                        if g.met { "met" } else { "NOT MET" }
                    )
                })
                .collect();
            format!("issue 17 goals, {name}: {}", parts.join("; "))
        })
        .collect()
}

pub fn goals_table(goals: &[Goal]) -> Table {
    let mut table = Table::new(&["target", "goal", "measured", "bound", "status"]).text_columns(2);
    for g in goals {
        table.row(vec![
            g.target.clone(),
            g.what.clone(),
            g.measured.clone(),
            g.bound.clone(),
            if g.met { "met" } else { "not met" }.into(),
        ]);
    }
    table
}

/// Where reports go: target/bench (every run) and bench/results (committed).
pub fn target_dir() -> PathBuf {
    crate::root().join("target/bench")
}

pub fn results_dir() -> PathBuf {
    crate::root().join("bench/results")
}

/// Write `NAME.json` and `NAME.md` to target/bench/ and bench/results/, then rebuild the
/// generated part of BENCHMARKS.md.
pub fn publish(name: &str, json: &serde_json::Value, markdown: &str) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(json)?;
    for dir in [target_dir(), results_dir()] {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write(&dir.join(format!("{name}.json")), &text)?;
        write(&dir.join(format!("{name}.md")), markdown)?;
    }
    eprintln!(
        "xtask: wrote {}/{name}.{{json,md}} and bench/results/{name}.{{json,md}}",
        target_dir().display()
    );
    update_benchmarks_md()
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

const BEGIN: &str = "<!-- generated by `cargo xtask bench`: begin -->";
const END: &str = "<!-- generated by `cargo xtask bench`: end -->";
/// The sections of bench/results/, in the order BENCHMARKS.md shows them.
const SECTIONS: &[&str] = &["gateway", "peers", "scale"];

/// Replace the generated part of BENCHMARKS.md with the sections in bench/results/.
fn update_benchmarks_md() -> anyhow::Result<()> {
    let path = crate::root().join("BENCHMARKS.md");
    let Ok(doc) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        return Ok(());
    };
    let mut generated = String::new();
    for section in SECTIONS {
        if let Ok(md) = std::fs::read_to_string(results_dir().join(format!("{section}.md"))) {
            generated += "\n";
            generated += md.trim_end();
            generated += "\n";
        }
    }
    let updated = format!("{}{BEGIN}\n{generated}\n{}", &doc[..start], &doc[end..]);
    write(&path, &updated)
}

/// The machine and the software measured, for the head of every report.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub date: String,
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub lucid_rev: String,
    pub rustc: String,
    pub network: String,
    pub versions: BTreeMap<String, String>,
}

impl Environment {
    pub fn collect(network: &str, versions: BTreeMap<String, String>) -> Environment {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .unwrap_or(0.0);
        let output = |program: &str, args: &[&str]| {
            Command::new(program)
                .args(args)
                .current_dir(crate::root())
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let rev = output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_default();
        // The reports themselves do not make the source modified.
        let dirty = output(
            "git",
            &[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!BENCHMARKS.md",
                ":!bench/results",
            ],
        )
        .is_some_and(|s| !s.is_empty());
        Environment {
            date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kib / (1024.0 * 1024.0),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            lucid_rev: if dirty {
                format!("{rev} (modified)")
            } else {
                rev
            },
            rustc: output("rustc", &["--version"]).unwrap_or_default(),
            network: network.to_string(),
            versions,
        }
    }

    /// Markdown lines describing the run.
    pub fn markdown(&self) -> String {
        let versions = self
            .versions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "- run: {}, lucid {}, {}\n- machine: {}, {} cores, {:.1} GiB, Linux {}\n- network: {}\n- software: {}\n",
            self.date,
            self.lucid_rev,
            self.rustc,
            self.cpu,
            self.cores,
            self.memory_gib,
            self.kernel,
            self.network,
            versions
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(71000.4), "71,000");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1234567.0), "1,234,567");
    }

    #[test]
    fn tables_render() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["x".into(), "1".into()]);
        assert_eq!(t.markdown(), "| a | b |\n|---|---:|\n| x | 1 |\n");
        assert_eq!(t.console(), "a  b\nx  1");
    }
}
