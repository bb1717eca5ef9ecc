//! The `mcp_firewall` auditor: holds tool use to allow and deny lists of tool names, MCP server
//! domains and argument patterns.
//!
//! What is inspected in an exchange:
//!
//! - **declared tools** (request `tools`, setting `inspect_declared`): functions by name (chat
//!   completions' `{"type":"function","function":{"name"}}` or the Responses API's flat
//!   `{"type":"function","name"}`); hosted tools by their type (`web_search`,
//!   `code_interpreter`...); MCP servers (`{"type":"mcp","server_label","server_url",
//!   "allowed_tools"}`) by the host of `server_url` and by their tools, named
//!   `mcp__<label>__<tool>`, or `mcp__<label>__*` when the declaration does not restrict them;
//! - **tool calls** in the response (what the model wants done now) and in the history (setting
//!   `inspect_history`): the name; the domain of the MCP server it belongs to when its name is
//!   `mcp__<label>__<tool>` or `<label>__<tool>` and that server is declared; the arguments
//!   against `denied_argument_patterns`; and every URL in the arguments (plus scheme-less values
//!   of keys such as `url`, `host` or `endpoint`) against the domain lists.
//!
//! Evidence names the tool, where it was seen, and the rule: the setting and the index of the
//! entry that matched, never the argument text.

mod host;
mod rules;
mod text;

use std::collections::BTreeSet;

use lucid_auditor_sdk::serde_json::{self, Value, json};
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, ToolCall,
    ToolCallOrigin, Vocabulary,
};

pub use host::{hosts_in_text, normalize_host};
pub use rules::{DEFAULT_DENIED_ARGUMENT_PATTERNS, DEFAULT_DENIED_DOMAINS, Rule, Rules, Violation};

/// Tool names in claims and evidence are cut to this many characters (OpenAI allows 64): names
/// come from the model or the client, and a hostile one could be arbitrarily long.
const MAX_NAME_CHARS: usize = 64;
/// At most this many names in `blocked_tools`, and reasons in its evidence; the rest are counted.
const MAX_REPORTED: usize = 64;

/// Argument keys whose string values name a host even without a scheme.
const HOST_KEYS: [&str; 12] = [
    "url", "uri", "href", "link", "host", "hostname", "domain", "endpoint", "server", "origin",
    "website", "site",
];

pub struct McpFirewall;

impl Auditor for McpFirewall {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "mcp_firewall",
            env!("CARGO_PKG_VERSION"),
            "Holds tools to allow and deny lists: tool names (MCP spellings mcp__server__tool and \
             server__tool understood), the domains of MCP servers and of URLs in arguments \
             (userinfo, ports, case, IDN and numeric-IP tricks normalised), and dangerous \
             argument patterns",
        )
        .phases([Phase::Execution])
        .claim(ClaimSpec::new(
            "tool_blocked",
            ClaimType::Boolean,
            "a declared tool or a tool call breaks one of the lists",
        ))
        .claim(ClaimSpec::new(
            "blocked_tools",
            ClaimType::StringList,
            "the names of the blocked tools, sorted (mcp__<label>__* for a whole MCP server); \
             metadata.reasons gives, per tool, where it was seen and the rule that blocked it",
        ))
        .setting(SettingSpec::string_list(
            "allowed_tools",
            Vec::<String>::new(),
            "tool name globs (`*` is any run of characters, case-insensitive); when not empty, \
             any other tool is blocked",
        ))
        .setting(SettingSpec::string_list(
            "denied_tools",
            Vec::<String>::new(),
            "tool name globs that are blocked; for MCP tools the bare tool name matches too",
        ))
        .setting(SettingSpec::string_list(
            "allowed_domains",
            Vec::<String>::new(),
            "domains (with their subdomains), `*` host globs or IPv4 networks a.b.c.d/n; when \
             not empty, MCP servers and URLs in arguments elsewhere are blocked",
        ))
        .setting(SettingSpec::string_list(
            "denied_domains",
            DEFAULT_DENIED_DOMAINS,
            "domains (with their subdomains), `*` host globs or IPv4 networks a.b.c.d/n that MCP \
             servers and URLs in arguments may not point to; cloud metadata hosts by default",
        ))
        .setting(SettingSpec::string_list(
            "denied_argument_patterns",
            DEFAULT_DENIED_ARGUMENT_PATTERNS,
            "text that may not appear in tool-call arguments: a substring, or a glob with `*`, \
             matched case-insensitively on the decoded JSON strings with whitespace collapsed \
             and paths folded (// and /./ are /, |/bin/sh is |sh); by default destructive \
             shell commands (rm -rf with its flags in any order or spelling, mkfs, writes to \
             disks, fork bombs), destructive SQL, credential and system files, metadata hosts, \
             file:// and a download piped into a shell or sudo",
        ))
        .setting(SettingSpec::boolean(
            "inspect_declared",
            true,
            "also check the tools the request declares, not only the calls",
        ))
        .setting(SettingSpec::boolean(
            "inspect_history",
            true,
            "also check tool calls already in the conversation, not only the response's",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let rules = Rules::from_settings(input.settings())?;
        let settings = input.settings();
        let declared = Declared::parse(input.request_json());
        let mut report = Report::default();
        if settings.boolean("inspect_declared").unwrap_or(true) {
            report.inspected.declared = declared.check(&rules, &mut report);
        }
        let inspect_history = settings.boolean("inspect_history").unwrap_or(true);
        for call in input.tool_calls() {
            let seen = match call.origin() {
                ToolCallOrigin::Request { .. } if !inspect_history => continue,
                ToolCallOrigin::Request { .. } => Seen::History,
                ToolCallOrigin::Response { .. } => Seen::Response,
            };
            check_call(call, seen, &rules, &declared, &mut report);
        }
        Ok(report.into_claims())
    }
}

