//! `lucid chain verify | export | demo`: reading, checking and exporting stored receipt chains.

use std::process::ExitCode;

use anyhow::{Context, bail};

use super::{ChainSource, ReceiptArgs, StoreArgs, emit};
use lucid::evidence::Access;
use lucid::runtime::claim::Phase;
use lucid::runtime::sandbox::{EngineOptions, Sandbox};

/// Read the ARs a chain command works on, in stored order.
fn read_chain(source: &ChainSource, from: Option<&str>) -> anyhow::Result<Vec<serde_json::Value>> {
    if let Some(file) = &source.file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let mut ars = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not JSON", file.display(), i + 1))?;
            ars.push(v);
        }
        if let Some(from) = from {
            let end = ars
                .iter()
                .position(|a| a.get("ar_hash").and_then(|h| h.as_str()) == Some(from))
                .with_context(|| format!("no AR {from} in {}", file.display()))?;
            ars.truncate(end + 1);
        }
        return Ok(ars);
    }
    let mut store: Box<dyn lucid::evidence::EvidenceStore> = match &source.db {
        Some(db) => {
            if !db.is_file() {
                bail!("no evidence database at {}", db.display());
            }
            Box::new(lucid::evidence::SqliteStore::open(db)?)
        }
        None => open_store(&source.store, Access::Read)?,
    };
    match from {
        Some(hash) => lucid::evidence::chain_ending_at(store.as_mut(), hash, usize::MAX)?
            .with_context(|| format!("no AR {hash} in {}", store.location())),
        None => store
            .all()?
            .iter()
            .map(|text| lucid::evidence::parse("?", text).map_err(anyhow::Error::from))
            .collect(),
    }
}

pub fn verify(from: Option<&str>, source: &ChainSource) -> anyhow::Result<ExitCode> {
    let ars = read_chain(source, from)?;
    let report = lucid::evidence::verify_stored(&ars);
    emit(&serde_json::to_string_pretty(&report)?);
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub fn export(source: &ChainSource) -> anyhow::Result<ExitCode> {
    let ars = read_chain(source, None)?;
    let mut out = String::new();
    for ar in ars {
        out += &ar.to_string();
        out.push('\n');
    }
    emit(out.trim_end());
    Ok(ExitCode::SUCCESS)
}

pub fn demo(
    count: u64,
    writers: u64,
    store: &StoreArgs,
    receipt: &ReceiptArgs,
) -> anyhow::Result<ExitCode> {
    let sandbox = Sandbox::new(EngineOptions::default())?;
    let signer = lucid::evidence::signer::Signer::load_file(sandbox.engine(), &receipt.path()?)?;
    let receipts =
        lucid::evidence::service::ReceiptService::start(signer, open_store(store, Access::Write)?)?;
    let writers = writers.max(1);
    let failed = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for w in 0..writers {
            let (receipts, failed) = (&receipts, &failed);
            scope.spawn(move || {
                let mut k = w;
                while k < count {
                    match receipts.issue_blocking(&demo_core(k)) {
                        Ok(issued) => emit(&issued.ar_hash),
                        Err(e) => {
                            eprintln!("error: {e}");
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    k += writers;
                }
            });
        }
    });
    receipts.shutdown();
    Ok(if failed.into_inner() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A synthetic but well-formed evidence core.
fn demo_core(k: u64) -> serde_json::Value {
    use lucid::exchange::receipt_core::{Measurements, PhaseEvidence, Scope};
    use lucid::policy::{Effect, PhaseDecision};
    use lucid::runtime::claim::{Claim, ClaimValue};
    let claim = |name: &str, value| lucid::runtime::AttributedClaim {
        auditor: "demo".into(),
        auditor_sha256: "0".repeat(64),
        claim: Claim {
            name: name.into(),
            value,
            confidence: 0.9,
            metadata: None,
            spans: Vec::new(),
        },
    };
    let phases = [PhaseEvidence {
        phase: Phase::Request,
        claims: vec![
            claim(
                "demo_score",
                ClaimValue::ScoreNormalized((k % 100) as f64 / 100.0),
            ),
            claim("demo_flag", ClaimValue::Boolean(k.is_multiple_of(2))),
        ],
        decision: PhaseDecision {
            effect: Effect::Allow,
            reasons: vec!["demo".into()],
            errors: vec![],
            redact: Vec::new(),
        },
    }];
    let measurements = Measurements {
        auditors: [("demo".to_string(), "0".repeat(64))].into(),
        plugin_set_hash: "0".repeat(64),
        config_hash: None,
        host_sha256: None,
        settings_hash: None,
    };
    lucid::exchange::receipt_core::core(
        &format!("demo-{k}"),
        std::time::SystemTime::now(),
        &Scope {
            org: "demo".into(),
            workspace: "demo".into(),
            agent: "demo".into(),
        },
        &phases,
        &"0".repeat(64),
        &measurements,
        &serde_json::Map::new(),
    )
}

fn open_store(
    args: &StoreArgs,
    access: Access,
) -> anyhow::Result<Box<dyn lucid::evidence::EvidenceStore>> {
    Ok(lucid::evidence::open(
        args.store.as_deref(),
        &args.data_dir,
        &args.replica,
        access,
    )?)
}
