//! Masking what a policy asked to mask.
//!
//! Auditors propose spans (`lucid:auditor` 0.2: a claim's `spans`, each a JSON pointer to a
//! string of the observed request or response and a byte range of it); a Cedar `@redact` rule
//! that holds names the claims whose spans must be masked ([`lucid_policy::Redact`]). Here the
//! spans those rules pick are checked against the exact text (the pointer must name a text the
//! gateway masks in that phase, the range must lie inside it on character boundaries), merged
//! where they overlap, and written over as `[redaction]` says per kind. Anything that cannot be
//! applied exactly is an error, and the phase then denies: a mask the policy asked for is never
//! silently skipped.
//!
//! A JSON answer or request is masked in place ([`apply`]); a streamed answer chunk by chunk, as
//! the chunks go out ([`StreamMasks`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use super::openai::{Assembly, LEGACY_FUNCTION_CALL, Part, Text};
use crate::config::{MaskStyle, RedactionConfig};
use crate::runtime::AttributedClaim;
use crate::runtime::claim::{Phase, Span};

/// Why the masks a policy asked for cannot be applied. The phase denies with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedactError {
    #[error(
        "policy '{policy}' asks to mask the spans of claim '{claim}'{kinds}, but no auditor proposed one (an auditor that found more values than a claim may carry proposes none)"
    )]
    NoSpans {
        policy: String,
        claim: String,
        kinds: String,
    },
    #[error(
        "auditor '{auditor}' proposed a span of '{field}', which is not a text the gateway masks in the {phase} phase"
    )]
    Field {
        auditor: String,
        field: String,
        phase: Phase,
    },
    #[error(
        "auditor '{auditor}' proposed span {start}..{end} of '{field}', which is not inside that text on character boundaries"
    )]
    Range {
        auditor: String,
        field: String,
        start: u32,
        end: u32,
    },
    #[error("masking '{field}' would leave the tool call's arguments invalid JSON")]
    BrokenJson { field: String },
    #[error(
        "masking '{field}' of a streamed answer is not supported (only contents and tool-call arguments are)"
    )]
    Unsupported { field: String },
    #[error(
        "a span of '{field}' the policy asked to mask had already been sent to the client (an entity longer than the incremental audit's overlap)"
    )]
    Late { field: String },
}

/// One span a policy picked, with who proposed it and which rule asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picked {
    pub span: Span,
    pub auditor: String,
    pub claim: String,
    pub policy: String,
}

/// The spans of the claims that the decision's `redact` rules name (of the kinds they name).
/// A rule that finds none is an error: it holds, so something is to be masked, and nothing
/// says where.
pub fn pick(
    redact: &[lucid_policy::Redact],
    claims: &[AttributedClaim],
) -> Result<Vec<Picked>, RedactError> {
    let mut picked = Vec::new();
    for rule in redact {
        let before = picked.len();
        for c in claims.iter().filter(|c| c.claim.name == rule.claim) {
            for span in &c.claim.spans {
                if rule.kinds.is_empty() || rule.kinds.contains(&span.kind) {
                    picked.push(Picked {
                        span: span.clone(),
                        auditor: c.auditor.clone(),
                        claim: rule.claim.clone(),
                        policy: rule.policy.clone(),
                    });
                }
            }
        }
        // Every kind the rule covers that the claim reports must have a span: a value the
        // auditor found but could not locate would otherwise go on unmasked.
        if let Some(kind) = claims
            .iter()
            .filter(|c| c.claim.name == rule.claim)
            .flat_map(|c| c.claim.as_string_list().unwrap_or_default())
            .filter(|k| rule.kinds.is_empty() || rule.kinds.contains(k))
            .find(|k| !picked[before..].iter().any(|p| p.span.kind == **k))
        {
            return Err(RedactError::NoSpans {
                policy: rule.policy.clone(),
                claim: rule.claim.clone(),
                kinds: format!(" of kind {kind}"),
            });
        }
        if picked.len() == before {
            return Err(RedactError::NoSpans {
                policy: rule.policy.clone(),
                claim: rule.claim.clone(),
                kinds: if rule.kinds.is_empty() {
                    String::new()
                } else {
                    format!(" of kind {}", rule.kinds.join(", "))
                },
            });
        }
    }
    Ok(picked)
}

/// Check every span `auditor`'s `claims` propose against `doc`, the document they observed
/// (the request in the request phase, the response in the response phase), as the gateway would
/// before masking: for contract tests of an auditor.
pub fn check_proposed(
    claims: &[crate::runtime::claim::Claim],
    auditor: &str,
    doc: &Value,
    phase: Phase,
) -> Result<(), RedactError> {
    let picked: Vec<Picked> = claims
        .iter()
        .flat_map(|c| {
            c.spans.iter().map(|span| Picked {
                span: span.clone(),
                auditor: auditor.to_string(),
                claim: c.name.clone(),
                policy: String::new(),
            })
        })
        .collect();
    check(&picked, doc, phase)
}

/// A masked stretch of one text: overlapping picks merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Masked {
    /// The pointer of the text (into the request, or the response as the auditors saw it).
    pub field: String,
    /// Byte offsets into the text before masking.
    pub start: usize,
    pub end: usize,
    pub kinds: BTreeSet<String>,
    pub auditors: BTreeSet<String>,
    pub claims: BTreeSet<String>,
    pub policies: BTreeSet<String>,
    /// How it was written (`label`, `mask`, `keep_last:N`, `fixed:…`).
    pub style: String,
    /// The bytes written instead.
    pub replacement_bytes: usize,
    #[serde(skip)]
    label: Option<String>,
    /// The kind of the pick that starts it (it names the style).
    #[serde(skip)]
    kind: String,
    /// What it is written as.
    #[serde(skip)]
    rendered: Rendered,
}

