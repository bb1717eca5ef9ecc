//! Scores the `pii` auditor on a labelled file written by `bench/quality/pii/extract.py`.
//!
//! ```sh
//! cargo run --release -p pii --example eval -- OUT_DIR/pii.jsonl [--errors N] [--split tune]
//! ```
//!
//! Each line runs through `Pii::observe` exactly as the component would (the same `Input`
//! parsing), and its `pii_entities` are compared with the line's labels. Printed: precision,
//! recall and F1 per kind, per source and per split, and microseconds per call (natively; the
//! component's cost through the host is measured with `lucid auditor test`). `--errors N`
//! prints up to N misjudged lines of the `tune` split only: the held-out split is for
//! reporting, never for reading.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use lucid_auditor_sdk::serde_json::{self, Value, json};
use lucid_auditor_sdk::{Auditor, Input, Phase};
use pii::{Kind, Pii};

#[derive(Default, Clone, Copy)]
struct Tally {
    tp: u64,
    fp: u64,
    fn_: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }

    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

struct Line {
    source: String,
    split: String,
    phase: Phase,
    text: String,
    labels: Vec<String>,
}

fn parse_line(line: &str) -> Result<Line, String> {
    let value: Value = serde_json::from_str(line).map_err(|err| format!("bad line: {err}"))?;
    let field = |name: &str| {
        value[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("line without '{name}'"))
    };
    let phase = match field("phase")?.as_str() {
        "request" => Phase::Request,
        "response" => Phase::Response,
        other => return Err(format!("unknown phase '{other}'")),
    };
    let labels = value["labels"]
        .as_array()
        .ok_or("line without 'labels'")?
        .iter()
        .filter_map(|label| label.as_str().map(str::to_owned))
        .collect();
    Ok(Line {
        source: field("source")?,
        split: field("split")?,
        phase,
        text: field("text")?,
        labels,
    })
}

/// The request and response bodies a gateway would hand the auditor for this line.
fn bodies(line: &Line) -> (String, Option<String>) {
    match line.phase {
        Phase::Response => (
            json!({ "messages": [{ "role": "user", "content": "Can you help me with this?" }] })
                .to_string(),
            Some(
                json!({ "choices": [{ "index": 0, "message": { "role": "assistant", "content": line.text } }] })
                    .to_string(),
            ),
        ),
        _ => (
            json!({ "messages": [{ "role": "user", "content": line.text }] }).to_string(),
            None,
        ),
    }
}

fn observe(phase: Phase, request: &str, response: Option<&str>) -> Vec<String> {
    let mut input = Input::new(phase, request).expect("a valid request");
    if let Some(response) = response {
        input = input.with_response(response).expect("a valid response");
    }
    let claims = Pii::observe(&input).expect("observe succeeds");
    claims
        .iter()
        .find(|claim| claim.name() == "pii_entities")
        .and_then(|claim| claim.as_string_list())
        .map(<[String]>::to_vec)
        .unwrap_or_default()
}

