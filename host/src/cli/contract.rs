//! `lucid auditor test FILE --contract [--inputs DIR]`: an auditor called over built-in exchanges
//! of every phase (and the user's own cases), each call checked as the gateway checks it.
//!
//! The checks are the host's own, not a second copy: [`Auditor::observe`] refuses undeclared
//! claims, wrong types, claims of another phase, scores and confidences outside 0..1, duplicates
//! and oversized claim lists ([`lucid::runtime::claim::check_claim`]), and tells traps, timeouts
//! and memory exhaustion apart. This module supplies the exchanges and reports each outcome.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::{Value, json};

use super::{TestArgs, emit, read_file};
use lucid::exchange::redact;
use lucid::runtime::claim::Phase;
use lucid::runtime::plugin::{self, Auditor, ObservationInput};
use lucid::runtime::plugin_dir::{DESCRIBE_DEADLINE, LoadedPlugin, PluginSet, plugin_set_hash};
use lucid::runtime::sandbox::{EngineOptions, ErrorKind, Limits, Sandbox};
use lucid::runtime::vocabulary::{SettingValue, Settings, Vocabulary};
use lucid::runtime::{artifact_descriptor, default_config_hash};

/// Run the contract cases against `args.file`; print one report line per case (or one JSON
/// object) and the totals. Any failed case makes the command fail with one error line.
pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let limits = args.limits.limits();
    let sandbox = Sandbox::new(EngineOptions {
        fuel: limits.fuel.is_some(),
        ..EngineOptions::default()
    })?;
    let bytes = read_file(&args.file, "auditor")?;
    let file = args.file.display().to_string();
    let component = plugin::compile(&sandbox, &bytes).with_context(|| file.clone())?;
    let sha256 = plugin::sha256_hex(&bytes);
    // `describe` gets the gateway's load-time deadline: a busy machine must not fail a load.
    let describe_limits = Limits {
        deadline: DESCRIBE_DEADLINE.max(limits.deadline),
        ..limits
    };
    let load = || {
        Auditor::from_component(
            &sandbox,
            component.clone(),
            sha256.clone(),
            bytes.len() as u64,
            &describe_limits,
        )
        .with_context(|| file.clone())
    };
    let auditor = load()?;
    let vocabulary = &auditor.vocabulary;

    let mut base = vocabulary.default_settings();
    for assignment in &args.settings {
        let (name, value) = vocabulary
            .parse_assignment(assignment)
            .map_err(anyhow::Error::msg)?;
        base.0.insert(name, value);
    }
    let mut cases = builtin_cases(&auditor, &args.file);
    if let Some(dir) = &args.inputs {
        cases.extend(read_cases(dir, vocabulary)?);
    }

    let mut reports = vec![describe_again(&auditor, load)];
    let context = RunContext {
        auditor: &auditor,
        sandbox: &sandbox,
        base: &base,
        limits: &limits,
        args,
    };
    reports.extend(cases.iter().map(|case| context.run(case)));

    let count = |status| reports.iter().filter(|r| r.status == status).count();
    let (passed, failed, skipped) = (
        count(Status::Ok),
        count(Status::Error),
        count(Status::Skipped),
    );
    let summary = format!("contract: {passed} passed, {failed} failed, {skipped} skipped");
    if args.json {
        let out = json!({
            "auditor": vocabulary.id,
            "version": vocabulary.version,
            "sha256": auditor.sha256,
            "phases": vocabulary.phases,
            "deadline_ms": limits.deadline.as_millis() as u64,
            "cases": reports,
            "passed": passed,
            "failed": failed,
            "skipped": skipped,
            "summary": summary,
        });
        emit(&serde_json::to_string_pretty(&out)?);
    } else {
        let phases: Vec<&str> = vocabulary.phases.iter().map(|p| p.as_str()).collect();
        emit(&format!(
            "auditor {} {} (sha256 {}), observes {}; deadline {} ms",
            vocabulary.id,
            vocabulary.version,
            auditor.sha256,
            phases.join(", "),
            limits.deadline.as_millis()
        ));
        // Cases of a phase the auditor does not observe make one line per phase.
        for group in reports.chunk_by(|a, b| {
            a.status == Status::Skipped && b.status == Status::Skipped && a.phase == b.phase
        }) {
            match group {
                [report] => emit(&report.line()),
                [first, ..] => emit(&format!(
                    "skip  {:<10} {:<28} the auditor does not observe this phase",
                    first.phase,
                    format!("({} cases)", group.len())
                )),
                [] => {}
            }
        }
        emit(&summary);
    }
    match reports.iter().find(|r| r.status == Status::Error) {
        None => Ok(ExitCode::SUCCESS),
        Some(first) => Err(anyhow!(
            "auditor '{}' broke its contract in {failed} of {} cases (first: {} in the {} phase: {})",
            vocabulary.id,
            passed + failed,
            first.name,
            first.phase,
            first.error.as_deref().unwrap_or_default()
        )),
    }
}