/// What a masked stretch becomes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum Rendered {
    #[default]
    Nothing,
    /// Written once, where the stretch starts.
    Whole(String),
    /// One character for each character of the stretch (masking keeps the text's shape).
    PerChar(Vec<char>),
}

impl Rendered {
    fn text(&self) -> String {
        match self {
            Rendered::Nothing => String::new(),
            Rendered::Whole(text) => text.clone(),
            Rendered::PerChar(chars) => chars.iter().collect(),
        }
    }
}

fn render(style: &MaskStyle, original: &str, kind: &str, label: Option<&str>) -> Rendered {
    match style {
        MaskStyle::Label => Rendered::Whole(
            label.map_or_else(|| format!("[{}]", kind.to_ascii_uppercase()), String::from),
        ),
        MaskStyle::Fixed(text) => Rendered::Whole(text.clone()),
        MaskStyle::Mask => Rendered::PerChar(
            original
                .chars()
                .map(|c| if c.is_alphanumeric() { '*' } else { c })
                .collect(),
        ),
        MaskStyle::KeepLast(n) => {
            let mut keep = usize::from(*n);
            let mut chars: Vec<char> = original.chars().collect();
            for c in chars.iter_mut().rev() {
                if c.is_alphanumeric() {
                    if keep > 0 {
                        keep -= 1;
                    } else {
                        *c = '*';
                    }
                }
            }
            Rendered::PerChar(chars)
        }
    }
}

/// Merge picks per field: picks that overlap become one stretch. Sorted by field and start.
///
/// A stretch of one kind is written in that kind's style; one that merged several kinds, or
/// whose style would leave it as it was (a `mask` of a value with no letter or digit), with a
/// label.
fn merge<'t>(
    picked: &[Picked],
    config: &RedactionConfig,
    text_of: impl Fn(&str) -> &'t str,
) -> Vec<Masked> {
    let mut sorted: Vec<&Picked> = picked.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.span.field, a.span.start, a.span.end).cmp(&(&b.span.field, b.span.start, b.span.end))
    });
    let mut out: Vec<Masked> = Vec::new();
    for p in sorted {
        let (start, end) = (p.span.start as usize, p.span.end as usize);
        if let Some(last) = out.last_mut()
            && last.field == p.span.field
            && start < last.end
        {
            last.end = last.end.max(end);
            last.kinds.insert(p.span.kind.clone());
            last.auditors.insert(p.auditor.clone());
            last.claims.insert(p.claim.clone());
            last.policies.insert(p.policy.clone());
            if last.label.is_none() {
                last.label.clone_from(&p.span.label);
            }
            continue;
        }
        out.push(Masked {
            field: p.span.field.clone(),
            start,
            end,
            kinds: BTreeSet::from([p.span.kind.clone()]),
            auditors: BTreeSet::from([p.auditor.clone()]),
            claims: BTreeSet::from([p.claim.clone()]),
            policies: BTreeSet::from([p.policy.clone()]),
            style: String::new(),
            replacement_bytes: 0,
            label: p.span.label.clone(),
            kind: p.span.kind.clone(),
            rendered: Rendered::Nothing,
        });
    }
    let mut field: Option<(String, &'t str)> = None;
    for m in &mut out {
        // One look-up per field, not per stretch: a long text with many stretches is read once.
        let text = match &field {
            Some((f, text)) if *f == m.field => *text,
            _ => {
                let text = text_of(&m.field);
                field = Some((m.field.clone(), text));
                text
            }
        };
        let original = text.get(m.start..m.end).unwrap_or("");
        let mut style = if m.kinds.len() == 1 {
            config.style(&m.kind).clone()
        } else {
            MaskStyle::Label
        };
        let mut rendered = render(&style, original, &m.kind, m.label.as_deref());
        if rendered.text() == original {
            style = MaskStyle::Label;
            rendered = render(&style, original, &m.kind, m.label.as_deref());
        }
        m.style = String::from(style);
        m.replacement_bytes = rendered.text().len();
        m.rendered = rendered;
    }
    out
}

/// The texts the gateway masks, by phase: message contents (or their text parts) and the
/// arguments of tool calls in a request; the same in the choices of a response.
fn maskable(field: &str, phase: Phase) -> bool {
    let segments: Vec<&str> = field.split('/').skip(1).collect();
    let index = |s: &str| !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit());
    let tail_ok = |tail: &[&str]| match tail {
        ["content"] => true,
        ["content", k, "text"] => index(k),
        ["tool_calls", k, "function", "arguments"] => index(k),
        ["function_call", "arguments"] => true,
        _ => false,
    };
    match (phase, segments.as_slice()) {
        (Phase::Request, ["messages", i, tail @ ..]) => index(i) && tail_ok(tail),
        (Phase::Response, ["choices", i, "message", tail @ ..]) => index(i) && tail_ok(tail),
        _ => false,
    }
}

fn is_arguments(field: &str) -> bool {
    field.ends_with("/arguments")
}

