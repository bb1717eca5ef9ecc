//! Email addresses: `local@domain.tld`, with a dotted domain and an alphabetic top-level label.

use super::{Kind, Scanner};

pub(crate) fn scan(scanner: &mut Scanner) {
    let mut i = 0;
    while i < scanner.bytes().len() {
        let Some(at_len) = at_sign(scanner.bytes(), i) else {
            i += 1;
            continue;
        };
        match around(scanner.bytes(), i, at_len) {
            Some((start, end)) => {
                scanner.record(Kind::Email, start, end);
                i = end;
            }
            None => i += 1,
        }
    }
}

/// The length of the at sign at `i`: `@`, or the fullwidth `＠` (U+FF20) that CJK input
/// methods type.
fn at_sign(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes[i..] {
        [b'@', ..] => Some(1),
        [0xEF, 0xBC, 0xA0, ..] => Some(3),
        _ => None,
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

/// The address around the at sign at `at` (`at_len` bytes long), if there is one.
fn around(bytes: &[u8], at: usize, at_len: usize) -> Option<(usize, usize)> {
    let mut start = at;
    // Another at sign ends the local part; the fullwidth one is made of bytes `is_local`
    // accepts, so it is looked for as a whole.
    while start > 0 && is_local(bytes[start - 1]) && !bytes[..start].ends_with("＠".as_bytes()) {
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
    let domain_start = at + at_len;
    let mut end = domain_start;
    while end < bytes.len() && is_domain(bytes[end]) {
        end += 1;
    }
    // A sentence may end right after the address.
    while end > domain_start && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &bytes[domain_start..end];
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
