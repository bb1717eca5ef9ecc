//! Scores the auditor on a labelled set in the bench/quality format.
//!
//! ```sh
//! cargo run --release -p injection --example eval -- OUT_DIR/injection.jsonl \
//!     [--role user|tool] [--threshold 0.7] [--errors tune] [--scores FILE]
//! ```
//!
//! Each line's text becomes one message of the given role (`user` by default; `tool` puts it
//! after a user turn as a tool result, the way retrieved content arrives), runs through
//! `observe`, and counts as a detection when `injection_detected` is true. Prints precision,
//! recall and F1 per source and per split, and the mean time per call. `--errors SPLIT` lists
//! the misclassified rows of that split (only ever look at `tune`); `--scores FILE` writes
//! `split<TAB>label<TAB>risk` per row for threshold studies.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::Instant;

use injection::Injection;
use lucid_auditor_sdk::serde_json::{self, Value, json};
use lucid_auditor_sdk::{Auditor, Input, Phase};

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
    tn: u32,
}

impl Counts {
    fn add(&mut self, truth: bool, predicted: bool) {
        match (truth, predicted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    fn line(&self, name: &str) -> String {
        let ratio = |a: u32, b: u32| {
            if b == 0 {
                f64::NAN
            } else {
                f64::from(a) / f64::from(b)
            }
        };
        let precision = ratio(self.tp, self.tp + self.fp);
        let recall = ratio(self.tp, self.tp + self.fn_);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            f64::NAN
        };
        format!(
            "{name:<62} {:>5} {:>5} {:>9.3} {:>7.3} {:>6.3} {:>5} {:>5}",
            self.tp + self.fn_,
            self.fp + self.tn,
            precision,
            recall,
            f1,
            self.fp,
            self.fn_,
        )
    }
}

struct Options {
    path: String,
    role: String,
    threshold: Option<f64>,
    errors: Option<String>,
    scores: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        path: String::new(),
        role: "user".into(),
        threshold: None,
        errors: None,
        scores: None,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--role" => options.role = value()?,
            "--threshold" => {
                options.threshold = Some(value()?.parse().map_err(|e| format!("--threshold: {e}"))?)
            }
            "--errors" => options.errors = Some(value()?),
            "--scores" => options.scores = Some(value()?),
            _ if options.path.is_empty() && !arg.starts_with("--") => options.path = arg,
            _ => return Err(format!("unexpected argument '{arg}'")),
        }
    }
    if options.path.is_empty() {
        return Err("usage: eval FILE.jsonl [--role user|tool] [--threshold T] [--errors SPLIT] [--scores FILE]".into());
    }
    Ok(options)
}

fn request(role: &str, text: &str) -> Value {
    match role {
        "tool" => json!({ "messages": [
            { "role": "system", "content": "You are a helpful assistant." },
            { "role": "user", "content": "Summarize the document for me." },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "c1", "type": "function", "function": { "name": "fetch", "arguments": "{}" } } ] },
            { "role": "tool", "tool_call_id": "c1", "content": text }
        ] }),
        _ => json!({ "messages": [
            { "role": "system", "content": "You are a helpful assistant." },
            { "role": "user", "content": text }
        ] }),
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("eval: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let options = options()?;
    let file = File::open(&options.path).map_err(|e| format!("{}: {e}", options.path))?;
    let mut scores = match &options.scores {
        Some(path) => Some(File::create(path).map_err(|e| format!("{path}: {e}"))?),
        None => None,
    };
    let mut by_source: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_split: BTreeMap<String, Counts> = BTreeMap::new();
    let (mut calls, mut micros, mut bytes) = (0u32, 0f64, 0usize);
    let mut sized: Vec<(usize, f64)> = Vec::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Value =
            serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", number + 1))?;
        let text = row["text"].as_str().unwrap_or_default();
        let source = row["source"].as_str().unwrap_or("?");
        let split = row["split"].as_str().unwrap_or("?");
        let truth = row["labels"]
            .as_array()
            .is_some_and(|labels| labels.iter().any(|l| l == "injection"));
        let mut input = Input::new(Phase::Request, &request(&options.role, text).to_string())
            .map_err(|e| format!("line {}: {e}", number + 1))?;
        if let Some(threshold) = options.threshold {
            input = input.with_setting("threshold", threshold);
        }
        let started = Instant::now();
        let claims = Injection::observe(&input).map_err(|e| format!("line {}: {e}", number + 1))?;
        let elapsed = started.elapsed().as_secs_f64() * 1e6;
        calls += 1;
        micros += elapsed;
        bytes += text.len();
        sized.push((text.len(), elapsed));
        let risk = claims[0].as_score().unwrap_or(0.0);
        let predicted = claims[1].as_boolean().unwrap_or(false);
        by_source
            .entry(format!("{source} [{split}]"))
            .or_default()
            .add(truth, predicted);
        by_split
            .entry(split.to_owned())
            .or_default()
            .add(truth, predicted);
        if let Some(file) = scores.as_mut() {
            writeln!(file, "{split}\t{}\t{risk:.6}", u8::from(truth)).map_err(|e| e.to_string())?;
        }
        if options.errors.as_deref() == Some(split) && truth != predicted {
            let rules = claims[0]
                .metadata()
                .map(|m| m["rules"].to_string())
                .unwrap_or_default();
            let shown: String = text
                .chars()
                .take(300)
                .collect::<String>()
                .replace('\n', " ⏎ ");
            println!(
                "{} {risk:.3} {rules} [{source}] {shown}",
                if truth { "FN" } else { "FP" }
            );
        }
    }
    let header = format!(
        "{:<62} {:>5} {:>5} {:>9} {:>7} {:>6} {:>5} {:>5}",
        "source [split]", "pos", "neg", "precision", "recall", "F1", "FP", "FN"
    );
    println!("{header}");
    for (name, counts) in &by_source {
        println!("{}", counts.line(name));
    }
    println!();
    println!("{header}");
    let mut all = Counts::default();
    for (name, counts) in &by_split {
        println!("{}", counts.line(name));
        all.tp += counts.tp;
        all.fp += counts.fp;
        all.fn_ += counts.fn_;
        all.tn += counts.tn;
    }
    println!("{}", all.line("all"));
    let big: Vec<f64> = sized
        .iter()
        .filter(|(len, _)| (1500..=3000).contains(len))
        .map(|(_, us)| *us)
        .collect();
    println!(
        "\n{calls} calls, mean {:.1} µs per call (mean text {} bytes); texts of 1.5–3 KB: {} calls, mean {:.1} µs",
        micros / f64::from(calls.max(1)),
        bytes / calls.max(1) as usize,
        big.len(),
        big.iter().sum::<f64>() / big.len().max(1) as f64,
    );
    Ok(())
}
