//! Credentials: private key PEM blocks, JSON Web Tokens, vendor API keys recognized by their
//! prefixes, and generic secrets — high-entropy values assigned to a name such as `password`,
//! `api_key` or `token`, passwords in URLs, and `Bearer` tokens.
//!
//! Spans cover what must be redacted: the whole PEM block, the whole token, and for an
//! assignment the value only (the name stays readable).

use super::text::{at_word_start, entropy, find, is_word};
use super::{Kind, Scanner};

pub(crate) fn scan(scanner: &mut Scanner) {
    private_keys(scanner);
    tokens(scanner);
    assignments(scanner);
    url_passwords(scanner);
}

// ---------------------------------------------------------------------------------------------
// Private keys: `-----BEGIN … PRIVATE KEY-----` to the matching END line.

const BEGIN: &[u8] = b"-----BEGIN ";
const DASHES: &[u8] = b"-----";

fn private_keys(scanner: &mut Scanner) {
    let mut from = 0;
    // Where no END marker follows any more: a text of many BEGIN lines without END is scanned
    // once, not once per BEGIN.
    let mut no_end_after = usize::MAX;
    while let Some(begin) = find(scanner.bytes(), from, BEGIN) {
        let bytes = scanner.bytes();
        let label_start = begin + BEGIN.len();
        let Some(label_end) =
            find(bytes, label_start, DASHES).filter(|end| end - label_start <= 40)
        else {
            from = label_start;
            continue;
        };
        let label = &bytes[label_start..label_end];
        if !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK")) {
            from = label_end;
            continue;
        }
        let body = label_end + DASHES.len();
        let end = if body >= no_end_after {
            None
        } else {
            match find(bytes, body, b"-----END ") {
                Some(end_marker) => {
                    let after = end_marker + b"-----END ".len();
                    find(bytes, after, DASHES)
                        .filter(|close| close - after <= 40)
                        .map(|close| close + DASHES.len())
                }
                None => {
                    no_end_after = body;
                    None
                }
            }
        };
        // Without an END line (a key pasted in part) the block runs as far as its base64 does.
        let end = end.unwrap_or_else(|| base64_body_end(bytes, body));
        scanner.record(Kind::PrivateKey, begin, end);
        from = end;
    }
}

/// The end of base64 lines starting at `from`; line breaks may be real or JSON-escaped (`\n`).
fn base64_body_end(bytes: &[u8], from: usize) -> usize {
    let mut end = from;
    let mut i = from;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=') {
            i += 1;
            end = i;
        } else if matches!(b, b'\n' | b'\r') {
            // A blank line ends the block.
            if bytes[end..i].contains(&b'\n') && b == b'\n' {
                break;
            }
            i += 1;
        } else if b == b'\\' && matches!(bytes.get(i + 1), Some(b'n' | b'r')) {
            if bytes[end..i].windows(2).any(|w| w == b"\\n") && bytes[i + 1] == b'n' {
                break;
            }
            i += 2;
        } else if b == b':' || b == b'-' || b == b',' {
            // Header lines of encrypted keys: `Proc-Type: 4,ENCRYPTED`.
            i += 1;
        } else {
            break;
        }
    }
    end
}

// ---------------------------------------------------------------------------------------------
// Tokens with a recognizable shape: JWTs and vendor keys.

/// A token character of base64url and the key alphabets.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn tokens(scanner: &mut Scanner) {
    let mut i = 0;
    while i < scanner.bytes().len() {
        let bytes = scanner.bytes();
        // The first two bytes of every JWT and key prefix: most words are rejected here.
        let candidate =
            matches!(
                bytes.get(i..i + 2),
                Some(
                    b"ey"
                        | b"AK"
                        | b"AS"
                        | b"AB"
                        | b"AC"
                        | b"A3"
                        | b"AI"
                        | b"gh"
                        | b"gi"
                        | b"gl"
                        | b"xo"
                        | b"xa"
                        | b"sk"
                        | b"rk"
                        | b"hf"
                        | b"np"
                )
            ) && (i == 0 || !is_token(bytes[i - 1]) || super::text::escaped_boundary(bytes, i));
        if !candidate {
            i += 1;
            continue;
        }
        let found = jwt_at(bytes, i)
            .map(|end| (Kind::Jwt, end))
            .or_else(|| vendor_key_at(bytes, i).map(|end| (Kind::ApiKey, end)));
        match found {
            Some((kind, end)) => {
                scanner.record(kind, i, end);
                i = end;
            }
            None => i += 1,
        }
    }
}

