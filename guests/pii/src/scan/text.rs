//! Byte-level helpers shared by the passes.

/// What a match is overwritten with (see `Scanner::record`): a word byte for the boundary
/// checks, so the next passes see neither a boundary nor a character they could match (no
/// email local part, digit or key alphabet contains it).
pub(crate) const MASK: u8 = 0x7f;

pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == MASK
}

/// Whether `i` starts a word: the text starts there, or the byte before is no letter, digit or
/// `_`. A JSON escape (`\n`, `\t`, `\r`, `\"`) counts as a boundary too: tool-call arguments are
/// JSON text, where `"Phone:\n+44 20 7946 0958"` has a letter `n` right before the `+`.
pub(crate) fn at_word_start(bytes: &[u8], i: usize) -> bool {
    if i == 0 || !is_word(bytes[i - 1]) {
        return true;
    }
    escaped_boundary(bytes, i)
}

/// The two bytes before `i` are a JSON escape such as `\n`.
pub(crate) fn escaped_boundary(bytes: &[u8], i: usize) -> bool {
    i >= 2 && bytes[i - 2] == b'\\' && matches!(bytes[i - 1], b'n' | b't' | b'r')
}

/// Shannon entropy of `value` in bits per byte.
pub(crate) fn entropy(value: &[u8]) -> f64 {
    if value.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|count| **count > 0)
        .map(|count| {
            let p = f64::from(*count) / len;
            -p * p.log2()
        })
        .sum()
}

/// Case-insensitive ASCII search for `needle` in `haystack`.
pub(crate) fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// The first position at or after `from` where `needle` starts.
pub(crate) fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        match haystack[i..].iter().position(|b| *b == first) {
            Some(offset) => {
                i += offset;
                if haystack[i..].starts_with(needle) {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}