lucid_auditor_sdk::export_auditor!(McpFirewall);

/// Where a tool was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    Declared,
    History,
    Response,
}

impl Seen {
    fn as_str(self) -> &'static str {
        match self {
            Self::Declared => "declared",
            Self::History => "history",
            Self::Response => "response",
        }
    }
}

/// The request's `tools`, as far as the firewall cares.
#[derive(Debug, Default)]
struct Declared<'a> {
    /// Function tools by name, hosted tools by type.
    tools: Vec<&'a str>,
    servers: Vec<McpServer<'a>>,
}

#[derive(Debug)]
struct McpServer<'a> {
    /// Lowercase, as tool names are matched lowercase.
    label: String,
    url: Option<&'a str>,
    /// `None` when the declaration does not restrict the server's tools.
    tools: Option<Vec<&'a str>>,
}

impl<'a> Declared<'a> {
    fn parse(request: &'a Value) -> Self {
        let mut declared = Self::default();
        let entries = request
            .get("tools")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for tool in entries {
            let str_field = |value: &'a Value, key: &str| value.get(key).and_then(Value::as_str);
            match str_field(tool, "type") {
                Some("mcp") => {
                    let allowed = tool.get("allowed_tools");
                    // A list of names, or a filter object {"tool_names": [...]}.
                    let names = allowed
                        .and_then(Value::as_array)
                        .or_else(|| allowed?.get("tool_names")?.as_array())
                        .map(|names| names.iter().filter_map(Value::as_str).collect());
                    declared.servers.push(McpServer {
                        label: str_field(tool, "server_label")
                            .unwrap_or_default()
                            .to_lowercase(),
                        url: str_field(tool, "server_url"),
                        tools: names,
                    });
                }
                Some("function") | None => {
                    let name = tool
                        .get("function")
                        .and_then(|function| str_field(function, "name"))
                        .or_else(|| str_field(tool, "name"));
                    declared.tools.extend(name);
                }
                Some(hosted) => declared.tools.push(hosted),
            }
        }
        declared
    }

    fn server(&self, label: &str) -> Option<&McpServer<'a>> {
        self.servers.iter().find(|server| server.label == label)
    }

    /// Checks every declared tool and server; returns how many were inspected.
    fn check(&self, rules: &Rules, report: &mut Report) -> usize {
        let mut inspected = 0;
        for name in &self.tools {
            inspected += 1;
            if let Some(violation) = rules.check_tool(name) {
                report.block(name, Seen::Declared, violation);
            }
        }
        for server in &self.servers {
            let whole = format!("mcp__{}__*", server.label);
            for violation in server
                .url
                .into_iter()
                .flat_map(|url| url_violations(rules, url))
            {
                report.block(&whole, Seen::Declared, violation);
            }
            match &server.tools {
                Some(tools) => {
                    for tool in tools {
                        inspected += 1;
                        let name = format!("mcp__{}__{tool}", server.label);
                        if let Some(violation) = rules.check_tool(&name) {
                            report.block(&name, Seen::Declared, violation);
                        }
                    }
                }
                None => {
                    inspected += 1;
                    if let Some(violation) = rules.check_tool(&whole) {
                        report.block(&whole, Seen::Declared, violation);
                    }
                }
            }
        }
        inspected
    }
}

fn check_call(
    call: &ToolCall,
    seen: Seen,
    rules: &Rules,
    declared: &Declared,
    report: &mut Report,
) {
    match seen {
        Seen::Response => report.inspected.response += 1,
        _ => report.inspected.history += 1,
    }
    let name = call.name();
    if let Some(violation) = rules.check_tool(name) {
        report.block(name, seen, violation);
    }
    // The MCP server the call goes to, when its name says so and the request declares it.
    let lower = name.to_lowercase();
    let unprefixed = lower.strip_prefix("mcp__").unwrap_or(&lower);
    if let Some((label, _)) = unprefixed.split_once("__")
        && let Some(url) = declared.server(label).and_then(|server| server.url)
    {
        for violation in url_violations(rules, url) {
            report.block(name, seen, violation);
        }
    }
    for violation in argument_violations(rules, call.arguments()) {
        report.block(name, seen, violation);
    }
}