/// The end of the run of `accept` bytes starting at `from`.
fn run(bytes: &[u8], from: usize, accept: impl Fn(u8) -> bool) -> usize {
    run_max(bytes, from, usize::MAX, accept)
}

/// The end of the run of `accept` bytes starting at `from`, reading at most `max` bytes: a
/// value longer than any secret is rejected without being read to its end, which keeps
/// `password=password=…` linear.
fn run_max(bytes: &[u8], from: usize, max: usize, accept: impl Fn(u8) -> bool) -> usize {
    let limit = bytes.len().min(from.saturating_add(max));
    let mut end = from;
    while end < limit && accept(bytes[end]) {
        end += 1;
    }
    end
}

/// `header.payload.signature`, each base64url; header and payload are JSON objects, so both
/// start with `ey` (`{"` encoded). Encrypted tokens (JWE) have five parts.
fn jwt_at(bytes: &[u8], start: usize) -> Option<usize> {
    if !bytes[start..].starts_with(b"eyJ") {
        return None;
    }
    let is_b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let header_end = run(bytes, start, is_b64);
    if header_end - start < 10 || bytes.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload = header_end + 1;
    let payload_end = run(bytes, payload, is_b64);
    if payload_end - payload < 10 || !bytes[payload..].starts_with(b"ey") {
        return None;
    }
    let mut end = payload_end;
    // The signature (empty for `alg: none`), and two more parts for JWE.
    for _ in 0..3 {
        if bytes.get(end) != Some(&b'.') {
            break;
        }
        let part_end = run(bytes, end + 1, is_b64);
        if part_end == end + 1 && bytes.get(part_end).is_some_and(|b| is_b64(*b)) {
            break;
        }
        end = part_end;
    }
    if bytes.get(end) == Some(&b'.') && end == payload_end {
        end += 1; // `header.payload.` with an empty signature
    }
    (end >= bytes.len() || !is_b64(bytes[end])).then_some(end)
}

/// One vendor key format: a literal prefix, then a body of `min..=max` bytes of `alphabet`.
struct VendorKey {
    prefix: &'static [u8],
    min: usize,
    max: usize,
    alphabet: fn(u8) -> bool,
}