/// Check every pick against `doc` (the document the auditors saw): a maskable text, a range
/// inside it on character boundaries.
fn check(picked: &[Picked], doc: &Value, phase: Phase) -> Result<(), RedactError> {
    for p in picked {
        let field = &p.span.field;
        if !maskable(field, phase) {
            return Err(RedactError::Field {
                auditor: p.auditor.clone(),
                field: field.clone(),
                phase,
            });
        }
        let text = doc.pointer(field).and_then(Value::as_str);
        let (start, end) = (p.span.start as usize, p.span.end as usize);
        let fits = text.is_some_and(|t| {
            start < end && end <= t.len() && t.is_char_boundary(start) && t.is_char_boundary(end)
        });
        if !fits {
            return Err(RedactError::Range {
                auditor: p.auditor.clone(),
                field: field.clone(),
                start: p.span.start,
                end: p.span.end,
            });
        }
    }
    Ok(())
}

/// Mask `picked` in `doc` (a request, or a JSON answer) in place; the stretches masked, with
/// offsets into the texts as they were.
pub fn apply(
    doc: &mut Value,
    picked: &[Picked],
    phase: Phase,
    config: &RedactionConfig,
) -> Result<Vec<Masked>, RedactError> {
    check(picked, doc, phase)?;
    let masked = {
        let snapshot = &*doc;
        merge(picked, config, |field| {
            snapshot
                .pointer(field)
                .and_then(Value::as_str)
                .unwrap_or("")
        })
    };
    let mut by_field: BTreeMap<&str, Vec<&Masked>> = BTreeMap::new();
    for m in &masked {
        by_field.entry(&m.field).or_default().push(m);
    }
    for (field, stretches) in by_field {
        let Some(Value::String(text)) = doc.pointer_mut(field) else {
            continue;
        };
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for m in stretches {
            out.push_str(&text[at..m.start]);
            out.push_str(&m.rendered.text());
            at = m.end;
        }
        out.push_str(&text[at..]);
        if is_arguments(field) && !same_shape(text, &out) {
            return Err(RedactError::BrokenJson {
                field: field.to_string(),
            });
        }
        *text = out;
    }
    if phase == Phase::Response {
        drop_logprobs(doc, masked.iter().map(|m| m.field.as_str()));
    }
    Ok(masked)
}

/// Whether masked tool-call arguments are still the document they were, but for the text of
/// their strings: the same keys, the same nesting, the same kinds of values. A mask may change
/// what a string says, never add, remove or rename a field. (Arguments that were not JSON must
/// stay not JSON only in the sense that they are text: they are left as text.)
fn same_shape(before: &str, after: &str) -> bool {
    fn shape(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::String(_), Value::String(_)) => true,
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| shape(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((ka, a), (kb, b))| ka == kb && shape(a, b))
            }
            (a, b) => a == b,
        }
    }
    match serde_json::from_str::<Value>(before) {
        Err(_) => true,
        Ok(was) => serde_json::from_str::<Value>(after).is_ok_and(|now| shape(&was, &now)),
    }
}

/// Token log-probabilities spell out the text they come with: a choice whose text was masked
/// loses them (`logprobs: null`), in a JSON answer and in each chunk whose text changed.
fn drop_logprobs<'a>(doc: &mut Value, fields: impl Iterator<Item = &'a str>) {
    for field in fields {
        let Some(choice) = field
            .strip_prefix("/choices/")
            .and_then(|rest| rest.split('/').next())
        else {
            continue;
        };
        if let Some(logprobs) = doc.pointer_mut(&format!("/choices/{choice}/logprobs"))
            && !logprobs.is_null()
        {
            *logprobs = Value::Null;
        }
    }
}

/// The masks of a streamed answer, applied to its chunks as they go out, in order.
///
/// Offsets are into each assembled text (a choice's content). A stretch is written where it
/// starts: a label once, a mask character for character; a chunk never carries a byte of a
/// masked stretch. A mask that arrives for text already sent is an error ([`RedactError::Late`]).
#[derive(Debug, Default)]
pub struct StreamMasks {
    /// Per text, its stretches (sorted, disjoint) with how each is written.
    stretches: HashMap<Text, Vec<(usize, usize, Rendered)>>,
    /// Per text, how many bytes of it were sent.
    sent: HashMap<Text, usize>,
    /// Per masked text, what was sent of it.
    written: HashMap<Text, String>,
    /// Everything masked, for the receipt (offsets into the whole answer's texts).
    pub masked: Vec<Masked>,
}

impl StreamMasks {
    /// Add the masks `picked` asks for in `doc`, an audit of the answer: the whole answer, or a
    /// window of it whose texts start at `starts` (bytes into each text; absent: 0).
    pub fn add(
        &mut self,
        doc: &Value,
        starts: &BTreeMap<Text, usize>,
        picked: &[Picked],
        assembly: &Assembly,
        config: &RedactionConfig,
    ) -> Result<(), RedactError> {
        check(picked, doc, Phase::Response)?;
        // Each pick, re-addressed to the assembled text it belongs to.
        let mut whole: Vec<Picked> = Vec::with_capacity(picked.len());
        let mut texts: HashMap<String, Text> = HashMap::new();
        // A window's texts start at `starts`; the whole answer's (no starts) at 0.
        let window = (!starts.is_empty()).then_some(starts);
        for p in picked {
            let text = locate(doc, &p.span.field, assembly, window).ok_or_else(|| {
                RedactError::Unsupported {
                    field: p.span.field.clone(),
                }
            })?;
            let base = starts.get(&text).copied().unwrap_or(0);
            let field = field_of(text);
            texts.insert(field.clone(), text);
            let mut span = p.span.clone();
            span.field = field;
            span.start = u32::try_from(base + p.span.start as usize).unwrap_or(u32::MAX);
            span.end = u32::try_from(base + p.span.end as usize).unwrap_or(u32::MAX);
            whole.push(Picked { span, ..p.clone() });
        }
        let merged = merge(&whole, config, |field| {
            texts.get(field).map_or("", |t| assembly.text(*t))
        });
        for m in merged {
            let Some(text) = texts.get(&m.field).copied() else {
                continue;
            };
            if assembly.text(text).get(m.start..m.end).is_none() {
                return Err(RedactError::Range {
                    auditor: m.auditors.iter().next().cloned().unwrap_or_default(),
                    field: m.field.clone(),
                    start: u32::try_from(m.start).unwrap_or(u32::MAX),
                    end: u32::try_from(m.end).unwrap_or(u32::MAX),
                });
            }
            self.insert(text, m.start, m.end, m.rendered.clone(), &m.field)?;
            self.note(m);
        }
        // Masked tool-call arguments keep their JSON shape (checked on what has arrived: the
        // whole answer's audit checks the complete arguments).
        for text in texts.values() {
            if let (Part::ToolArguments(_), Some(list)) = (text.part, self.stretches.get(text)) {
                let full = assembly.text(*text);
                if !same_shape(full, &rewrite(full, 0, full.len(), full, list)) {
                    return Err(RedactError::BrokenJson {
                        field: field_of(*text),
                    });
                }
            }
        }
        Ok(())
    }

