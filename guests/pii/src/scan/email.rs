//! Email addresses: `local@domain.tld`, with a dotted domain and an alphabetic top-level label.

use super::{Kind, Scanner};

pub(crate) fn scan(scanner: &mut Scanner) {
    let mut i = 0;
    while i < scanner.bytes().len() {
        if scanner.bytes()[i] != b'@' {
            i += 1;
            continue;
        }
        match around(scanner.bytes(), i) {
            Some((start, end)) => {
                scanner.record(Kind::Email, start, end);
                i = end;
            }
            None => i += 1,
        }
    }
}

/// Local parts may hold non-ASCII letters (RFC 6531: `jörg@…`); stopping at them would leave
/// part of the address outside the span, so UTF-8 bytes count as local characters.
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"._%+-'".contains(&b) || b >= 0x80
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

/// The address around the `@` at `at`, if there is one.
fn around(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut start = at;
    while start > 0 && is_local(bytes[start - 1]) {
        start -= 1;
    }
    // Quotes and dots may surround an address ('ann@example.com'); they are not part of it.
    while start < at && matches!(bytes[start], b'\'' | b'.') {
        start += 1;
    }
    // In JSON text (tool-call arguments) `\nann@…` is an escaped line break before the address.
    if start > 0
        && bytes[start - 1] == b'\\'
        && start < at
        && matches!(bytes[start], b'n' | b't' | b'r')
    {
        start += 1;
    }
    let local = &bytes[start..at];
    if local.is_empty()
        || local[local.len() - 1] == b'.'
        || local.len() > 64
        || !local.iter().any(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let mut end = at + 1;
    while end < bytes.len() && is_domain(bytes[end]) {
        end += 1;
    }
    // A sentence may end right after the address.
    while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &bytes[at + 1..end];
    if domain.len() > 253 {
        return None;
    }
    let valid_labels = domain
        .split(|b| *b == b'.')
        .all(|label| !label.is_empty() && label[0] != b'-' && label[label.len() - 1] != b'-');
    let mut labels = domain.split(|b| *b == b'.');
    let tld = labels.next_back()?;
    let has_dot = labels.next().is_some();
    let tld_ok = tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic);
    (has_dot && valid_labels && tld_ok).then_some((start, end))
}