const fn key(prefix: &'static [u8], min: usize, max: usize, alphabet: fn(u8) -> bool) -> VendorKey {
    VendorKey {
        prefix,
        min,
        max,
        alphabet,
    }
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn upper_alnum(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fn lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn word_char(b: u8) -> bool {
    is_word(b)
}

fn token_char(b: u8) -> bool {
    is_token(b)
}

/// Formats as published by the vendors (and used by secret scanners such as gitleaks).
const VENDOR_KEYS: &[VendorKey] = &[
    // AWS access key ids: AKIA (long-term), ASIA (temporary) and friends, 16 base32 characters.
    key(b"AKIA", 16, 16, upper_alnum),
    key(b"ASIA", 16, 16, upper_alnum),
    key(b"ABIA", 16, 16, upper_alnum),
    key(b"ACCA", 16, 16, upper_alnum),
    key(b"A3T", 17, 17, upper_alnum),
    // GitHub: classic tokens by type, and fine-grained personal access tokens.
    key(b"ghp_", 36, 251, alnum),
    key(b"gho_", 36, 251, alnum),
    key(b"ghu_", 36, 251, alnum),
    key(b"ghs_", 36, 251, alnum),
    key(b"ghr_", 36, 251, alnum),
    key(b"github_pat_", 22, 251, word_char),
    // Slack bot, user, app-level, refresh and legacy tokens.
    key(b"xoxb-", 20, 255, token_char),
    key(b"xoxp-", 20, 255, token_char),
    key(b"xoxa-", 20, 255, token_char),
    key(b"xoxe-", 20, 255, token_char),
    key(b"xoxe.", 20, 255, token_char),
    key(b"xoxo-", 20, 255, token_char),
    key(b"xoxr-", 20, 255, token_char),
    key(b"xoxs-", 20, 255, token_char),
    key(b"xapp-", 20, 255, token_char),
    // Anthropic before OpenAI: both start with `sk-`.
    key(b"sk-ant-", 32, 255, token_char),
    // OpenAI: legacy `sk-…`, project, service-account and admin keys.
    key(b"sk-proj-", 40, 255, token_char),
    key(b"sk-svcacct-", 40, 255, token_char),
    key(b"sk-admin-", 40, 255, token_char),
    key(b"sk-", 32, 255, token_char),
    // Stripe secret and restricted keys (publishable `pk_` keys are public by design).
    key(b"sk_live_", 10, 247, alnum),
    key(b"sk_test_", 10, 247, alnum),
    key(b"sk_prod_", 10, 247, alnum),
    key(b"rk_live_", 10, 247, alnum),
    key(b"rk_test_", 10, 247, alnum),
    key(b"rk_prod_", 10, 247, alnum),
    // Google API keys.
    key(b"AIza", 35, 35, token_char),
    // GitLab personal access tokens, Hugging Face and npm tokens.
    key(b"glpat-", 20, 255, token_char),
    key(b"hf_", 34, 34, alnum),
    key(b"npm_", 36, 36, lower_alnum),
];

fn vendor_key_at(bytes: &[u8], start: usize) -> Option<usize> {
    let rest = &bytes[start..];
    let key = VENDOR_KEYS
        .iter()
        .find(|key| rest.starts_with(key.prefix))?;
    let body = start + key.prefix.len();
    let end = run(bytes, body, key.alphabet);
    let len = end - body;
    if !(key.min..=key.max).contains(&len) || bytes.get(end).is_some_and(|b| is_token(*b)) {
        return None;
    }
    // `sk-` and the like are also ordinary words (`sk-learn`): a key body mixes digits and
    // letters.
    let body = &bytes[body..end];
    let mixed = body.iter().any(u8::is_ascii_digit) && body.iter().any(u8::is_ascii_alphabetic);
    mixed.then_some(end)
}

// ---------------------------------------------------------------------------------------------
// Generic secrets: a credential-like name, an assignment, and a random-looking value.

/// Names (compared without case, `_` and `-`) that announce a secret value when an identifier
/// ends with them: `DB_PASSWORD`, `apiKey`, `client-secret`, `aws_secret_access_key`.
const SECRET_NAMES: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"passphrase",
    b"pwd",
    b"secret",
    b"token",
    b"apikey",
    b"accesskey",
    b"privatekey",
    b"authkey",
    b"clientkey",
    b"secretkey",
    b"signingkey",
    b"encryptionkey",
    b"masterkey",
    b"credential",
    b"credentials",
    b"authorization",
];

/// Values that stand for a secret without being one.
const PLACEHOLDERS: &[&[u8]] = &[
    b"your",
    b"xxxx",
    b"****",
    b"....",
    b"<",
    b">",
    b"${",
    b"{{",
    b"%(",
    b"example",
    b"changeme",
    b"placeholder",
    b"redacted",
    b"dummy",
    b"secret",
    b"password",
    b"token",
    b"environ",
    b"process.env",
    b"getenv",
    b"null",
    b"none",
    b"undefined",
];

const MIN_SECRET_LEN: usize = 10;
const MAX_SECRET_LEN: usize = 512;
/// Bits per character: random hex is ~3.7-4, base64 ~4.5-5.5, words and identifiers below 3.3.
pub(crate) const MIN_ENTROPY: f64 = 3.0;

fn assignments(scanner: &mut Scanner) {
    let mut i = 0;
    while i < scanner.bytes().len() {
        let bytes = scanner.bytes();
        if !(bytes[i].is_ascii_alphabetic() && at_word_start(bytes, i)) {
            i += 1;
            continue;
        }
        let name_end = run(bytes, i, |b| is_word(b) || b == b'-' || b == b'.');
        // The assignment is checked before the name: most words are followed by no `=` or `:`.
        let value = assigned_at(bytes, name_end)
            .filter(|_| names_secret(&bytes[i..name_end]))
            .map(|value| value_at(bytes, value));
        match value {
            Some((start, end)) if is_secret_value(&bytes[start..end]) => {
                scanner.record(Kind::Secret, start, end);
                i = end;
            }
            // A run longer than any secret: the names inside it are skipped too, which keeps
            // `password=password=…` linear.
            Some((start, end)) if end - start > MAX_SECRET_LEN => i = end,
            _ => i = name_end.max(i + 1),
        }
    }
}

/// Whether an identifier names a secret: it ends with one of [`SECRET_NAMES`] (or its plural),
/// or is `key`. The last dotted part counts (`settings.SECRET_KEY`). `tokenizer` and
/// `token_count` do not end with a secret name; `max_tokens` does and is rejected by its value.
fn names_secret(name: &[u8]) -> bool {
    if name.len() > 64 {
        return false;
    }
    let last = name.rsplit(|b| *b == b'.').next().unwrap_or(name);
    let mut folded = [0u8; 64];
    let mut len = 0;
    for &b in last {
        if b != b'_' && b != b'-' {
            folded[len] = b.to_ascii_lowercase();
            len += 1;
        }
    }
    let folded = &folded[..len];
    // Public keys are not secret.
    if folded.starts_with(b"pub") {
        return false;
    }
    let singular = folded.strip_suffix(b"s").unwrap_or(folded);
    folded == b"key"
        || SECRET_NAMES
            .iter()
            .any(|secret| folded.ends_with(secret) || singular.ends_with(secret))
}

/// Where the value starts after a name ending at `pos`: `= v`, `: v`, `:= v`, `=> v`, with the
/// name's closing quote allowed (`"api_key": …`, `['token'] = …`).
fn assigned_at(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut p = pos;
    // The name's closing quote or bracket: `"api_key": …`, `['token'] = …`.
    while p < bytes.len() && matches!(bytes[p], b'"' | b'\'' | b'`' | b']') && p - pos < 2 {
        p += 1;
    }
    p = skip_spaces(bytes, p);
    match bytes.get(p..p + 2) {
        Some(b":=" | b"=>") => p += 2,
        _ => match bytes.get(p) {
            Some(b'=') if bytes.get(p + 1) != Some(&b'=') => p += 1,
            Some(b':') => p += 1,
            _ => return None,
        },
    }
    Some(skip_spaces(bytes, p))
}

/// The value starting at `p`: quoted or not, after `Bearer ` for `Authorization`. Read up to
/// one byte past the longest secret.
fn value_at(bytes: &[u8], mut p: usize) -> (usize, usize) {
    if bytes.get(p) == Some(&b'@') {
        p += 1; // C# verbatim strings: @"…"
    }
    // `Authorization: Bearer …` / `Basic …`
    for scheme in [&b"Bearer "[..], b"bearer ", b"Basic ", b"Token "] {
        if bytes[p..].starts_with(scheme) {
            p += scheme.len();
            break;
        }
    }
    let quote = match bytes.get(p) {
        Some(q @ (b'"' | b'\'' | b'`')) => {
            p += 1;
            Some(*q)
        }
        _ => None,
    };
    let start = p;
    let end = match quote {
        Some(q) => run_max(bytes, start, MAX_SECRET_LEN + 1, |b| {
            b != q && b != b'\n' && b != b'\\'
        }),
        None => unquoted_end(bytes, start),
    };
    (start, end)
}

/// The end of an unquoted value: up to a space, quote, `,` or `;`, and before `&name=` (the
/// next URL parameter). Generated passwords hold `)`, `]` and `}`; trailing ones that close
/// nothing opened in the value, and a sentence's final `.`, are not part of it.
fn unquoted_end(bytes: &[u8], start: usize) -> usize {
    let mut end = run_max(bytes, start, MAX_SECRET_LEN + 1, |b| {
        !(b.is_ascii_whitespace() || matches!(b, b',' | b';' | b'"' | b'\'' | b'`' | b'\\'))
    });
    if let Some(amp) = bytes[start..end].iter().enumerate().position(|(i, b)| {
        *b == b'&' && {
            let name_end = run_max(bytes, start + i + 1, 64, is_word);
            name_end > start + i + 1 && bytes.get(name_end) == Some(&b'=')
        }
    }) {
        end = start + amp;
    }
    loop {
        let value = &bytes[start..end];
        let Some(&last) = value.last() else { break };
        let open = match last {
            b')' => b'(',
            b']' => b'[',
            b'}' => b'{',
            b'.' => {
                end -= 1;
                continue;
            }
            _ => break,
        };
        let opened = value.iter().filter(|b| **b == open).count();
        let closed = value.iter().filter(|b| **b == last).count();
        if closed > opened {
            end -= 1;
        } else {
            break;
        }
    }
    end
}

fn skip_spaces(bytes: &[u8], mut p: usize) -> usize {
    while p < bytes.len() && (bytes[p] == b' ' || bytes[p] == b'\t') {
        p += 1;
    }
    p
}

/// Long enough, random-looking, mixing character classes, and no placeholder.
pub(crate) fn is_secret_value(value: &[u8]) -> bool {
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&value.len()) {
        return false;
    }
    let digits = value.iter().any(u8::is_ascii_digit);
    let lower = value.iter().any(u8::is_ascii_lowercase);
    let upper = value.iter().any(u8::is_ascii_uppercase);
    let other = value.iter().any(|b| !b.is_ascii_alphanumeric());
    let letters = lower || upper;
    // Generated secrets mix letters with digits (or both cases with symbols); words, model
    // names (`bert-base-uncased`), numbers and masked matches (runs of `x`) do not, or carry
    // little entropy. Secrets have no spaces.
    ((letters && digits) || (lower && upper && other))
        && !value.iter().any(u8::is_ascii_whitespace)
        && entropy(value) >= MIN_ENTROPY
        && !PLACEHOLDERS
            .iter()
            .any(|p| super::text::contains_ignore_case(value, p))
}

