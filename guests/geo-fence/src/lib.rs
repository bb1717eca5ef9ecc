//! The `geo_fence` auditor: data sovereignty. It names the region an exchange's data belongs to
//! and says whether that region is one the operator allows.
//!
//! The region comes from, in order:
//!
//! 1. the `region` setting, which operators set per scope (an org, workspace or agent override):
//!    the authoritative answer, so a client cannot talk its way out of it;
//! 2. the request header `x-lucid-region`, which the gateway passes to auditors as exchange
//!    context, when `trust_header` is on (the default) — the client's own declaration;
//! 3. otherwise the region is `unknown`.
//!
//! Regions are compared case-insensitively, with `_` read as `-`, and an allowed entry also
//! allows the regions below it: `eu` allows `eu`, `eu-west-1` and `eu.central`, but not
//! `europe-west1` (prefixes only count at a `-` or `.` boundary). `*` allows any known region,
//! i.e. it requires that one be declared. An empty `allowed_regions` means no restriction:
//! every exchange is allowed, so that enabling the auditor with its defaults never blocks
//! traffic; set the list to fence. With a list, an unknown region is not allowed.
//!
//! A malformed `region` setting or `allowed_regions` entry is the operator's mistake and fails
//! the call (`invalid-input`, naming the setting); a malformed header is the client's, and only
//! makes the region unknown.

use lucid_auditor_sdk::serde_json::{Map, Value, json};
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, Vocabulary,
};

/// The header a client declares its data region with.
pub const REGION_HEADER: &str = "x-lucid-region";

/// The `region` claim when no region is known.
pub const UNKNOWN_REGION: &str = "unknown";

/// Region names are short identifiers (`eu-west-1`, `europe-west4`, `westeurope`); anything
/// longer is not a region, and bounding it keeps receipts small.
pub const MAX_REGION_LEN: usize = 64;

pub struct GeoFence;

impl Auditor for GeoFence {
    fn describe() -> Vocabulary {
        Vocabulary::new(
            "geo_fence",
            env!("CARGO_PKG_VERSION"),
            "Data sovereignty: the exchange's region, from the scope's region setting or else the \
             client's x-lucid-region header, checked against the allowed regions (an entry such \
             as 'eu' also allows 'eu-west-1')",
        )
        .phases([Phase::Request])
        .claim(ClaimSpec::new(
            "region",
            ClaimType::String,
            "the exchange's region, lowercase ('unknown' when neither the scope nor a trusted \
             header gives a well-formed one); metadata says where it came from",
        ))
        .claim(ClaimSpec::new(
            "region_allowed",
            ClaimType::Boolean,
            "the region is within allowed_regions (always true when allowed_regions is empty; \
             false for an unknown region otherwise)",
        ))
        .setting(SettingSpec::string(
            "region",
            "",
            "the scope's data region (e.g. 'eu-west-1'); set it per org, workspace or agent. \
             When set, it wins over the client's header",
        ))
        .setting(SettingSpec::string_list(
            "allowed_regions",
            Vec::<String>::new(),
            "regions data may belong to; an entry allows itself and the regions below it \
             ('eu' allows 'eu-west-1'), '*' any declared region; empty: no restriction",
        ))
        .setting(SettingSpec::boolean(
            "trust_header",
            true,
            "when the scope has no region, take the client's x-lucid-region header",
        ))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = input.settings();
        let scope_region = match settings.string("region").map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(normalize(raw).ok_or_else(|| {
                Error::invalid_input(format!(
                    "setting 'region' ('{}') is not a region name: expected at most \
                     {MAX_REGION_LEN} letters, digits, '-', '_' or '.'",
                    excerpt(raw)
                ))
            })?),
        };
        let fence = Fence::parse(settings.string_list("allowed_regions").unwrap_or_default())?;
        let trust_header = settings.boolean("trust_header").unwrap_or(true);

        let header = input
            .header(REGION_HEADER)
            .map(str::trim)
            .filter(|value| !value.is_empty());
        let header_region = header.and_then(normalize);
        let (region, source, header_status) = match (scope_region, header) {
            (Some(region), None) => (Some(region), "scope", "absent"),
            (Some(region), Some(_)) => (Some(region), "scope", "overridden"),
            (None, None) => (None, "none", "absent"),
            (None, Some(_)) if !trust_header => (None, "none", "untrusted"),
            (None, Some(_)) => match header_region.clone() {
                Some(region) => (Some(region), "header", "used"),
                None => (None, "none", "malformed"),
            },
        };

