//! The `pii` auditor: reports whether an exchange carries personal data (emails, phone numbers,
//! payment cards, IBANs, US social security numbers, IP addresses) or secrets (vendor API keys,
//! JWTs, private keys, passwords and tokens assigned in text).
//!
//! In the request phase it scans every message of the conversation and the arguments of earlier
//! tool calls; in the response phase the model's answer and the tool calls it asks for (leaks).
//!
//! Evidence never contains the matched values, only their kinds, counts and byte spans:
//! receipts must not become a second copy of the data they flag, and the spans are what a
//! redactor needs to blank the values out.

mod scan;

use std::collections::BTreeMap;

use lucid_auditor_sdk::serde_json::{Value, json};
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, MAX_SPANS_PER_CLAIM, Phase, SettingSpec,
    Span, ToolCallOrigin, Vocabulary,
};

pub use scan::{Entity, Kind, KindSet, scan};

const DEFAULT_MAX_SPANS: u64 = 100;

pub struct Pii;

impl Auditor for Pii {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "pii",
            env!("CARGO_PKG_VERSION"),
            "Detects personal data and secrets in prompts and responses: emails, phone numbers, \
             payment cards, IBANs, US SSNs, IP addresses, API keys, JWTs, private keys and \
             secrets assigned in text",
        )
        .phases([Phase::Request, Phase::Response])
        .claim(ClaimSpec::new(
            "pii_detected",
            ClaimType::Boolean,
            "at least one piece of personal data or secret was found",
        ))
        .claim(ClaimSpec::new(
            "pii_entities",
            ClaimType::StringList,
            "the distinct kinds found, sorted: api_key, credit_card, email, iban, ip_address, \
             jwt, phone, private_key, secret, us_ssn; metadata.spans locates each match \
             (kind, source message/response/tool_call, index, UTF-8 byte start and end), and \
             the claim proposes every match for masking (spans labelled [KIND])",
        ))
        .claim(ClaimSpec::new(
            "pii_count",
            ClaimType::Count,
            "the number of matches; metadata.kinds counts them per kind",
        ))
        .setting(SettingSpec::string_list(
            "kinds",
            Kind::ALL.map(Kind::as_str),
            "the kinds to report (default: all)",
        ))
        .setting(SettingSpec::boolean(
            "scan_tool_calls",
            true,
            "also scan the arguments of the phase's tool calls",
        ))
        .setting(SettingSpec::count(
            "max_spans",
            DEFAULT_MAX_SPANS,
            "at most this many spans in pii_entities' metadata (counts stay exact)",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = Settings::read(input)?;
        let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut spans = Vec::new();
        let mut proposals: Vec<Span> = Vec::new();
        let mut all_located = true;
        let mut total = 0u64;
        for (source, index, text) in scanned_texts(input, settings.scan_tool_calls) {
            for entity in scan(text, settings.kinds) {
                total += 1;
                *counts.entry(entity.kind.as_str()).or_default() += 1;
                // Every match is proposed for masking (the policy decides), or none: a policy
                // that masks cannot mask what is left out, and a mask rule that finds no span
                // denies. Past the contract's bound, none is proposed.
                let kind = entity.kind.as_str();
                let range = entity.start..entity.end;
                let located = match source {
                    "message" => input.message_spans(index, range, kind),
                    "response" => input.response_spans(range, kind),
                    _ => input.tool_call_spans(index, range, kind),
                };
                // A value that cannot be addressed in the body (tool-call arguments given as
                // an object, not a string) cannot be masked: then nothing is proposed.
                all_located &= !located.is_empty();
                proposals.extend(
                    located
                        .into_iter()
                        .map(|span| span.with_label(format!("[{}]", kind.to_ascii_uppercase()))),
                );

                if spans.len() < settings.max_spans {
                    spans.push(json!({
                        "kind": entity.kind.as_str(),
                        "source": source,
                        "index": index,
                        "start": entity.start,
                        "end": entity.end,
                    }));
                }
            }
        }
        let truncated = total > spans.len() as u64;
        let maskable = all_located && proposals.len() <= MAX_SPANS_PER_CLAIM;
        if !maskable {
            proposals.clear();
        }
        Ok(vec![
            Claim::boolean("pii_detected", total > 0),
            // BTreeMap keys are already sorted and distinct.
            Claim::string_list("pii_entities", counts.keys().copied())
                .with_metadata(json!({
                    "spans": Value::Array(spans),
                    "spans_truncated": truncated,
                    // false: some value could not be addressed in the body, or there were more
                    // than a claim may propose for masking; then none was proposed.
                    "maskable": maskable,
                }))
                .with_spans(proposals),
            Claim::count("pii_count", total).with_metadata(json!({ "kinds": counts })),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(Pii);

struct Settings {
    kinds: KindSet,
    scan_tool_calls: bool,
    max_spans: usize,
}

impl Settings {
    fn read(input: &Input) -> Result<Self, Error> {
        let settings = input.settings();
        let kinds = match settings.string_list("kinds") {
            None => KindSet::ALL,
            Some(names) => names
                .iter()
                .map(|name| {
                    Kind::from_name(name.trim()).ok_or_else(|| {
                        Error::invalid_input(format!(
                            "setting 'kinds' names unknown kind '{name}'; expected some of {}",
                            Kind::ALL.map(Kind::as_str).join(", ")
                        ))
                    })
                })
                .collect::<Result<KindSet, Error>>()?,
        };
        let max_spans = settings.count("max_spans").unwrap_or(DEFAULT_MAX_SPANS);
        Ok(Self {
            kinds,
            scan_tool_calls: settings.boolean("scan_tool_calls").unwrap_or(true),
            max_spans: usize::try_from(max_spans).unwrap_or(usize::MAX),
        })
    }
}

/// Where a scanned text comes from, as the SDK presents it; a span's offsets are byte offsets
/// into exactly that text:
/// - `message`, index i: `input.messages()[i].content()` (text parts joined with `\n`);
/// - `response`, index 0: `input.response_text()` (the choices' contents joined with `\n`);
/// - `tool_call`, index i: `input.tool_calls()[i].arguments()`.
///
/// Tool calls count in the phase they belong to: personal data sent to or produced for a tool
/// is as sensitive as data in a message.
fn scanned_texts(input: &Input, tool_calls: bool) -> Vec<(&'static str, usize, &str)> {
    let phase = input.phase();
    let mut texts: Vec<(&'static str, usize, &str)> = match phase {
        Phase::Request => input
            .messages()
            .iter()
            .enumerate()
            .map(|(i, message)| ("message", i, message.content()))
            .collect(),
        Phase::Response => input
            .response_text()
            .map(|text| ("response", 0, text))
            .into_iter()
            .collect(),
        Phase::Artifact | Phase::Execution => Vec::new(),
    };
    if tool_calls {
        texts.extend(
            input
                .tool_calls()
                .iter()
                .enumerate()
                .filter(|(_, call)| match call.origin() {
                    ToolCallOrigin::Request { .. } => phase == Phase::Request,
                    ToolCallOrigin::Response { .. } => phase == Phase::Response,
                })
                .map(|(i, call)| ("tool_call", i, call.arguments())),
        );
    }
    texts.retain(|(_, _, text)| !text.is_empty());
    texts
}

#[cfg(test)]
mod tests;