/// The domain rules broken by the URL `url` (an MCP `server_url`).
fn url_violations(rules: &Rules, url: &str) -> Vec<Violation> {
    let hosts = if url.contains(':') {
        hosts_in_text(url)
    } else {
        host::hosts_of_bare(url)
    };
    hosts
        .iter()
        .filter_map(|host| rules.check_host(host))
        .collect()
}

/// The rules broken by one call's arguments: denied patterns in its text, and the domains of the
/// URLs in it.
fn argument_violations(rules: &Rules, arguments: &str) -> BTreeSet<Violation> {
    let mut found = BTreeSet::new();
    let parsed = serde_json::from_str::<Value>(arguments);
    let mut strings = Vec::new();
    match &parsed {
        Ok(value) => collect_strings(value, None, &mut strings),
        // Not JSON (a model may write anything): the raw text is what the tool would receive.
        Err(_) => strings.push((None, arguments)),
    }
    let mut hosts = Vec::new();
    for (key, text) in &strings {
        hosts.extend(hosts_in_text(text));
        let names_host = key.is_some_and(names_a_host);
        if names_host && !text.contains("://") {
            hosts.extend(host::hosts_of_bare(text));
        }
    }
    for host in &hosts {
        found.extend(rules.check_host(host));
    }
    // Strings are joined so that a command split over an array (["rm", "-rf", "/"]) still reads
    // as one; percent-decoding catches `%2Fetc%2Fpasswd`.
    let joined = strings
        .iter()
        .map(|(_, text)| *text)
        .collect::<Vec<_>>()
        .join(" ");
    let normalized = text::normalize(&joined);
    found.extend(rules.check_text(&normalized));
    let decoded = text::percent_decode(&joined);
    if decoded != joined {
        found.extend(rules.check_text(&text::normalize(&decoded)));
    }
    found
}

/// Whether an argument key names a host or URL: `url`, `server_url`, `base-url`, `baseUrl`...
fn names_a_host(key: &str) -> bool {
    HOST_KEYS.iter().any(|k| {
        let Some(at) = key.len().checked_sub(k.len()) else {
            return false;
        };
        key.is_char_boundary(at)
            && key[at..].eq_ignore_ascii_case(k)
            && (at == 0
                || key[..at].ends_with(['_', '-'])
                || key.as_bytes()[at].is_ascii_uppercase())
    })
}

/// Every string in a JSON document, keys included, with the key it is the value of.
fn collect_strings<'a>(
    value: &'a Value,
    key: Option<&'a str>,
    out: &mut Vec<(Option<&'a str>, &'a str)>,
) {
    match value {
        Value::String(text) => out.push((key, text)),
        Value::Array(items) => {
            for item in items {
                collect_strings(item, key, out);
            }
        }
        Value::Object(map) => {
            for (name, item) in map {
                out.push((None, name));
                collect_strings(item, Some(name), out);
            }
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

#[derive(Debug, Default)]
struct Inspected {
    declared: usize,
    history: usize,
    response: usize,
}

#[derive(Debug, Default)]
struct Report {
    /// (tool, where, violation), deduplicated and sorted.
    blocks: BTreeSet<(String, Seen, Violation)>,
    inspected: Inspected,
}

impl Report {
    fn block(&mut self, tool: &str, seen: Seen, violation: Violation) {
        let tool: String = tool.chars().take(MAX_NAME_CHARS).collect();
        self.blocks.insert((tool, seen, violation));
    }

    fn into_claims(self) -> Vec<Claim> {
        let names: BTreeSet<&str> = self
            .blocks
            .iter()
            .map(|(tool, _, _)| tool.as_str())
            .collect();
        let reasons: Vec<Value> = self
            .blocks
            .iter()
            .take(MAX_REPORTED)
            .map(|(tool, seen, violation)| {
                let mut reason = json!({
                    "tool": tool,
                    "seen": seen.as_str(),
                    "rule": violation.rule.setting(),
                });
                if let Some(index) = violation.index {
                    reason["index"] = Value::from(index);
                }
                reason
            })
            .collect();
        let blocked = !names.is_empty();
        vec![
            Claim::boolean("tool_blocked", blocked).with_metadata(json!({
                "inspected": {
                    "declared": self.inspected.declared,
                    "history": self.inspected.history,
                    "response": self.inspected.response,
                }
            })),
            Claim::string_list("blocked_tools", names.iter().take(MAX_REPORTED).copied())
                .with_metadata(json!({
                    "reasons": reasons,
                    "omitted_tools": names.len().saturating_sub(MAX_REPORTED),
                    "omitted_reasons": self.blocks.len().saturating_sub(MAX_REPORTED),
                })),
        ]
    }
}

#[cfg(test)]
mod tests;