        let mut evidence = Map::new();
        evidence.insert("source".into(), source.into());
        evidence.insert("header".into(), header_status.into());
        if header_status == "overridden"
            && let (Some(scope), Some(declared)) = (&region, &header_region)
        {
            // A client declaring a region outside the scope's is worth a look even though the
            // scope's region decides: it may be a misrouted client.
            let consistent = within(declared, scope) || within(scope, declared);
            evidence.insert("header_disagrees".into(), (!consistent).into());
        }

        let verdict = fence.admits(region.as_deref());
        Ok(vec![
            Claim::string("region", region.as_deref().unwrap_or(UNKNOWN_REGION))
                .with_metadata(Value::Object(evidence)),
            Claim::boolean("region_allowed", verdict.allowed).with_metadata(verdict.evidence),
        ])
    }
}

lucid_auditor_sdk::export_auditor!(GeoFence);

/// The normalized form of a region name: trimmed, lowercase, `_` as `-`. `None` when it is
/// empty, too long or has characters no region name has.
pub fn normalize(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let well_formed = !raw.is_empty()
        && raw.len() <= MAX_REGION_LEN
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    well_formed.then(|| {
        raw.bytes()
            .map(|b| match b {
                b'_' => '-',
                _ => char::from(b.to_ascii_lowercase()),
            })
            .collect()
    })
}

/// Whether `region` is `area` or lies below it (`eu-west-1` is within `eu` and `eu-west`, not
/// within `e` or `eu-w`). Both normalized.
pub fn within(region: &str, area: &str) -> bool {
    match region.strip_prefix(area) {
        Some("") => true,
        Some(rest) => rest.starts_with(['-', '.']),
        None => false,
    }
}

/// The allowed regions, normalized.
#[derive(Debug)]
struct Fence {
    entries: Vec<Entry>,
}

#[derive(Debug)]
enum Entry {
    /// `*`: any known region.
    Any,
    Area(String),
}

struct Verdict {
    allowed: bool,
    evidence: Value,
}

impl Fence {
    fn parse(list: &[String]) -> Result<Self, Error> {
        let mut entries = Vec::with_capacity(list.len());
        for (index, raw) in list.iter().enumerate() {
            let trimmed = raw.trim();
            // `eu-*` and `eu*` read as `eu`: the prefix rule already allows what is below.
            let area = trimmed
                .strip_suffix('*')
                .map_or(trimmed, |rest| rest.trim_end_matches(['-', '_', '.']));
            let entry = if area.is_empty() && !trimmed.is_empty() {
                Entry::Any
            } else {
                Entry::Area(normalize(area).ok_or_else(|| {
                    Error::invalid_input(format!(
                        "setting 'allowed_regions' entry {index} ('{}') is not a region name: \
                         expected at most {MAX_REGION_LEN} letters, digits, '-', '_' or '.', \
                         optionally ending in '*', or '*' alone",
                        excerpt(raw)
                    ))
                })?)
            };
            entries.push(entry);
        }
        Ok(Self { entries })
    }

    fn admits(&self, region: Option<&str>) -> Verdict {
        if self.entries.is_empty() {
            return Verdict {
                allowed: true,
                evidence: json!({ "restricted": false }),
            };
        }
        let matched = region.and_then(|region| {
            self.entries.iter().find_map(|entry| match entry {
                Entry::Area(area) if within(region, area) => Some(area.as_str()),
                Entry::Any => Some("*"),
                Entry::Area(_) => None,
            })
        });
        let mut evidence = json!({ "restricted": true, "allowed_regions": self.entries.len() });
        if let Some(entry) = matched {
            evidence["matched"] = entry.into();
        }
        Verdict {
            allowed: matched.is_some(),
            evidence,
        }
    }
}

/// At most 64 characters of a setting value, for error messages.
fn excerpt(raw: &str) -> String {
    const MAX_CHARS: usize = 64;
    let mut chars = raw.chars();
    let mut shown: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown.escape_debug().to_string()
}

#[cfg(test)]
mod tests;
