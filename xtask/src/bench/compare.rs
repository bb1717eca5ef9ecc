//! Side-by-side measurement: every target under the same load, in interleaved rounds (each
//! round goes once through every body, concurrency and target), so that drift of the machine
//! spreads over all targets alike. Each row also reads the target's CPU time before and after.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

use super::load::{Load, Oha, Request};
use super::procstat;
use super::targets::Target;

/// The request of every row unless a benchmark varies it: a short chat with a system prompt.
pub const CHAT_USER: &str = "Summarise our meeting notes: we agreed to ship on Friday and to write the release notes together. Contact me at the usual address.";

/// Content that every guardrail in the comparison refuses (a test payment card number).
pub const CARD_USER: &str = "Please charge my card 4111 1111 1111 1111 for the order.";

/// A chat completion request for `mock-1` with `user` as the user message.
pub fn chat_body(user: &str, stream: bool) -> String {
    let mut body = serde_json::json!({
        "model": "mock-1",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": user},
        ],
    });
    if stream {
        body["stream"] = serde_json::Value::Bool(true);
    }
    body.to_string()
}

/// How long and how often rows run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub seconds: f64,
    pub rounds: u32,
    pub concurrency: Vec<u32>,
}

/// A request body the rows are run with, kept in a file for oha.
pub struct Body {
    pub key: String,
    pub path: PathBuf,
}

impl Body {
    pub fn write(dir: &Path, key: &str, json: &str) -> anyhow::Result<Body> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("body-{key}.json"));
        std::fs::write(&path, json).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Body {
            key: key.to_string(),
            path,
        })
    }
}

/// One measured row of one round.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub target: String,
    pub body: String,
    pub concurrency: u32,
    pub round: u32,
    /// Server CPU (user + system) over the row.
    pub cpu_seconds: f64,
    pub cpu_us_per_req: Option<f64>,
    #[serde(flatten)]
    pub load: Load,
}

/// A target's figures at one body and concurrency over all rounds: medians of the rounds'
/// percentiles and rates; CPU is the total over the total requests.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub target: String,
    pub label: String,
    pub body: String,
    pub concurrency: u32,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub rps: f64,
    pub cpu_us_per_req: Option<f64>,
    pub ok: u64,
    pub failed: u64,
    /// (lowest, highest) over the rounds.
    pub p50_ms_range: (f64, f64),
    pub rps_range: (f64, f64),
}

/// Check that a target answers a chat request (and refuses a card number when it has a
/// guardrail) before any load is sent to it.
pub fn probe(target: &Target) -> anyhow::Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let send = |user: &str| -> anyhow::Result<(u16, String)> {
        let mut req = agent.post(&target.url);
        for (name, value) in &target.headers {
            req = req.header(name, value);
        }
        let mut resp = req
            .header("content-type", "application/json")
            .send(chat_body(user, false))
            .with_context(|| format!("{}: cannot POST {}", target.label, target.url))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((status, text))
    };
    let (status, text) = send(CHAT_USER)?;
    if status != 200 || !text.contains("\"choices\"") {
        bail!(
            "{} does not answer a chat request: HTTP {status} {}\nits last output:\n{}",
            target.label,
            text.chars().take(400).collect::<String>(),
            target.server.tail()
        );
    }
    if target.refuses_cards {
        let (status, text) = send(CARD_USER)?;
        if status == 200 {
            bail!(
                "{}: its guardrail let a card number through (HTTP 200 {})",
                target.label,
                text.chars().take(200).collect::<String>()
            );
        }
    }
    Ok(())
}

/// Load `target` for `seconds` at `concurrency` and read its CPU time around it.
pub fn measure(
    oha: &Oha,
    target: &Target,
    body: &Body,
    concurrency: u32,
    seconds: f64,
) -> anyhow::Result<(Load, f64)> {
    target.server.check_alive()?;
    let before = procstat::cpu_seconds(target.pid())?;
    let load = oha.run(
        &Request {
            url: &target.url,
            headers: &target.headers,
            body: &body.path,
        },
        concurrency,
        seconds,
    )?;
    let cpu = procstat::cpu_seconds(target.pid())? - before;
    target.server.check_alive()?;
    Ok((load, cpu))
}

/// Probe and warm every target, then run the rounds; prints one line per row as it goes.
pub fn run(
    oha: &Oha,
    targets: &[Target],
    bodies: &[Body],
    plan: &Plan,
) -> anyhow::Result<Vec<Sample>> {
    for target in targets {
        probe(target)?;
    }
    let warm = (plan.seconds / 5.0).clamp(0.5, 2.0);
    for target in targets {
        for body in bodies {
            measure(oha, target, body, 4, warm)
                .with_context(|| format!("warming up {}", target.label))?;
        }
    }
    let mut samples = Vec::new();
    for round in 1..=plan.rounds {
        for body in bodies {
            for &concurrency in &plan.concurrency {
                for target in targets {
                    let (load, cpu) = measure(oha, target, body, concurrency, plan.seconds)
                        .with_context(|| {
                            format!("{} at c={concurrency}, body {}", target.label, body.key)
                        })?;
                    let sample = Sample {
                        target: target.key.clone(),
                        body: body.key.clone(),
                        concurrency,
                        round,
                        cpu_seconds: cpu,
                        cpu_us_per_req: (load.answered > 0)
                            .then(|| cpu * 1e6 / load.answered as f64),
                        load,
                    };
                    eprintln!("{}", progress(plan, target, &sample, bodies.len() > 1));
                    samples.push(sample);
                }
            }
        }
    }
    Ok(samples)
}

