//! IP addresses: dotted-quad IPv4 and IPv6 in full, compressed (`::`) or IPv4-suffixed form.
//! Versions, section numbers, MAC addresses and times share their shapes; the parsers are
//! strict (octets up to 255 without leading zeros, eight groups unless `::` stands for some)
//! and a four-part version after "version" or "section" is left alone.

use super::cue::{self, Topic};
use super::{Kind, Scanner};

pub(crate) fn scan(scanner: &mut Scanner) {
    let mut i = 0;
    while i < scanner.bytes().len() {
        let bytes = scanner.bytes();
        let b = bytes[i];
        let can_start = (b.is_ascii_hexdigit() || b == b':') && starts_token(bytes, i);
        if !can_start {
            i += 1;
            continue;
        }
        if let Some(end) = ipv6_at(bytes, i).or_else(|| ipv4_at(bytes, i)) {
            scanner.record(Kind::IpAddress, i, end);
            i = end;
        } else {
            i += 1;
        }
    }
}

/// No letter, digit, `_`, `.` or `:` right before: `1.2.3.4.5` has no address at `2`, and
/// `a:b:…` none at `b`.
fn starts_token(bytes: &[u8], i: usize) -> bool {
    i == 0 || {
        let prev = bytes[i - 1];
        !(super::text::is_word(prev) || matches!(prev, b'.' | b':'))
            || super::text::escaped_boundary(bytes, i)
    }
}

/// A decimal octet `0..=255` at `pos` without a leading zero; returns its end.
fn octet(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut end = pos;
    let mut value = 0u32;
    while end < bytes.len() && bytes[end].is_ascii_digit() && end - pos < 3 {
        value = value * 10 + u32::from(bytes[end] - b'0');
        end += 1;
    }
    let len = end - pos;
    let ok = len > 0
        && value <= 255
        && !(len > 1 && bytes[pos] == b'0')
        && !bytes.get(end).is_some_and(u8::is_ascii_digit);
    ok.then_some(end)
}

/// Four octets separated by dots; returns the end.
fn dotted_quad(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = octet(bytes, start)?;
    for _ in 0..3 {
        if bytes.get(pos) != Some(&b'.') {
            return None;
        }
        pos = octet(bytes, pos + 1)?;
    }
    Some(pos)
}

fn ipv4_at(bytes: &[u8], start: usize) -> Option<usize> {
    let end = dotted_quad(bytes, start)?;
    // A fifth part (`1.2.3.4.5`) or a glued word makes it something else.
    let followed_ok = match bytes.get(end) {
        None => true,
        Some(b'.') => !bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric),
        Some(b) => !(b.is_ascii_alphanumeric() || *b == b'_'),
    };
    (followed_ok && !cue::before(bytes, start, Topic::OtherNumber)).then_some(end)
}

/// One to four hex digits at `pos`; returns the end.
fn hex_group(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut end = pos;
    while end < bytes.len() && bytes[end].is_ascii_hexdigit() && end - pos < 4 {
        end += 1;
    }
    (end > pos).then_some(end)
}

fn ipv6_at(bytes: &[u8], start: usize) -> Option<usize> {
    let mut pos = start;
    let mut groups = 0usize;
    let mut compressed = false;
    let mut has_digit = false;
    if bytes[pos..].starts_with(b"::") {
        compressed = true;
        pos += 2;
    }
    let mut end = pos;
    loop {
        // An IPv4 tail (`::ffff:192.0.2.1`) takes the place of the last two groups.
        if (groups > 0 || compressed)
            && let Some(v4_end) = dotted_quad(bytes, pos)
        {
            groups += 2;
            end = v4_end;
            has_digit = true;
            break;
        }
        let Some(group_end) = hex_group(bytes, pos) else {
            break;
        };
        if bytes.get(group_end).is_some_and(u8::is_ascii_hexdigit) {
            return None; // five hex digits: not a group
        }
        has_digit |= bytes[pos..group_end].iter().any(u8::is_ascii_digit);
        groups += 1;
        end = group_end;
        if groups == 8 {
            break;
        }
        if bytes[group_end..].starts_with(b"::") {
            if compressed {
                return None;
            }
            compressed = true;
            pos = group_end + 2;
            end = pos;
        } else if bytes.get(group_end) == Some(&b':')
            && bytes.get(group_end + 1).is_some_and(u8::is_ascii_hexdigit)
        {
            pos = group_end + 1;
        } else {
            break;
        }
    }
    let complete = if compressed {
        groups <= 7 && (groups >= 1 || end > start)
    } else {
        groups == 8
    };
    // What follows must not continue the token (`fe80::1%eth0` ends before the zone id).
    let followed_ok = match bytes.get(end) {
        None => true,
        Some(b) => !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b':')),
    };
    // `::` alone, or groups without any digit (`be::ef`, `add::face`), are not addresses.
    let plausible = groups >= 1 && (has_digit || groups >= 4);
    (complete && followed_ok && plausible).then_some(end)
}