    /// Keep the record of `m`, merged with the records it overlaps (a later audit — the next
    /// window, the whole answer — sees again what an earlier one masked).
    fn note(&mut self, mut m: Masked) {
        // Sorted by field and start, disjoint per field: the records `m` overlaps are one run.
        let key = |r: &Masked| (r.field.clone(), r.start);
        let at = self
            .masked
            .partition_point(|r| (&r.field, r.end) <= (&m.field, m.start));
        let mut until = at;
        while let Some(old) = self.masked.get(until) {
            if old.field != m.field || old.start >= m.end {
                break;
            }
            until += 1;
        }
        for old in self.masked.drain(at..until) {
            if old.start < m.start {
                m.style.clone_from(&old.style);
                m.replacement_bytes = old.replacement_bytes;
            }
            m.start = m.start.min(old.start);
            m.end = m.end.max(old.end);
            m.kinds.extend(old.kinds);
            m.auditors.extend(old.auditors);
            m.claims.extend(old.claims);
            m.policies.extend(old.policies);
        }
        debug_assert!(self.masked.get(at).is_none_or(|next| key(next) > key(&m)));
        self.masked.insert(at, m);
    }

    /// Add one stretch to a text's, merging with those it overlaps; a part of it not covered
    /// before that lies in text already sent is too late.
    fn insert(
        &mut self,
        text: Text,
        start: usize,
        end: usize,
        rendered: Rendered,
        field: &str,
    ) -> Result<(), RedactError> {
        let sent = self.sent.get(&text).copied().unwrap_or(0);
        let list = self.stretches.entry(text).or_default();
        // The stretches are sorted and disjoint, so their ends are sorted too: those that
        // overlap [start, end) are one run, found by binary search (a long answer's many
        // windows must not cost the square of its masks).
        let lo = list.partition_point(|(_, e, _)| *e <= start);
        let hi = list.partition_point(|(s, _, _)| *s < end);
        let overlapping = &list[lo..hi.max(lo)];
        // The first part of [start, end) no existing stretch covers.
        let mut uncovered_from = start;
        for (s, e, _) in overlapping {
            if *s <= uncovered_from && uncovered_from < *e {
                uncovered_from = *e;
            }
        }
        if uncovered_from < end && uncovered_from < sent {
            return Err(RedactError::Late {
                field: field.to_string(),
            });
        }
        // The stretch that starts first says how the union is written: a label stays written
        // once where it started; a per-character mask covers the whole union.
        let merged = !overlapping.is_empty();
        let (mut s, mut e) = (start, end);
        let mut first: (usize, Rendered) = (start, rendered);
        for (a, b, r) in list.drain(lo..hi.max(lo)) {
            s = s.min(a);
            e = e.max(b);
            if a < first.0 {
                first = (a, r);
            }
        }
        let union = match first.1 {
            Rendered::Nothing => rendered_star_fill(s, e),
            Rendered::Whole(text) => Rendered::Whole(text),
            Rendered::PerChar(chars) if !merged => Rendered::PerChar(chars),
            Rendered::PerChar(_) => rendered_star_fill(s, e),
        };
        list.insert(lo, (s, e, union));
        Ok(())
    }

    /// The masked stretches that reach the end of their text as assembled so far: entities that
    /// may go on in text not yet audited ([`Held::barriers`](super::held::Held::barriers)).
    pub fn open(&self, assembly: &Assembly) -> Vec<(Text, usize)> {
        self.stretches
            .iter()
            .filter_map(|(text, list)| {
                let (start, end, _) = list.last()?;
                (*end >= assembly.text(*text).len()).then_some((*text, *start))
            })
            .collect()
    }