fn progress(plan: &Plan, target: &Target, s: &Sample, show_body: bool) -> String {
    let body = if show_body {
        format!(" {}", s.body)
    } else {
        String::new()
    };
    let failed = if s.load.failed > 0 {
        format!(
            "  FAILED {} ({:?} {:?})",
            s.load.failed, s.load.statuses, s.load.errors
        )
    } else {
        String::new()
    };
    format!(
        "  round {}/{} c={:<3}{body} {:<44} p50 {:>8.3} ms  p99 {:>8.3} ms  {:>9.0} req/s  CPU {:>8} µs/req{failed}",
        s.round,
        plan.rounds,
        s.concurrency,
        target.label,
        s.load.p50_ms,
        s.load.p99_ms,
        s.load.rps,
        s.cpu_us_per_req
            .map_or_else(|| "—".to_string(), |c| format!("{c:.0}")),
    )
}

/// One [`Row`] per target, body and concurrency, in the order of `targets`.
pub fn summarize(targets: &[Target], samples: &[Sample]) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut keys: Vec<(&str, u32)> = Vec::new();
    for s in samples {
        if !keys.contains(&(s.body.as_str(), s.concurrency)) {
            keys.push((s.body.as_str(), s.concurrency));
        }
    }
    for (body, concurrency) in keys {
        for target in targets {
            let of: Vec<&Sample> = samples
                .iter()
                .filter(|s| {
                    s.target == target.key && s.body == body && s.concurrency == concurrency
                })
                .collect();
            if of.is_empty() {
                continue;
            }
            let values = |f: fn(&Sample) -> f64| of.iter().map(|s| f(s)).collect::<Vec<_>>();
            let ok: u64 = of.iter().map(|s| s.load.ok).sum();
            let answered: u64 = of.iter().map(|s| s.load.answered).sum();
            let cpu: f64 = of.iter().map(|s| s.cpu_seconds).sum();
            let p50 = values(|s| s.load.p50_ms);
            let rps = values(|s| s.load.rps);
            rows.push(Row {
                target: target.key.clone(),
                label: target.label.clone(),
                body: body.to_string(),
                concurrency,
                p50_ms: median(&p50),
                p99_ms: median(&values(|s| s.load.p99_ms)),
                rps: median(&rps),
                cpu_us_per_req: (answered > 0).then(|| cpu * 1e6 / answered as f64),
                ok,
                failed: of.iter().map(|s| s.load.failed).sum(),
                p50_ms_range: range(&p50),
                rps_range: range(&rps),
            });
        }
    }
    rows
}

/// For every row that had answers other than HTTP 200: how many, which statuses or errors, and
/// the target's last warning (e.g. Lucid's `auditor failed: exceeded its 50 ms deadline`).
pub fn failure_notes(targets: &[Target], samples: &[Sample]) -> Vec<String> {
    let mut notes = Vec::new();
    for target in targets {
        let of: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.target == target.key && s.load.failed > 0)
            .collect();
        if of.is_empty() {
            continue;
        }
        let mut what: std::collections::BTreeMap<String, u64> = Default::default();
        for s in &of {
            for (status, n) in &s.load.statuses {
                if status != "200" {
                    *what.entry(format!("HTTP {status}")).or_default() += n;
                }
            }
            for (error, n) in &s.load.errors {
                if error != "aborted due to deadline" {
                    *what.entry(error.clone()).or_default() += n;
                }
            }
        }
        let mut rows: Vec<String> = Vec::new();
        for s in &of {
            let row = format!("{} c={}", s.body, s.concurrency);
            if !rows.contains(&row) {
                rows.push(row);
            }
        }
        let what: Vec<String> = what.iter().map(|(w, n)| format!("{n} × {w}")).collect();
        let tail = target.server.tail();
        let warning = tail
            .lines()
            .rev()
            .find(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(|l| {
                // Drop the timestamp.
                let l = l.trim();
                l.split_once(' ')
                    .map_or(l, |(_, rest)| rest.trim())
                    .to_string()
            });
        notes.push(format!(
            "{} answered {} (rows {}){}",
            target.label,
            what.join(", "),
            rows.join(", "),
            warning.map_or(String::new(), |w| format!("; its last warning: `{w}`"))
        ));
    }
    notes
}

pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn bodies_are_chat_requests() {
        let body: serde_json::Value = serde_json::from_str(&chat_body("hi", true)).unwrap();
        assert_eq!(body["messages"][1]["content"], "hi");
        assert_eq!(body["stream"], true);
    }
}
