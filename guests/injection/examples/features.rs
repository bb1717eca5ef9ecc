//! Dumps what train.py learns from: for each row of a bench/quality jsonl file, its split,
//! label, source, the rules' risk and the hashed feature buckets of its canonical words, as
//! computed by this crate (so training and the component can never disagree on features).
//!
//! ```sh
//! cargo run --release -p injection --example features -- IN.jsonl OUT.jsonl BITS
//! ```

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

use injection::{model, normalize, rules};
use lucid_auditor_sdk::serde_json::{self, Value, json};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("features: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, bits] = args.as_slice() else {
        return Err("usage: features IN.jsonl OUT.jsonl BITS".into());
    };
    let bits: u32 = bits.parse().map_err(|e| format!("BITS: {e}"))?;
    let reader = BufReader::new(File::open(input).map_err(|e| format!("{input}: {e}"))?);
    let mut writer = BufWriter::new(File::create(output).map_err(|e| format!("{output}: {e}"))?);
    for (number, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Value =
            serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", number + 1))?;
        let text = row["text"].as_str().unwrap_or_default();
        let canonical = normalize::canonical(text);
        let fired = rules::evaluate_canonical(text, &canonical);
        let out = json!({
            "split": row["split"],
            "source": row["source"],
            "label": row["labels"].as_array().is_some_and(|l| l.iter().any(|l| l == "injection")),
            "rules": rules::combine(&fired),
            "features": model::features(&canonical, bits),
        });
        writeln!(writer, "{out}").map_err(|e| e.to_string())?;
    }
    writer.flush().map_err(|e| e.to_string())
}