/// `faker==40.54.0:phone_number:de_DE` → `faker==40.54.0:phone_number`.
fn source_group(source: &str) -> String {
    source.splitn(3, ':').take(2).collect::<Vec<_>>().join(":")
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut show_errors = 0usize;
    let mut only_split: Option<String> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--errors" => {
                show_errors = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--errors needs a number")?;
            }
            "--split" => only_split = Some(args.next().ok_or("--split needs a name")?),
            _ => path = Some(arg),
        }
    }
    let path = path.ok_or("usage: eval PII_JSONL [--errors N] [--split tune|heldout]")?;
    let text = std::fs::read_to_string(&path).map_err(|err| format!("{path}: {err}"))?;
    let lines = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(parse_line)
        .collect::<Result<Vec<_>, _>>()?;

    let mut per_kind: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut per_source: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut total_us = 0u128;
    let mut calls = 0u128;
    let mut bytes = 0usize;
    for line in &lines {
        if only_split
            .as_ref()
            .is_some_and(|split| *split != line.split)
        {
            continue;
        }
        let (request, response) = bodies(line);
        let started = Instant::now();
        let predicted = observe(line.phase, &request, response.as_deref());
        total_us += started.elapsed().as_micros();
        calls += 1;
        bytes += line.text.len();
        let mut line_tally = Tally::default();
        for kind in Kind::ALL.map(Kind::as_str) {
            let truth = line.labels.iter().any(|label| label == kind);
            let said = predicted.iter().any(|label| label == kind);
            let tally = Tally {
                tp: u64::from(truth && said),
                fp: u64::from(!truth && said),
                fn_: u64::from(truth && !said),
            };
            for split in [line.split.as_str(), "all"] {
                per_kind
                    .entry((split.to_owned(), kind.to_owned()))
                    .or_default()
                    .add(tally);
            }
            line_tally.add(tally);
        }
        let sorted_labels: Vec<&str> = line.labels.iter().map(String::as_str).collect();
        let correct = predicted
            .iter()
            .map(String::as_str)
            .eq(sorted_labels.iter().copied());
        // Negatives count per source as true negatives or false positives.
        let source_tally = Tally {
            tp: u64::from(correct),
            fp: u64::from(!correct && line.labels.is_empty()),
            fn_: u64::from(!correct && !line.labels.is_empty()),
        };
        per_source
            .entry((line.split.clone(), source_group(&line.source)))
            .or_default()
            .add(source_tally);
        let _ = line_tally;
        if !correct && line.split == "tune" && errors.len() < show_errors {
            errors.push(format!(
                "[{}] want {:?} got {:?}: {}",
                line.source,
                line.labels,
                predicted,
                line.text.replace('\n', "⏎")
            ));
        }
    }

    let mut out = String::new();
    for split in ["tune", "heldout", "all"] {
        let rows: Vec<_> = per_kind
            .iter()
            .filter(|((s, _), tally)| s == split && tally.tp + tally.fp + tally.fn_ > 0)
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\nsplit {split}: per kind (lines; a line counts once per kind)"
        );
        let _ = writeln!(
            out,
            "{:<14} {:>6} {:>6} {:>6} {:>9} {:>7} {:>6}",
            "kind", "tp", "fp", "fn", "precision", "recall", "f1"
        );
        for ((_, kind), tally) in rows {
            let _ = writeln!(
                out,
                "{:<14} {:>6} {:>6} {:>6} {:>9.3} {:>7.3} {:>6.3}",
                kind,
                tally.tp,
                tally.fp,
                tally.fn_,
                tally.precision(),
                tally.recall(),
                tally.f1()
            );
        }
    }
    let _ = writeln!(
        out,
        "\nper source (a line is right when its kinds are exactly the labels)"
    );
    let _ = writeln!(
        out,
        "{:<8} {:<52} {:>6} {:>8} {:>8}",
        "split", "source", "lines", "right", "share"
    );
    for ((split, source), tally) in &per_source {
        let lines = tally.tp + tally.fp + tally.fn_;
        let _ = writeln!(
            out,
            "{:<8} {:<52} {:>6} {:>8} {:>8.3}",
            split,
            source,
            lines,
            tally.tp,
            ratio(tally.tp, lines)
        );
    }
    let _ = writeln!(
        out,
        "\ncalls {calls}, mean {:.1} µs per call (native, mean {:.0} bytes per text)",
        total_us as f64 / calls.max(1) as f64,
        bytes as f64 / calls.max(1) as f64
    );
    // One 2 KB message made of the file's own texts, the size the budget is set for.
    let mut message = String::new();
    for line in &lines {
        if message.len() >= 2048 {
            break;
        }
        message.push_str(&line.text);
        message.push(' ');
    }
    let request = json!({ "messages": [{ "role": "user", "content": message }] }).to_string();
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(observe(Phase::Request, &request, None));
    }
    let per_call = started.elapsed().as_micros() as f64 / f64::from(rounds);
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(pii::scan(&message, pii::KindSet::ALL));
    }
    let scanning = started.elapsed().as_micros() as f64 / f64::from(rounds);
    let _ = writeln!(
        out,
        "{per_call:.1} µs per call on a {}-byte message (native; {scanning:.1} µs of it scanning)",
        message.len()
    );
    print!("{out}");
    for error in errors {
        println!("{error}");
    }
    Ok(())
}
