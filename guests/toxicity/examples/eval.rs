//! Scores the auditor on a labelled set in the bench/quality format.
//!
//! ```sh
//! cargo run --release -p toxicity --example eval -- OUT_DIR/toxicity.jsonl \
//!     [--threshold 0.5] [--errors tune] [--sweep tune] [--scores FILE] [--folds DIR]
//! ```
//!
//! Each line's text becomes the user's message (phase `request`) or the model's answer (phase
//! `response`), runs through `observe`, and counts as a detection when `toxic` is true. Prints
//! precision, recall and F1 per source and per split, and the mean time per call.
//! `--errors SPLIT` lists the misclassified rows of that split and `--sweep SPLIT` the F1 at a
//! range of thresholds (only ever look at `tune`); `--scores FILE` writes
//! `split<TAB>label<TAB>score` per row. `--folds DIR` scores each `tune` row with the
//! cross-validation model that did not see it (`train.py OUT_DIR --folds` writes
//! DIR/fold{0..4}.bin; the fold of a tune row is its index among tune rows modulo 5) and the
//! held-out rows with the embedded model: the tune figures are then out-of-fold, fit for picking
//! thresholds and rule weights.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::Instant;

use lucid_auditor_sdk::serde_json::{self, Value, json};
use lucid_auditor_sdk::{Auditor, Input, Phase};
use toxicity::model::Model;
use toxicity::{Toxicity, observe_with};

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

    fn f1(&self) -> (f64, f64, f64) {
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
        (precision, recall, f1)
    }

    fn line(&self, name: &str) -> String {
        let (precision, recall, f1) = self.f1();
        format!(
            "{name:<52} {:>5} {:>5} {:>9.3} {:>7.3} {:>6.3} {:>5} {:>5}",
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

#[derive(Default)]
struct Options {
    path: String,
    threshold: Option<f64>,
    errors: Option<String>,
    sweep: Option<String>,
    scores: Option<String>,
    folds: Option<String>,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--threshold" => {
                options.threshold = Some(value()?.parse().map_err(|e| format!("--threshold: {e}"))?)
            }
            "--errors" => options.errors = Some(value()?),
            "--sweep" => options.sweep = Some(value()?),
            "--scores" => options.scores = Some(value()?),
            "--folds" => options.folds = Some(value()?),
            _ if options.path.is_empty() && !arg.starts_with("--") => options.path = arg,
            _ => return Err(format!("unexpected argument '{arg}'")),
        }
    }
    if options.path.is_empty() {
        return Err("usage: eval FILE.jsonl [--threshold T] [--errors SPLIT] [--sweep SPLIT] [--scores FILE] [--folds DIR]".into());
    }
    Ok(options)
}

fn input(phase: &str, text: &str) -> Result<Input, String> {
    if phase == "response" {
        let request =
            json!({ "messages": [{ "role": "user", "content": "Please answer the question." }] });
        let response =
            json!({ "choices": [{ "message": { "role": "assistant", "content": text } }] });
        Input::new(Phase::Response, &request.to_string())
            .and_then(|input| input.with_response(&response.to_string()))
            .map_err(|e| e.to_string())
    } else {
        let request = json!({ "messages": [{ "role": "user", "content": text }] });
        Input::new(Phase::Request, &request.to_string()).map_err(|e| e.to_string())
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
    let folds: Vec<Vec<u8>> = match &options.folds {
        Some(dir) => (0..5)
            .map(|k| {
                let path = format!("{dir}/fold{k}.bin");
                std::fs::read(&path).map_err(|e| format!("{path}: {e}"))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let folds: Vec<Model<'_>> = folds
        .iter()
        .map(|bytes| Model::parse(bytes).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let mut tune_index = 0usize;
    let mut by_source: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_split: BTreeMap<String, Counts> = BTreeMap::new();
    let mut swept: Vec<(bool, f64)> = Vec::new();
    let (mut calls, mut micros, mut bytes) = (0u32, 0f64, 0usize);
    let mut sized: Vec<(usize, f64)> = Vec::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |e: String| format!("line {}: {e}", number + 1);
        let row: Value = serde_json::from_str(&line).map_err(|e| at(e.to_string()))?;
        let text = row["text"].as_str().unwrap_or_default();
        let source = row["source"].as_str().unwrap_or("?");
        let split = row["split"].as_str().unwrap_or("?");
        let phase = row["phase"].as_str().unwrap_or("request");
        let truth = row["labels"]
            .as_array()
            .is_some_and(|labels| labels.iter().any(|l| l == "toxic"));
        let mut input = input(phase, text).map_err(at)?;
        if let Some(threshold) = options.threshold {
            input = input.with_setting("threshold", threshold);
        }
        let started = Instant::now();
        let claims = match folds.get(tune_index % 5).filter(|_| split == "tune") {
            Some(model) => observe_with(&input, model),
            None => Toxicity::observe(&input),
        }
        .map_err(|e| at(e.to_string()))?;
        if split == "tune" {
            tune_index += 1;
        }
        let elapsed = started.elapsed().as_secs_f64() * 1e6;
        calls += 1;
        micros += elapsed;
        bytes += text.len();
        sized.push((text.len(), elapsed));
        let score = claims[0].as_score().unwrap_or(0.0);
        let predicted = claims[1].as_boolean().unwrap_or(false);
        by_source
            .entry(format!("{source} [{split}]"))
            .or_default()
            .add(truth, predicted);
        by_split
            .entry(split.to_owned())
            .or_default()
            .add(truth, predicted);
        if options.sweep.as_deref() == Some(split) {
            swept.push((truth, score));
        }
        if let Some(file) = scores.as_mut() {
            writeln!(file, "{split}\t{}\t{score:.6}", u8::from(truth))
                .map_err(|e| e.to_string())?;
        }
        if options.errors.as_deref() == Some(split) && truth != predicted {
            let metadata = claims[0].metadata().cloned().unwrap_or(Value::Null);
            let shown: String = text
                .chars()
                .take(240)
                .collect::<String>()
                .replace('\n', " ⏎ ");
            println!(
                "{} {score:.3} m={} {} [{source}] {shown}",
                if truth { "FN" } else { "FP" },
                metadata["model"],
                metadata["rules"],
            );
        }
    }
    let header = format!(
        "{:<52} {:>5} {:>5} {:>9} {:>7} {:>6} {:>5} {:>5}",
        "source [split]", "pos", "neg", "precision", "recall", "F1", "FP", "FN"
    );
    println!("{header}");
    for (name, counts) in &by_source {
        println!("{}", counts.line(name));
    }
    println!("\n{header}");
    let mut all = Counts::default();
    for (name, counts) in &by_split {
        println!("{}", counts.line(name));
        all.tp += counts.tp;
        all.fp += counts.fp;
        all.fn_ += counts.fn_;
        all.tn += counts.tn;
    }
    println!("{}", all.line("all"));
    if !swept.is_empty() {
        println!();
        for step in 6..=18 {
            let threshold = f64::from(step) * 0.05;
            let mut counts = Counts::default();
            for &(truth, score) in &swept {
                counts.add(truth, score >= threshold);
            }
            println!("{}", counts.line(&format!("threshold {threshold:.2}")));
        }
    }
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
