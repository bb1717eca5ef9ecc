//! `lucid auditor eval`: score an auditor, the real component in the sandbox, on labelled data.
//!
//! The data is JSON Lines, one example a line (the format of `bench/quality/README.md`):
//! `{"source", "split", "phase", "text", "labels": [...]}`. Each text becomes a chat request with
//! one user message (phase `request`) or a completion answering a fixed question (phase
//! `response`); the auditor's claims become predicted labels by `--predict` rules; every label is
//! scored as its own binary task per example (precision, recall, F1), overall, per source and
//! per split. A call that fails (trap, timeout, error) is counted and scored as predicting every
//! label, as the gateway fails such an exchange closed. The cost per call is measured on the
//! examples and on a 2 KB message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::LimitArgs;
use super::{emit, read_file};
use lucid::runtime::claim::{ClaimValue, Phase};
use lucid::runtime::plugin::{Auditor, ObservationInput};
use lucid::runtime::sandbox::{EngineOptions, Sandbox};

/// At most this many examples are read from one file.
const MAX_EXAMPLES: usize = 200_000;
/// The size of the message the per-call cost is quoted for.
const COST_MESSAGE_BYTES: usize = 2048;
/// Calls timed on that message.
const COST_CALLS: usize = 200;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The auditor component.
    pub file: PathBuf,
    /// Labelled examples, JSON Lines: {"source", "split", "phase", "text", "labels": [...]}.
    #[arg(long, value_name = "DATA.jsonl")]
    pub data: PathBuf,
    /// How claims become predicted labels (repeatable): `CLAIM` for a string-list claim (its items
    /// are the labels), `CLAIM=LABEL` for a boolean claim (LABEL when it is true).
    #[arg(long = "predict", value_name = "CLAIM[=LABEL]", required = true)]
    pub predict: Vec<String>,
    /// Set an auditor setting, `name=value` (repeatable), as for `auditor test`.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub settings: Vec<String>,
    /// Score only the examples of this split (`tune` or `heldout`); all when absent.
    #[arg(long)]
    pub split: Option<String>,
    /// Print each wrongly judged example (its source, expected and predicted labels, the text's
    /// first 200 characters) to stderr. For the tune split only: looking at held-out mistakes
    /// is tuning on them.
    #[arg(long)]
    pub show_errors: bool,
    #[command(flatten)]
    pub limits: LimitArgs,
}

#[derive(Debug, Deserialize)]
struct Example {
    source: String,
    #[serde(default = "tune")]
    split: String,
    #[serde(default = "request")]
    phase: String,
    text: String,
    #[serde(default)]
    labels: Vec<String>,
}

fn tune() -> String {
    "tune".into()
}

fn request() -> String {
    "request".into()
}

/// One rule of `--predict`.
enum Rule {
    List(String),
    Flag { claim: String, label: String },
}

impl Rule {
    fn parse(spec: &str) -> anyhow::Result<Rule> {
        let valid = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
        match spec.split_once('=') {
            Some((claim, label)) if valid(claim) && valid(label) => Ok(Rule::Flag {
                claim: claim.into(),
                label: label.into(),
            }),
            None if valid(spec) => Ok(Rule::List(spec.into())),
            _ => bail!("--predict {spec:?}: expected CLAIM or CLAIM=LABEL"),
        }
    }
}

/// Counts of one binary task.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Counts {
    tp: u64,
    fp: u64,
    fn_: u64,
    tn: u64,
}

impl Counts {
    fn add(&mut self, expected: bool, predicted: bool) {
        match (expected, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    fn report(&self) -> Value {
        let ratio = |num: u64, den: u64| (den > 0).then(|| round(num as f64 / den as f64));
        let precision = ratio(self.tp, self.tp + self.fp);
        let recall = ratio(self.tp, self.tp + self.fn_);
        let f1 = ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_);
        json!({
            "precision": precision, "recall": recall, "f1": f1,
            "tp": self.tp, "fp": self.fp, "fn": self.fn_, "tn": self.tn,
            "positives": self.tp + self.fn_,
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The counts of every label, in one group of examples.
#[derive(Default)]
struct Group {
    examples: u64,
    /// Examples whose call failed (scored as predicting every label).
    failures: u64,
    labels: BTreeMap<String, Counts>,
}

impl Group {
    fn add(
        &mut self,
        all: &BTreeSet<String>,
        expected: &BTreeSet<String>,
        got: &BTreeSet<String>,
        failed: bool,
    ) {
        self.examples += 1;
        self.failures += u64::from(failed);
        for label in all {
            self.labels
                .entry(label.clone())
                .or_default()
                .add(expected.contains(label), got.contains(label));
        }
    }

    fn report(&self) -> Value {
        let mut total = Counts::default();
        let mut labels = serde_json::Map::new();
        for (label, c) in &self.labels {
            total.tp += c.tp;
            total.fp += c.fp;
            total.fn_ += c.fn_;
            total.tn += c.tn;
            labels.insert(label.clone(), c.report());
        }
        json!({
            "examples": self.examples,
            "failures": self.failures,
            "micro": total.report(),
            "labels": labels,
        })
    }
}

fn request_of(text: &str) -> String {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}).to_string()
}

fn response_of(text: &str) -> String {
    json!({
        "id": "chatcmpl-eval", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}}],
    })
    .to_string()
}