/// `scheme://user:password@host`: the password.
fn url_passwords(scanner: &mut Scanner) {
    let mut from = 0;
    while let Some(sep) = find(scanner.bytes(), from, b"://") {
        let bytes = scanner.bytes();
        let user_start = sep + 3;
        let authority_end = run(bytes, user_start, |b| {
            !(b.is_ascii_whitespace() || matches!(b, b'/' | b'?' | b'#' | b'"' | b'\'' | b'`'))
        });
        let authority = &bytes[user_start..authority_end];
        from = authority_end.max(user_start);
        let Some(at) = authority.iter().rposition(|b| *b == b'@') else {
            continue;
        };
        let Some(colon) = authority[..at].iter().position(|b| *b == b':') else {
            continue;
        };
        let (start, end) = (user_start + colon + 1, user_start + at);
        // `user:pass@host` is no email address, whatever the password.
        let user_end = user_start + colon;
        scanner.mask(user_start, user_end);
        let bytes = scanner.bytes();
        let password = &bytes[start..end];
        let placeholder = PLACEHOLDERS
            .iter()
            .any(|p| super::text::contains_ignore_case(password, p))
            || password.eq_ignore_ascii_case(b"pass")
            || password.iter().all(|b| *b == b'x');
        if password.len() >= 4 && !placeholder {
            scanner.record(Kind::Secret, start, end);
        } else {
            scanner.mask(start, end);
        }
    }
}