/// One exchange to observe.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    phase: Phase,
    /// The chat request body (`{}` in the artifact phase, as the gateway sends it).
    request: Value,
    /// The chat response body, in the execution and response phases.
    response: Option<Value>,
    /// The artifact descriptor (artifact phase) or the exchange context (other phases).
    artifacts: Option<Value>,
    /// Settings over the defaults and `--set`, already typed against the vocabulary.
    settings: BTreeMap<String, SettingValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Ok,
    Error,
    Skipped,
}

/// What became of one case.
#[derive(Debug, Serialize)]
struct CaseReport {
    name: String,
    /// The phase observed, or `describe` for the vocabulary check.
    phase: &'static str,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<ErrorKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// How many claims the call returned.
    claims: usize,
    /// Their names, in the order returned.
    emitted: Vec<String>,
    duration_us: u64,
}

impl CaseReport {
    fn new(name: &str, phase: &'static str, status: Status) -> Self {
        CaseReport {
            name: name.to_string(),
            phase,
            status,
            kind: None,
            error: None,
            claims: 0,
            emitted: Vec::new(),
            duration_us: 0,
        }
    }

    fn failed(mut self, kind: Option<ErrorKind>, error: String) -> Self {
        self.status = Status::Error;
        self.kind = kind;
        self.error = Some(error);
        self
    }