fn input_of(phase: Phase, text: &str) -> ObservationInput {
    let (request, response) = match phase {
        Phase::Response => (
            request_of("Please answer the question."),
            Some(response_of(text)),
        ),
        _ => (request_of(text), None),
    };
    ObservationInput {
        phase,
        request_id: "lucid-eval".into(),
        org: "default".into(),
        workspace: "default".into(),
        agent: "default".into(),
        request,
        response,
        artifacts: None,
    }
}

fn parse_phase(s: &str) -> anyhow::Result<Phase> {
    match s {
        "request" => Ok(Phase::Request),
        "response" => Ok(Phase::Response),
        other => bail!("phase {other:?}: eval takes request or response examples"),
    }
}

pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let rules: Vec<Rule> = args
        .predict
        .iter()
        .map(|s| Rule::parse(s))
        .collect::<anyhow::Result<_>>()?;
    let bytes = read_file(&args.data, "data")?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("{} is not UTF-8", args.data.display()))?;
    let mut examples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if examples.len() == MAX_EXAMPLES {
            bail!(
                "{} has more than {MAX_EXAMPLES} examples",
                args.data.display()
            );
        }
        let example: Example = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", args.data.display(), n + 1))?;
        if args.split.as_deref().is_none_or(|s| s == example.split) {
            examples.push((parse_phase(&example.phase)?, example));
        }
    }
    if examples.is_empty() {
        bail!("{}: no examples to score", args.data.display());
    }

    let limits = args.limits.limits();
    let sandbox = Sandbox::new(EngineOptions {
        fuel: limits.fuel.is_some(),
        ..EngineOptions::default()
    })?;
    let file = read_file(&args.file, "auditor")?;
    let auditor =
        Auditor::load(&sandbox, &file, &limits).with_context(|| args.file.display().to_string())?;
    let vocabulary = &auditor.vocabulary;
    for rule in &rules {
        let claim = match rule {
            Rule::List(c) | Rule::Flag { claim: c, .. } => c,
        };
        if !vocabulary.claims.iter().any(|c| &c.name == claim) {
            bail!("auditor '{}' declares no claim '{claim}'", vocabulary.id);
        }
    }
    let mut settings = vocabulary.default_settings();
    for assignment in &args.settings {
        let (name, value) = vocabulary
            .parse_assignment(assignment)
            .map_err(anyhow::Error::msg)?;
        settings.0.insert(name, value);
    }

    // Every label any example expects or any rule can name is scored on every example.
    let mut all: BTreeSet<String> = examples
        .iter()
        .flat_map(|(_, e)| e.labels.iter().cloned())
        .collect();
    for rule in &rules {
        if let Rule::Flag { label, .. } = rule {
            all.insert(label.clone());
        }
    }
    // First every call, then the scores: every label is scored on every example, whichever
    // example first showed it.
    let mut failures = 0u64;
    let mut spent = Duration::ZERO;
    let mut predictions: Vec<Option<BTreeSet<String>>> = Vec::with_capacity(examples.len());
    for (phase, example) in &examples {
        if !vocabulary.observes(*phase) {
            bail!(
                "auditor '{}' does not observe the {phase} phase",
                vocabulary.id
            );
        }
        let observed = auditor.observe(
            &sandbox,
            &input_of(*phase, &example.text),
            &settings,
            &limits,
        );
        match observed {
            Ok(o) => {
                spent += o.duration;
                let mut got = BTreeSet::new();
                for claim in &o.claims {
                    for rule in &rules {
                        match (rule, &claim.value) {
                            (Rule::List(name), ClaimValue::StringList(items))
                                if *name == claim.name =>
                            {
                                got.extend(items.iter().cloned());
                            }
                            (Rule::Flag { claim: name, label }, ClaimValue::Boolean(true))
                                if *name == claim.name =>
                            {
                                got.insert(label.clone());
                            }
                            _ => {}
                        }
                    }
                }
                // Labels the auditor reports that no example expects and no rule names (say,
                // a pii kind the data has no examples of) are scored too: each is a false alarm.
                all.extend(got.iter().cloned());
                predictions.push(Some(got));
            }
            Err(e) => {
                failures += 1;
                tracing::warn!("example of {}: {e}", example.source);
                predictions.push(None);
            }
        }
    }
    let mut overall = Group::default();
    let mut by_source: BTreeMap<String, Group> = BTreeMap::new();
    let mut by_split: BTreeMap<String, Group> = BTreeMap::new();
    for ((_, example), predicted) in examples.iter().zip(&predictions) {
        // A failed call fails the exchange closed in the gateway, whatever the text was: it
        // is scored as predicting every label (caught if positive, a false alarm if not).
        let got = predicted.clone().unwrap_or_else(|| all.clone());
        let expected: BTreeSet<String> = example.labels.iter().cloned().collect();
        if args.show_errors && expected != got {
            let head: String = example.text.chars().take(200).collect();
            eprintln!(
                "[{}] expected {:?} got {:?}{}: {}",
                example.source,
                expected,
                got,
                if predicted.is_none() {
                    " (the call failed)"
                } else {
                    ""
                },
                head.escape_debug()
            );
        }
        let failed = predicted.is_none();
        overall.add(&all, &expected, &got, failed);
        by_source
            .entry(example.source.clone())
            .or_default()
            .add(&all, &expected, &got, failed);
        by_split
            .entry(example.split.clone())
            .or_default()
            .add(&all, &expected, &got, failed);
    }

    // The cost of one call on a 2 KB message made of the examples' own texts.
    let mut message = String::new();
    for (_, e) in examples.iter().cycle().take(examples.len().max(1) * 4) {
        if message.len() >= COST_MESSAGE_BYTES {
            break;
        }
        message.push_str(&e.text);
        message.push('\n');
    }
    let cut = (0..=COST_MESSAGE_BYTES.min(message.len()))
        .rev()
        .find(|&i| message.is_char_boundary(i))
        .unwrap_or(0);
    message.truncate(cut);
    let phase = examples[0].0;
    let input = input_of(phase, &message);
    let mut times = Vec::with_capacity(COST_CALLS);
    for _ in 0..COST_CALLS {
        let o = auditor
            .observe(&sandbox, &input, &settings, &limits)
            .with_context(|| format!("auditor '{}' failed on a 2 KB message", vocabulary.id))?;
        times.push(o.duration);
    }
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let out = json!({
        "auditor": vocabulary.id,
        "sha256": auditor.sha256,
        "data": args.data.display().to_string(),
        "predict": args.predict,
        "split": args.split,
        "failures": failures,
        "overall": overall.report(),
        "by_source": by_source.iter().map(|(k, g)| (k.clone(), g.report())).collect::<serde_json::Map<_, _>>(),
        "by_split": by_split.iter().map(|(k, g)| (k.clone(), g.report())).collect::<serde_json::Map<_, _>>(),
        "cost": {
            "mean_us_per_example": round(us(spent) / examples.len() as f64),
            "message_bytes": message.len(),
            "p50_us_2kb": round(us(times[times.len() / 2])),
            "p99_us_2kb": round(us(times[times.len() * 99 / 100])),
        },
    });
    emit(&serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predict_rules_parse() {
        assert!(matches!(Rule::parse("pii_entities"), Ok(Rule::List(c)) if c == "pii_entities"));
        assert!(
            matches!(Rule::parse("toxic=toxic"), Ok(Rule::Flag { claim, label }) if claim == "toxic" && label == "toxic")
        );
        for bad in ["", "=x", "x=", "a b"] {
            assert!(Rule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn counts_give_precision_recall_f1() {
        let mut c = Counts::default();
        for (e, p) in [
            (true, true),
            (true, true),
            (true, false),
            (false, true),
            (false, false),
        ] {
            c.add(e, p);
        }
        let r = c.report();
        assert_eq!(r["precision"], json!(0.667));
        assert_eq!(r["recall"], json!(0.667));
        assert_eq!(r["f1"], json!(0.667));
        assert_eq!(Counts::default().report()["precision"], Value::Null);
    }
}