    /// Rewrite a chunk's text deltas (contents, tool-call arguments) as they are to be sent, and
    /// count them as sent.
    pub fn chunk(&mut self, chunk: &mut Value, assembly: &Assembly) {
        let Some(choices) = chunk.get_mut("choices").and_then(Value::as_array_mut) else {
            return;
        };
        for choice in choices {
            let index = index_of(choice);
            let mut changed = false;
            if let Some(Value::String(piece)) = choice.pointer_mut("/delta/content") {
                let text = Text {
                    choice: index,
                    part: Part::Content,
                };
                changed |= self.piece(text, piece, assembly);
            }
            if let Some(calls) = choice
                .pointer_mut("/delta/tool_calls")
                .and_then(Value::as_array_mut)
            {
                for call in calls {
                    let text = Text {
                        choice: index,
                        part: Part::ToolArguments(index_of(call)),
                    };
                    if let Some(Value::String(piece)) = call.pointer_mut("/function/arguments") {
                        changed |= self.piece(text, piece, assembly);
                    }
                }
            }
            // The deprecated single function call, assembled as the call of its reserved index.
            if let Some(Value::String(piece)) = choice.pointer_mut("/delta/function_call/arguments")
            {
                let text = Text {
                    choice: index,
                    part: Part::ToolArguments(LEGACY_FUNCTION_CALL),
                };
                changed |= self.piece(text, piece, assembly);
            }
            if changed && choice.get("logprobs").is_some_and(|l| !l.is_null()) {
                choice["logprobs"] = Value::Null;
            }
        }
    }

    /// One delta of `text` as it is to be sent; whether it changed.
    fn piece(&mut self, text: Text, piece: &mut String, assembly: &Assembly) -> bool {
        let from = self.sent.get(&text).copied().unwrap_or(0);
        let to = from + piece.len();
        self.sent.insert(text, to);
        let Some(list) = self.stretches.get(&text) else {
            return false;
        };
        let full = assembly.text(text);
        let written = self.written.entry(text).or_insert_with(|| {
            // What went out before the first mask of this text was as it came.
            full.get(..from).unwrap_or("").to_string()
        });
        let rewritten = rewrite(full, from, to, piece, list);
        let changed = rewritten != *piece;
        *piece = rewritten;
        written.push_str(piece);
        changed
    }

    /// `whole` (the answer as audited) with the texts that were masked as they were sent.
    pub fn masked_completion(&self, whole: &Value, assembly: &Assembly) -> Value {
        let mut out = whole.clone();
        let Some(choices) = out.get_mut("choices").and_then(Value::as_array_mut) else {
            return out;
        };
        for choice in choices {
            let index = index_of(choice);
            let content = Text {
                choice: index,
                part: Part::Content,
            };
            if let (Some(written), Some(slot)) = (
                self.written.get(&content),
                choice.pointer_mut("/message/content"),
            ) {
                *slot = Value::from(written.as_str());
            }
            let Some(calls) = choice
                .pointer_mut("/message/tool_calls")
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for (position, call) in calls.iter_mut().enumerate() {
                let Some(tool) = assembly.tool_call_index(None, index, position) else {
                    continue;
                };
                let text = Text {
                    choice: index,
                    part: Part::ToolArguments(tool),
                };
                if let (Some(written), Some(slot)) = (
                    self.written.get(&text),
                    call.pointer_mut("/function/arguments"),
                ) {
                    *slot = Value::from(written.as_str());
                }
            }
        }
        out
    }
}

/// A choice's (or a tool call's) `index`, as the assembly reads it (missing: 0).
fn index_of(value: &Value) -> usize {
    value
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(0)
}

/// How a streamed answer's text is named in the receipt: a choice's content, or the arguments
/// of the tool call with that `index`.
fn field_of(text: Text) -> String {
    match text.part {
        Part::ToolArguments(i) => {
            format!(
                "/choices/{}/message/tool_calls/{i}/function/arguments",
                text.choice
            )
        }
        Part::Content | Part::ToolName(_) => format!("/choices/{}/message/content", text.choice),
    }
}

/// A per-character mask of `[start, end)` when two overlapping masks were widened into one.
fn rendered_star_fill(start: usize, end: usize) -> Rendered {
    Rendered::PerChar(vec!['*'; end.saturating_sub(start)])
}

/// The bytes `[from, to)` of `full` (`piece`) as they are to be sent, given the text's masked
/// stretches.
fn rewrite(
    full: &str,
    from: usize,
    to: usize,
    piece: &str,
    list: &[(usize, usize, Rendered)],
) -> String {
    let mut out = String::with_capacity(piece.len());
    let mut at = from;
    let first = list.partition_point(|(_, e, _)| *e <= from);
    for (s, e, rendered) in &list[first..] {
        if *s >= to {
            break;
        }
        if *s > at {
            out.push_str(full.get(at..*s).unwrap_or(""));
        }
        let lo = (*s).max(from);
        let hi = (*e).min(to);
        match rendered {
            Rendered::Nothing => {}
            Rendered::Whole(text) => {
                if *s >= from {
                    out.push_str(text);
                }
            }
            Rendered::PerChar(chars) => {
                // The characters of [lo, hi) are the n-th.. of the stretch.
                let skip = full.get(*s..lo).map_or(0, |t| t.chars().count());
                let take = full.get(lo..hi).map_or(0, |t| t.chars().count());
                out.extend(chars.iter().skip(skip).take(take));
                let missing = take.saturating_sub(chars.len().saturating_sub(skip));
                out.extend(std::iter::repeat_n('*', missing));
            }
        }
        at = hi;
    }
    if at < to {
        out.push_str(full.get(at..to).unwrap_or(""));
    }
    out
}