    fn line(&self) -> String {
        let outcome = match self.status {
            Status::Ok if self.phase == "describe" => format!(
                "the same vocabulary on a second load, {} us",
                self.duration_us
            ),
            Status::Ok => format!(
                "{} claim{}, {} us",
                self.claims,
                if self.claims == 1 { "" } else { "s" },
                self.duration_us
            ),
            Status::Skipped => "the auditor does not observe this phase".to_string(),
            // A guest's message may span lines (a panic with a backtrace): keep one per case.
            Status::Error => self
                .error
                .as_deref()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        };
        let status = match self.status {
            Status::Ok => "ok",
            Status::Error => "FAIL",
            Status::Skipped => "skip",
        };
        format!("{status:<5} {:<10} {:<28} {outcome}", self.phase, self.name)
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// `describe` is read once per load and must not change between loads (the WIT contract): load
/// the component a second time and compare.
fn describe_again(auditor: &Auditor, load: impl FnOnce() -> anyhow::Result<Auditor>) -> CaseReport {
    let started = Instant::now();
    let again = load();
    let report = CaseReport {
        duration_us: micros(started.elapsed()),
        ..CaseReport::new("deterministic-vocabulary", "describe", Status::Ok)
    };
    match again {
        Err(e) => report.failed(
            None,
            format!("a second describe failed: {}", super::error_line(&e)),
        ),
        Ok(again) => {
            let first = serde_json::to_value(&auditor.vocabulary);
            let second = serde_json::to_value(&again.vocabulary);
            match (first, second) {
                (Ok(a), Ok(b)) if a == b => report,
                _ => report.failed(
                    None,
                    "describe returned a different vocabulary on a second load; it must be deterministic"
                        .to_string(),
                ),
            }
        }
    }
}

/// What every case runs with.
struct RunContext<'a> {
    auditor: &'a Auditor,
    sandbox: &'a Sandbox,
    base: &'a Settings,
    limits: &'a Limits,
    args: &'a TestArgs,
}

impl RunContext<'_> {
    fn run(&self, case: &Case) -> CaseReport {
        let report = CaseReport::new(&case.name, case.phase.as_str(), Status::Ok);
        if !self.auditor.vocabulary.observes(case.phase) {
            return CaseReport {
                status: Status::Skipped,
                ..report
            };
        }
        let mut settings = self.base.clone();
        settings.0.extend(case.settings.clone());
        // The artifact phase runs outside any exchange: the gateway gives it no scope.
        let scope = |s: &str| match case.phase {
            Phase::Artifact => String::new(),
            _ => s.to_string(),
        };
        let input = ObservationInput {
            phase: case.phase,
            request_id: format!("{}-{}", self.args.request_id, case.name),
            org: scope(&self.args.org),
            workspace: scope(&self.args.workspace),
            agent: scope(&self.args.agent),
            request: case.request.to_string(),
            response: case.response.as_ref().map(Value::to_string),
            artifacts: case.artifacts.as_ref().map(Value::to_string),
        };
        let started = Instant::now();
        match self
            .auditor
            .observe(self.sandbox, &input, &settings, self.limits)
        {
            Ok(observed) => {
                // Spans proposed for masking must fit the exact text the auditor observed.
                let observed_doc = match case.phase {
                    Phase::Request => Some(&case.request),
                    Phase::Response => case.response.as_ref(),
                    Phase::Artifact | Phase::Execution => None,
                };
                let spans = observed_doc.map_or(Ok(()), |doc| {
                    redact::check_proposed(&observed.claims, self.auditor.id(), doc, case.phase)
                });
                let report = CaseReport {
                    claims: observed.claims.len(),
                    emitted: observed.claims.into_iter().map(|c| c.name).collect(),
                    duration_us: micros(observed.duration),
                    ..report
                };
                match spans {
                    Ok(()) => report,
                    Err(e) => report.failed(Some(ErrorKind::Contract), e.to_string()),
                }
            }
            Err(e) => CaseReport {
                duration_us: micros(started.elapsed()),
                ..report
            }
            .failed(Some(e.kind), e.to_string()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The user's cases (--inputs DIR).

/// One `DIR/*.json` file, as written.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    name: Option<String>,
    phase: String,
    request: Option<Value>,
    response: Option<Value>,
    artifacts: Option<Value>,
    #[serde(default)]
    settings: serde_json::Map<String, Value>,
}

/// Every `*.json` file of `dir` (not recursive), by file name. A file that is not a valid case
/// is an error naming it: a broken case must not pass unnoticed.
fn read_cases(dir: &Path, vocabulary: &Vocabulary) -> anyhow::Result<Vec<Case>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the --inputs directory {}", dir.display()))?;
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read the --inputs directory {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    files
        .iter()
        .map(|path| read_case(path, vocabulary).with_context(|| format!("case {}", path.display())))
        .collect()
}

fn read_case(path: &Path, vocabulary: &Vocabulary) -> anyhow::Result<Case> {
    let bytes = read_file(path, "case")?;
    let file: CaseFile = serde_json::from_slice(&bytes).context(
        "expected {\"name\", \"phase\", \"request\", \"response\", \"artifacts\", \"settings\"}",
    )?;
    let phase: Phase = file
        .phase
        .parse()
        .map_err(|e: lucid_contract::UnknownName| anyhow!("{e}"))?;
    let name = match file.name {
        Some(name) if !name.trim().is_empty() => name,
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let object = |value: Option<Value>, what: &str| match value {
        Some(v) if !v.is_object() => bail!("'{what}' must be a JSON object"),
        v => Ok(v),
    };
    let request = object(file.request, "request")?;
    let response = object(file.response, "response")?;
    let artifacts = object(file.artifacts, "artifacts")?;
    let request = match (phase, request) {
        (Phase::Artifact, None) => json!({}),
        (_, None) => bail!("'request' is required in the {phase} phase"),
        (_, Some(request)) => {
            // A case the gateway would refuse is one no auditor can ever be given.
            lucid_openai::parse_request(request.to_string().as_bytes(), "mock-1")
                .map_err(|e| anyhow!("'request' is not a chat request the gateway accepts: {e}"))?;
            request
        }
    };
    match (phase, &response) {
        (Phase::Execution | Phase::Response, None) => {
            bail!("'response' is required in the {phase} phase")
        }
        (Phase::Artifact | Phase::Request, Some(_)) => {
            bail!("'response' is only given in the execution and response phases")
        }
        _ => {}
    }
    if phase == Phase::Execution && !lucid_openai::has_tool_calls(&request, response.as_ref()) {
        bail!(
            "the gateway runs the execution phase only for exchanges with tools or tool calls; \
             this one has none"
        );
    }
    let mut settings = BTreeMap::new();
    for (setting, value) in &file.settings {
        let Some(spec) = vocabulary.setting(setting) else {
            bail!("{}", vocabulary.unknown_setting(setting));
        };
        let value = SettingValue::from_json_as(spec.ty, value)
            .map_err(|e| anyhow!("setting '{setting}': {e}"))?;
        settings.insert(setting.clone(), value);
    }
    Ok(Case {
        name,
        phase,
        request,
        response,
        artifacts,
        settings,
    })
}

// ---------------------------------------------------------------------------------------------
// The built-in exchanges.

/// Size of the huge message of the request, execution and response cases: far above what
/// auditors see day to day, well within the gateway's 4 MiB request cap.
const HUGE_BYTES: usize = 256 << 10;

/// Text no auditor should stumble on: right-to-left scripts, emoji sequences (ZWJ, skin tones,
/// flags), combining marks, zero-width and bidi control characters, astral-plane letters, CJK,
/// and a NUL (valid in JSON and in a Rust string).
const UNICODE: &str = "مرحبا بالعالم — שָׁלוֹם עוֹלָם. Emoji: 👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽 🇪🇺 ❤️‍🔥. \
     Combining: e\u{301} n\u{303} Z\u{336}a\u{337}l\u{338}g\u{334}o\u{335} ก\u{e49}\u{e33}. \
     Zero-width: a\u{200b}b\u{200c}c\u{200d}d\u{2060}e\u{feff}f. \
     Bidi: \u{202e}exe.txt\u{202c} \u{2067}isolate\u{2069} \u{200f}rlm. \
     Astral: 𝓤𝓷𝓲𝓬𝓸𝓭𝓮 𐍈 𝄞. CJK: 你好，世界。日本語のテキスト。한국어. \
     Controls: tab\there, nul\u{0}here, line\u{2028}separator.";

/// A paragraph of ordinary support-chat prose, repeated to make the huge message.
const PROSE: &str = "Thanks for getting back to me. I went through the order history again and \
     the invoice from last March still shows the old address; could you check whether the \
     shipping label was printed before or after I changed it? My colleague Dana can be reached \
     at dana@example.com or +1 (555) 010-4477 if you need to confirm anything on our side. \
     Order 58213-B, three items, paid in full. ";

fn huge_text() -> String {
    let mut text = PROSE.repeat(HUGE_BYTES / PROSE.len() + 1);
    // PROSE is ASCII, so any length is a character boundary.
    text.truncate(HUGE_BYTES);
    text
}

fn chat(messages: Value) -> Value {
    json!({"model": "mock-1", "messages": messages})
}

fn system() -> Value {
    json!({"role": "system", "content": "You are a helpful assistant for an online shop."})
}

fn user(content: impl Into<Value>) -> Value {
    json!({"role": "user", "content": content.into()})
}

fn assistant(content: impl Into<Value>) -> Value {
    json!({"role": "assistant", "content": content.into()})
}

fn tool_call(id: &str, name: &str, arguments: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
}

fn calls(tool_calls: Vec<Value>) -> Value {
    json!({"role": "assistant", "content": null, "tool_calls": tool_calls})
}

fn tool_result(id: &str, content: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": content})
}

/// A completion as the upstream returns it, with one choice per message.
fn completion(messages: Vec<Value>, finish_reason: &str) -> Value {
    let choices: Vec<Value> = messages
        .into_iter()
        .enumerate()
        .map(|(index, message)| {
            json!({"index": index, "message": message, "logprobs": null, "finish_reason": finish_reason})
        })
        .collect();
    json!({
        "id": "chatcmpl-contract",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "mock-1",
        "choices": choices,
        "usage": {"prompt_tokens": 42, "completion_tokens": 17, "total_tokens": 59},
        "system_fingerprint": "fp_contract"
    })
}

fn function_tool(name: &str, description: &str, properties: Value) -> Value {
    let required: Vec<&String> = properties
        .as_object()
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    json!({"type": "function", "function": {
        "name": name,
        "description": description,
        "parameters": {"type": "object", "properties": properties, "required": required}
    }})
}

fn tools() -> Value {
    json!([
        function_tool(
            "get_weather",
            "Current weather for a city",
            json!({"city": {"type": "string"}})
        ),
        function_tool(
            "search_orders",
            "Search the shop's orders",
            json!({"query": {"type": "string"}, "limit": {"type": "integer"}})
        ),
        function_tool(
            "send_email",
            "Send an email to a customer",
            json!({"to": {"type": "string"}, "subject": {"type": "string"}, "body": {"type": "string"}})
        ),
    ])
}

fn with(mut request: Value, field: &str, value: Value) -> Value {
    if let Some(object) = request.as_object_mut() {
        object.insert(field.to_string(), value);
    }
    request
}

fn case(name: &str, phase: Phase, request: Value) -> Case {
    Case {
        name: name.to_string(),
        phase,
        request,
        response: None,
        artifacts: None,
        settings: BTreeMap::new(),
    }
}

impl Case {
    fn response(mut self, response: Value) -> Self {
        self.response = Some(response);
        self
    }

    fn artifacts(mut self, artifacts: Value) -> Self {
        self.artifacts = Some(artifacts);
        self
    }
}

/// The exchange context the gateway passes beside the body (the request's `x-lucid-*` headers).
fn context() -> Value {
    json!({"headers": {"x-lucid-region": "eu-west-1", "x-lucid-data-class": "confidential"}})
}

/// Every built-in case, in phase order. Settings are the defaults (and `--set`).
fn builtin_cases(auditor: &Auditor, file: &Path) -> Vec<Case> {
    let mut cases = artifact_cases(auditor, file);
    cases.extend(request_cases());
    cases.extend(execution_cases());
    cases.extend(response_cases());
    cases
}

/// The descriptor the gateway builds for a plugin set holding this auditor
/// ([`artifact_descriptor`]), with the optional hashes, with several auditors, and without.
fn artifact_cases(auditor: &Auditor, file: &Path) -> Vec<Case> {
    let set = PluginSet {
        plugins: vec![LoadedPlugin {
            file: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            auditor: auditor.clone(),
        }],
        entries: Vec::new(),
        hash: plugin_set_hash([(auditor.id(), auditor.sha256.as_str())]),
    };
    let policy_hash = plugin::sha256_hex(b"permit(principal, action, resource);\n");
    let full = artifact_descriptor(&set, Some(&policy_hash), Some(&default_config_hash()));
    let bare = artifact_descriptor(&set, None, None);
    let mut many = full.clone();
    let mut measurements: BTreeMap<String, String> = set.measurements();
    for other in [
        "pii",
        "injection",
        "token_budget",
        "toxicity",
        "geo-fence",
        "loop-breaker",
    ] {
        measurements
            .entry(other.to_string())
            .or_insert_with(|| plugin::sha256_hex(other.as_bytes()));
    }
    many["plugin_set_hash"] = json!(plugin_set_hash(
        measurements
            .iter()
            .map(|(id, sha)| (id.as_str(), sha.as_str()))
    ));
    many["auditors"] = json!(measurements);
    [
        ("descriptor", full),
        ("plugin-set-of-seven", many),
        ("optional-hashes-missing", bare),
    ]
    .into_iter()
    .map(|(name, descriptor)| case(name, Phase::Artifact, json!({})).artifacts(descriptor))
    .collect()
}

/// A conversation that used tools: calls (with `content` null, and without `content`), their
/// results, a legacy `function_call` and its `function` result.
fn tool_history() -> Vec<Value> {
    vec![
        system(),
        user("What's the weather in Paris, and where is my order 58213-B?"),
        calls(vec![
            tool_call("call_w1", "get_weather", r#"{"city":"Paris"}"#),
            tool_call(
                "call_o1",
                "search_orders",
                r#"{"query":"58213-B","limit":1}"#,
            ),
        ]),
        tool_result("call_w1", r#"{"temp_c":18,"sky":"clear"}"#),
        tool_result(
            "call_o1",
            r#"{"orders":[{"id":"58213-B","status":"shipped"}]}"#,
        ),
        json!({"role": "assistant", "tool_calls": [tool_call("call_w2", "get_weather", r#"{"city":"Lyon"}"#)]}),
        tool_result("call_w2", r#"{"temp_c":21,"sky":"cloudy"}"#),
        json!({"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Nice\"}"}}),
        json!({"role": "function", "name": "get_weather", "content": "{\"temp_c\":24}"}),
        assistant("Paris is 18 °C and clear; your order has shipped."),
        user("Thanks! And tomorrow?"),
    ]
}

fn request_cases() -> Vec<Case> {
    let r = Phase::Request;
    let long_conversation: Vec<Value> = (0..200)
        .flat_map(|i| {
            [
                user(format!("Question {i}: what about item {i}?")),
                assistant(format!("Item {i} is in stock.")),
            ]
        })
        .collect();
    let full = json!({
        "model": "mock-1",
        "messages": [
            {"role": "developer", "content": "Answer in one sentence."},
            {"role": "user", "name": "alice", "content": "Summarise our refund policy."}
        ],
        "temperature": 0.2,
        "top_p": 0.9,
        "n": 1,
        "max_tokens": 256,
        "max_completion_tokens": 256,
        "stop": ["\n\n"],
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "logit_bias": {"50256": -100},
        "seed": 7,
        "user": "user-1234",
        "stream": true,
        "stream_options": {"include_usage": true},
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"text": {"type": "string"}}}}},
        "metadata": {"ticket": "T-1"},
        "tools": tools(),
        "tool_choice": "auto",
        "parallel_tool_calls": true
    });
    vec![
        case(
            "basic",
            r,
            chat(json!([system(), user("What is your refund policy?")])),
        ),
        case("all-optional-fields", r, full),
        case(
            "minimal",
            r,
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        ),
        case("no-messages", r, json!({"messages": []})),
        case("empty-message", r, chat(json!([user("")]))),
        case(
            "huge-message",
            r,
            chat(json!([system(), user(huge_text())])),
        ),
        case("unicode", r, chat(json!([system(), user(UNICODE)]))),
        case(
            "content-parts",
            r,
            chat(json!([
                system(),
                user(json!([
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                    {"type": "text", "text": UNICODE},
                    {"type": "text", "text": ""}
                ]))
            ])),
        ),
        case("long-conversation", r, chat(json!(long_conversation))),
        // Personal data where an auditor proposing spans must address it exactly: a text part
        // after a non-text one, non-ASCII text before it, a tool call's arguments.
        case(
            "personal-data",
            r,
            chat(json!([
                {"role": "system", "content": "Escalate to +44 20 7946 0958 — Grüße 🙂."},
                user(json!([
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "text", "text": "Héllo 👋"},
                    {"type": "text", "text": "mail jörg.k@example.de or dana@example.com"}
                ])),
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "send", "arguments": "{\"to\":\"ann@example.org\",\"n\":1}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sent to ann@example.org"},
                user("thanks")
            ])),
        ),
        case(
            "tool-history",
            r,
            with(chat(json!(tool_history())), "tools", tools()),
        ),
        case(
            "with-context",
            r,
            chat(json!([user("Store this in the EU please.")])),
        )
        .artifacts(context()),
    ]
}

fn execution_cases() -> Vec<Case> {
    let e = Phase::Execution;
    let ask = |text: &str| with(chat(json!([system(), user(text)])), "tools", tools());
    // An agent that keeps making the same call with the same arguments, turn after turn.
    let mut agent_loop = vec![
        system(),
        user("Find my last order and email me its status."),
    ];
    for turn in 0..4 {
        let id = format!("call_loop{turn}");
        agent_loop.push(calls(vec![tool_call(
            &id,
            "search_orders",
            r#"{"query":"last order","limit":1}"#,
        )]));
        agent_loop.push(tool_result(&id, r#"{"orders":[]}"#));
    }
    let mcp_tools = json!([
        function_tool("mcp__github__create_issue", "Create a GitHub issue (MCP server github)", json!({"repo": {"type": "string"}, "title": {"type": "string"}})),
        function_tool("mcp__filesystem__read_file", "Read a file (MCP server filesystem)", json!({"path": {"type": "string"}})),
        {"type": "mcp", "server_label": "deepwiki", "server_url": "https://mcp.deepwiki.com/mcp", "allowed_tools": ["ask_question"]}
    ]);
    let huge_arguments =
        json!({"to": "dana@example.com", "subject": "Your order", "body": huge_text()}).to_string();
    vec![
        case("tools-declared", e, ask("What is the weather in Paris?"))
            .response(completion(vec![assistant("I can check that for you.")], "stop")),
        case("tool-call", e, ask("What is the weather in Paris?")).response(completion(
            vec![calls(vec![tool_call(
                "call_1",
                "get_weather",
                r#"{"city":"Paris"}"#,
            )])],
            "tool_calls",
        )),
        case("parallel-calls", e, ask("Weather in Paris and Tokyo, and find order 58213-B.")).response(
            completion(
                vec![calls(vec![
                    tool_call("call_p1", "get_weather", r#"{"city":"Paris"}"#),
                    tool_call("call_p2", "get_weather", r#"{"city":"東京"}"#),
                    tool_call("call_p3", "search_orders", r#"{"query":"58213-B","limit":5}"#),
                    tool_call("call_p4", "search_orders", "{}"),
                    tool_call("call_p5", "search_orders", ""),
                ])],
                "tool_calls",
            ),
        ),
        // The deprecated `function_call` form, in the history and in the answer.
        case(
            "legacy-function-call",
            e,
            with(
                chat(json!([
                    system(),
                    user("Weather in Nice, then in Cannes?"),
                    {"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Nice\"}"}},
                    {"role": "function", "name": "get_weather", "content": "{\"temp_c\":24}"}
                ])),
                "tools",
                tools(),
            ),
        )
        .response(completion(
            vec![json!({"role": "assistant", "content": null, "function_call": {"name": "get_weather", "arguments": "{\"city\":\"Cannes\"}"}})],
            "function_call",
        )),
        case("history-only", e, with(chat(json!(tool_history())), "tools", tools()))
            .response(completion(vec![assistant("Tomorrow: 20 °C in Paris.")], "stop")),
        case("agent-loop", e, with(chat(json!(agent_loop)), "tools", tools())).response(
            completion(
                vec![calls(vec![tool_call(
                    "call_loop4",
                    "search_orders",
                    r#"{"query":"last order","limit":1}"#,
                )])],
                "tool_calls",
            ),
        ),
        case("mcp-tools", e, with(chat(json!([user("Open an issue about the crash in /etc/app.log")])), "tools", mcp_tools))
            .response(completion(
                vec![calls(vec![
                    tool_call("call_m1", "mcp__filesystem__read_file", r#"{"path":"/etc/app.log"}"#),
                    tool_call("call_m2", "mcp__github__create_issue", r#"{"repo":"acme/app","title":"Crash on start"}"#),
                ])],
                "tool_calls",
            )),
        case("unicode-arguments", e, ask(UNICODE)).response(completion(
            vec![calls(vec![tool_call(
                "call_u",
                "send_email",
                &json!({"to": "dana@example.com", "subject": "👋", "body": UNICODE}).to_string(),
            )])],
            "tool_calls",
        )),
        case("huge-arguments", e, ask("Email Dana the whole thread.")).response(completion(
            vec![calls(vec![tool_call("call_h", "send_email", &huge_arguments)])],
            "tool_calls",
        )),
        case("with-context", e, ask("Weather in Frankfurt?"))
            .response(completion(
                vec![calls(vec![tool_call("call_c", "get_weather", r#"{"city":"Frankfurt"}"#)])],
                "tool_calls",
            ))
            .artifacts(context()),
    ]
}

fn response_cases() -> Vec<Case> {
    let p = Phase::Response;
    let ask = || chat(json!([system(), user("What is your refund policy?")]));
    let answer = "Refunds are accepted within 30 days of delivery.";
    vec![
        case("basic", p, ask()).response(completion(vec![assistant(answer)], "stop")),
        case("empty-answer", p, ask()).response(completion(vec![assistant("")], "stop")),
        case("null-content", p, ask()).response(completion(
            vec![
                json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
            ],
            "stop",
        )),
        case("no-choices", p, ask()).response(
            json!({"id": "chatcmpl-contract", "object": "chat.completion", "choices": []}),
        ),
        case(
            "minimal",
            p,
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .response(json!({"choices": [{"message": {"role": "assistant", "content": "Hello!"}}]})),
        case("multiple-choices", p, with(ask(), "n", json!(3))).response(completion(
            vec![assistant(answer), assistant(""), assistant(UNICODE)],
            "stop",
        )),
        case("content-parts", p, ask()).response(completion(
            vec![assistant(json!([
                {"type": "output_text", "text": answer},
                {"type": "text", "text": UNICODE},
                {"type": "refusal", "refusal": "Not that part."}
            ]))],
            "stop",
        )),
        case("unicode", p, ask()).response(completion(vec![assistant(UNICODE)], "stop")),
        case("personal-data", p, with(ask(), "n", json!(2))).response(completion(
            vec![
                assistant("Ünïcode first, then nothing personal."),
                assistant(json!([
                    {"type": "output_text", "text": "Reach Jane at"},
                    {"type": "text", "text": "jane.doe@example.com or +1 415 555 0100 🙂"}
                ])),
            ],
            "stop",
        )),
        case("huge-answer", p, ask()).response(completion(vec![assistant(huge_text())], "length")),
        case(
            "tool-history",
            p,
            with(chat(json!(tool_history())), "tools", tools()),
        )
        .response(completion(
            vec![assistant("Tomorrow: 20 °C in Paris.")],
            "stop",
        )),
        case("with-context", p, ask())
            .response(completion(vec![assistant(answer)], "stop"))
            .artifacts(context()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in cases are exchanges the gateway would really audit: requests it accepts,
    /// execution cases it would run the execution phase for, unique names per phase.
    #[test]
    fn builtin_cases_are_exchanges_the_gateway_audits() {
        let cases: Vec<Case> = request_cases()
            .into_iter()
            .chain(execution_cases())
            .chain(response_cases())
            .collect();
        let mut names = std::collections::HashSet::new();
        for case in &cases {
            assert!(
                names.insert((case.phase, case.name.clone())),
                "{} twice",
                case.name
            );
            let body = case.request.to_string();
            assert!(
                lucid_openai::parse_request(body.as_bytes(), "mock-1").is_ok(),
                "{}",
                case.name
            );
            assert!(body.len() < 4 << 20, "{} exceeds the body cap", case.name);
            match case.phase {
                Phase::Execution => {
                    assert!(case.response.is_some(), "{}", case.name);
                    assert!(
                        lucid_openai::has_tool_calls(&case.request, case.response.as_ref()),
                        "{}",
                        case.name
                    );
                }
                Phase::Response => assert!(case.response.is_some(), "{}", case.name),
                _ => assert!(case.response.is_none(), "{}", case.name),
            }
        }
        for phase in [Phase::Request, Phase::Execution, Phase::Response] {
            assert!(
                cases.iter().any(|c| c.phase == phase
                    && (c.request.to_string().len() > HUGE_BYTES
                        || c.response
                            .as_ref()
                            .is_some_and(|r| r.to_string().len() > HUGE_BYTES))),
                "no huge case in {phase}"
            );
        }
    }

    #[test]
    fn huge_text_has_the_advertised_size() {
        assert_eq!(huge_text().len(), HUGE_BYTES);
    }
}