/// The assembled text a pointer of an audited answer (the whole, or a window whose texts start
/// at `window`) names: a choice's content, or a tool call's arguments (by the choice's and the
/// call's `index`).
fn locate(
    doc: &Value,
    field: &str,
    assembly: &Assembly,
    window: Option<&BTreeMap<Text, usize>>,
) -> Option<Text> {
    let rest = field.strip_prefix("/choices/")?;
    let (position, tail) = rest.split_once('/')?;
    let choice = index_of(doc.pointer(&format!("/choices/{position}"))?);
    if tail == "message/content" {
        return Some(Text {
            choice,
            part: Part::Content,
        });
    }
    let call: usize = tail
        .strip_prefix("message/tool_calls/")?
        .strip_suffix("/function/arguments")?
        .parse()
        .ok()?;
    let tool = assembly.tool_call_index(window, choice, call)?;
    Some(Text {
        choice,
        part: Part::ToolArguments(tool),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// [`apply`] with the default `[redaction]` styles.
    fn apply_default(
        doc: &mut Value,
        picked: &[Picked],
        phase: Phase,
    ) -> Result<Vec<Masked>, RedactError> {
        apply(doc, picked, phase, &RedactionConfig::default())
    }

    /// [`StreamMasks::add`] of an audit of the whole answer, with the default styles.
    fn add_whole(
        masks: &mut StreamMasks,
        whole: &Value,
        picked: &[Picked],
        assembly: &Assembly,
    ) -> Result<(), RedactError> {
        masks.add(
            whole,
            &BTreeMap::new(),
            picked,
            assembly,
            &RedactionConfig::default(),
        )
    }

    /// The text at `at` of each chunk `chunk(piece)` makes, as `masks` sends it, joined.
    fn sent_through(
        masks: &mut StreamMasks,
        assembly: &Assembly,
        pieces: &[&str],
        chunk: impl Fn(&str) -> Value,
        at: &str,
    ) -> String {
        pieces
            .iter()
            .map(|p| {
                let mut c = chunk(p);
                masks.chunk(&mut c, assembly);
                c.pointer(at).and_then(Value::as_str).unwrap().to_string()
            })
            .collect()
    }

    fn pick_of(field: &str, start: u32, end: u32, kind: &str) -> Picked {
        Picked {
            span: Span::new(field, start, end, kind),
            auditor: "pii".into(),
            claim: "pii_entities".into(),
            policy: "p.mask".into(),
        }
    }

    #[test]
    fn a_request_is_masked_in_place_with_the_style_of_each_kind() {
        let mut doc = json!({"model": "m", "messages": [
            {"role": "user", "content": "mail bob@example.com or pay 4111-1111-1111-1111"}
        ]});
        let picked = [
            pick_of("/messages/0/content", 5, 20, "email"),
            pick_of("/messages/0/content", 28, 47, "credit_card"),
        ];
        let masked = apply_default(&mut doc, &picked, Phase::Request).unwrap();
        assert_eq!(
            doc["messages"][0]["content"],
            "mail [EMAIL] or pay ****-****-****-1111"
        );
        assert_eq!(masked.len(), 2);
        assert_eq!(masked[1].style, "keep_last:4");
        assert_eq!(masked[0].replacement_bytes, 7);
    }

    #[test]
    fn overlapping_spans_merge_and_bad_ones_are_refused() {
        let mut doc = json!({"messages": [{"role": "user", "content": "abcdefghij"}]});
        let picked = [
            pick_of("/messages/0/content", 2, 6, "x"),
            pick_of("/messages/0/content", 4, 8, "y"),
        ];
        let masked = apply_default(&mut doc, &picked, Phase::Request).unwrap();
        assert_eq!(masked.len(), 1);
        assert_eq!((masked[0].start, masked[0].end), (2, 8));
        assert_eq!(doc["messages"][0]["content"], "ab[X]ij");

        let doc = json!({"model": "gpt", "messages": [{"role": "user", "content": "é"}]});
        let cases = [
            (pick_of("/model", 0, 1, "x"), "not a text the gateway masks"),
            (
                pick_of("/messages/0/content", 0, 1, "x"),
                "character boundaries",
            ),
            (
                pick_of("/messages/0/content", 0, 9, "x"),
                "character boundaries",
            ),
            (
                pick_of("/messages/1/content", 0, 1, "x"),
                "character boundaries",
            ),
            (
                pick_of("/choices/0/message/content", 0, 1, "x"),
                "not a text",
            ),
        ];
        for (p, expected) in cases {
            let err = apply_default(&mut doc.clone(), &[p], Phase::Request).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
    }

    #[test]
    fn tool_call_arguments_stay_valid_json_or_the_mask_is_refused() {
        let args = r#"{"to":"bob@example.com"}"#;
        let mut doc = json!({"messages": [{"role": "assistant", "content": null, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "send", "arguments": args}}
        ]}]});
        let field = "/messages/0/tool_calls/0/function/arguments";
        apply_default(&mut doc, &[pick_of(field, 7, 22, "email")], Phase::Request).unwrap();
        assert_eq!(doc.pointer(field).unwrap(), r#"{"to":"[EMAIL]"}"#);
        let mut doc2 = json!({"messages": [{"role": "assistant", "tool_calls": [
            {"function": {"name": "send", "arguments": args}}
        ]}]});
        // Masking the closing quote with a label breaks the document.
        let err =
            apply_default(&mut doc2, &[pick_of(field, 22, 23, "x")], Phase::Request).unwrap_err();
        assert!(matches!(err, RedactError::BrokenJson { .. }), "{err}");
    }

    #[test]
    fn masks_never_reshape_arguments_keep_logprobs_or_leave_text_as_it_was() {
        // Spans that would merge two string values (dropping a key) are refused.
        let args = r#"{"a":"x","b":"y"}"#;
        let mut doc = json!({"messages": [{"role": "assistant", "tool_calls": [
            {"function": {"name": "f", "arguments": args}}
        ]}]});
        let field = "/messages/0/tool_calls/0/function/arguments";
        let err =
            apply_default(&mut doc, &[pick_of(field, 7, 14, "x")], Phase::Request).unwrap_err();
        assert!(matches!(err, RedactError::BrokenJson { .. }), "{err}");
        // A masked choice loses its token log-probabilities; another choice keeps its own.
        let mut answer = json!({"choices": [
            {"index": 0, "message": {"content": "mail bob@x.io"}, "logprobs": {"content": [{"token": "bob"}]}},
            {"index": 1, "message": {"content": "hi"}, "logprobs": {"content": [{"token": "hi"}]}}
        ]});
        apply_default(
            &mut answer,
            &[pick_of("/choices/0/message/content", 5, 13, "email")],
            Phase::Response,
        )
        .unwrap();
        assert_eq!(answer["choices"][0]["logprobs"], Value::Null);
        assert_eq!(
            answer["choices"][1]["logprobs"]["content"][0]["token"],
            "hi"
        );
        // `mask` of a value without letters or digits would leave it: a label instead.
        let config = RedactionConfig {
            default: MaskStyle::Mask,
            ..RedactionConfig::default()
        };
        let mut doc = json!({"messages": [{"role": "user", "content": "pin #$%&! ok"}]});
        let masked = apply(
            &mut doc,
            &[pick_of("/messages/0/content", 4, 9, "secret")],
            Phase::Request,
            &config,
        )
        .unwrap();
        assert_eq!(doc["messages"][0]["content"], "pin [SECRET] ok");
        assert_eq!(masked[0].style, "label");
        // Overlapping kinds are written as a label, not in the laxer style of one of them.
        let mut doc = json!({"messages": [{"role": "user", "content": "k 4111111111111111 z"}]});
        let picked = [
            pick_of("/messages/0/content", 2, 18, "credit_card"),
            pick_of("/messages/0/content", 2, 20, "api_key"),
        ];
        apply_default(&mut doc, &picked, Phase::Request).unwrap();
        assert_eq!(doc["messages"][0]["content"], "k [CREDIT_CARD]");
    }

    #[test]
    fn a_rule_without_spans_is_an_error() {
        let rule = lucid_policy::Redact {
            policy: "p".into(),
            claim: "pii_entities".into(),
            kinds: vec!["email".into()],
        };
        let err = pick(std::slice::from_ref(&rule), &[]).unwrap_err();
        assert!(err.to_string().contains("no auditor proposed one"), "{err}");
        // A kind the claim reports (and the rule covers) without a span of it is refused too.
        let claim = AttributedClaim {
            auditor: "pii".into(),
            auditor_sha256: "0".repeat(64),
            claim: crate::runtime::claim::Claim::string_list("pii_entities", ["email", "us_ssn"])
                .with_span(Span::new("/messages/0/content", 0, 3, "email")),
        };
        let all = lucid_policy::Redact {
            kinds: Vec::new(),
            ..rule.clone()
        };
        let err = pick(&[all], std::slice::from_ref(&claim)).unwrap_err();
        assert!(err.to_string().contains("of kind us_ssn"), "{err}");
        assert_eq!(
            pick(&[rule], &[claim]).unwrap().len(),
            1,
            "email only is covered"
        );
    }

    fn chunk(content: &str) -> Value {
        json!({"choices": [{"index": 0, "delta": {"content": content}}]})
    }

    #[test]
    fn streamed_chunks_never_carry_a_masked_byte() {
        let pieces = [
            "write to bo",
            "b@exam",
            "ple.com now, card 4111 1111 ",
            "1111 1111.",
        ];
        let mut assembly = Assembly::new();
        for p in pieces {
            assembly.push(&chunk(p)).unwrap();
        }
        let whole = assembly.completion();
        let content = assembly
            .text(Text {
                choice: 0,
                part: Part::Content,
            })
            .to_string();
        let email = content.find("bob@").unwrap() as u32;
        let card = content.find("4111").unwrap() as u32;
        let picked = [
            pick_of("/choices/0/message/content", email, email + 15, "email"),
            pick_of("/choices/0/message/content", card, card + 19, "credit_card"),
        ];
        let mut masks = StreamMasks::default();
        add_whole(&mut masks, &whole, &picked, &assembly).unwrap();
        let sent: String = pieces
            .iter()
            .map(|p| {
                let mut c = chunk(p);
                masks.chunk(&mut c, &assembly);
                c["choices"][0]["delta"]["content"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(sent, "write to [EMAIL] now, card **** **** **** 1111.");
        assert_eq!(masks.masked.len(), 2);
    }

    #[test]
    fn a_window_mask_is_placed_by_its_window_start_and_a_late_one_refused() {
        let mut assembly = Assembly::new();
        assembly.push(&chunk("hello secret world")).unwrap();
        let text = Text {
            choice: 0,
            part: Part::Content,
        };
        // A window starting at byte 6 ("secret world").
        let starts = BTreeMap::from([(text, 6)]);
        let window = assembly.excerpt(&starts);
        let picked = [pick_of("/choices/0/message/content", 0, 6, "word")];
        let mut masks = StreamMasks::default();
        masks
            .add(
                &window,
                &starts,
                &picked,
                &assembly,
                &RedactionConfig::default(),
            )
            .unwrap();
        let mut c = chunk("hello secret world");
        masks.chunk(&mut c, &assembly);
        assert_eq!(c["choices"][0]["delta"]["content"], "hello [WORD] world");
        // Everything was sent: a new mask of "hello" comes too late.
        let late = [pick_of("/choices/0/message/content", 0, 5, "word")];
        let err = masks
            .add(
                &assembly.completion(),
                &BTreeMap::new(),
                &late,
                &assembly,
                &RedactionConfig::default(),
            )
            .unwrap_err();
        assert!(matches!(err, RedactError::Late { .. }), "{err}");
        // The same mask again is not late: it was written already.
        masks
            .add(
                &window,
                &starts,
                &picked,
                &assembly,
                &RedactionConfig::default(),
            )
            .unwrap();
    }

    #[test]
    fn many_windows_of_many_masks_stay_disjoint_and_in_order() {
        // 290 windows, each masking the same word where it occurs, overlapping the previous
        // window: every occurrence is one record and one stretch, in order.
        let word = "secret ";
        let full = word.repeat(3000);
        let mut assembly = Assembly::new();
        assembly.push(&chunk(&full)).unwrap();
        let text = Text {
            choice: 0,
            part: Part::Content,
        };
        let mut masks = StreamMasks::default();
        for w in 0..290 {
            let start = w * 70;
            let starts = BTreeMap::from([(text, start)]);
            let window = assembly.excerpt(&starts);
            let picked: Vec<Picked> = (0..20)
                .map(|k| k * word.len() as u32)
                .map(|at| pick_of("/choices/0/message/content", at, at + 6, "word"))
                .collect();
            masks
                .add(
                    &window,
                    &starts,
                    &picked,
                    &assembly,
                    &RedactionConfig::default(),
                )
                .unwrap();
        }
        let records = masks.masked.clone();
        assert!(records.windows(2).all(|w| w[0].end <= w[1].start));
        let list = &masks.stretches[&text];
        assert!(list.windows(2).all(|w| w[0].1 <= w[1].0));
        assert_eq!(records.len(), list.len());
        let mut c = chunk(&full);
        masks.chunk(&mut c, &assembly);
        let sent = c["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(sent.starts_with("[WORD] [WORD] "), "{}", &sent[..40]);
        assert_eq!(sent.matches("[WORD]").count(), records.len());
    }

    #[test]
    fn tool_call_arguments_of_a_stream_are_masked_chunk_by_chunk() {
        let call = |args: &str| {
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 3, "function": {"arguments": args}}
            ]}}]})
        };
        let pieces = [r#"{"to":"bo"#, r#"b@example.c"#, r#"om","n":1}"#];
        let mut assembly = Assembly::new();
        assembly
            .push(&json!({"choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 3, "id": "c", "function": {"name": "send", "arguments": ""}}
            ]}}]}))
            .unwrap();
        for p in pieces {
            assembly.push(&call(p)).unwrap();
        }
        let whole = assembly.completion();
        let field = "/choices/0/message/tool_calls/0/function/arguments";
        let mut masks = StreamMasks::default();
        add_whole(
            &mut masks,
            &whole,
            &[pick_of(field, 7, 22, "email")],
            &assembly,
        )
        .unwrap();
        let sent = sent_through(
            &mut masks,
            &assembly,
            &pieces,
            call,
            "/choices/0/delta/tool_calls/0/function/arguments",
        );
        assert_eq!(sent, r#"{"to":"[EMAIL]","n":1}"#);
        // Named by the call's index in the receipt; the sent answer commits to masked arguments.
        assert_eq!(
            masks.masked[0].field,
            "/choices/0/message/tool_calls/3/function/arguments"
        );
        let after = masks.masked_completion(&whole, &assembly);
        assert_eq!(
            after.pointer(field).and_then(Value::as_str),
            Some(r#"{"to":"[EMAIL]","n":1}"#)
        );
        // A mask that would reshape the arguments is refused.
        let err = add_whole(
            &mut StreamMasks::default(),
            &whole,
            &[pick_of(field, 0, 2, "x")],
            &assembly,
        )
        .unwrap_err();
        assert!(matches!(err, RedactError::BrokenJson { .. }), "{err}");
        // A streamed legacy function_call is assembled as a tool call: masked like one.
        let legacy = |args: &str| json!({"choices": [{"index": 0, "delta": {"function_call": {"arguments": args}}}]});
        let mut assembly = Assembly::new();
        assembly
            .push(&json!({"choices": [{"index": 0, "delta": {"function_call": {"name": "send", "arguments": ""}}}]}))
            .unwrap();
        for p in pieces {
            assembly.push(&legacy(p)).unwrap();
        }
        let whole = assembly.completion();
        let mut masks = StreamMasks::default();
        add_whole(
            &mut masks,
            &whole,
            &[pick_of(field, 7, 22, "email")],
            &assembly,
        )
        .unwrap();
        let sent = sent_through(
            &mut masks,
            &assembly,
            &pieces,
            legacy,
            "/choices/0/delta/function_call/arguments",
        );
        assert_eq!(sent, r#"{"to":"[EMAIL]","n":1}"#);
        // The legacy single function_call of a JSON-shaped document is not a text streams mask.
        let doc = json!({"choices": [{"index": 0, "message": {"content": "", "function_call": {"name": "f", "arguments": "abc"}}}]});
        let err = add_whole(
            &mut StreamMasks::default(),
            &doc,
            &[pick_of(
                "/choices/0/message/function_call/arguments",
                0,
                1,
                "x",
            )],
            &assembly,
        )
        .unwrap_err();
        assert!(matches!(err, RedactError::Unsupported { .. }), "{err}");
    }
}
