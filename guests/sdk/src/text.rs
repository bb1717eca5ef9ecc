//! Reading long texts within a bounded cost: evenly spaced pieces that cut no words. Shared by
//! the auditors that sample what they cannot read whole (`toxicity`, `grounding`).

/// How far a piece's edge may move to reach white space.
pub const SNAP_BYTES: usize = 64;

/// `count` pieces of about `piece` bytes of `text`: the first at its start, the last at its
/// end, the others evenly spaced between, each snapped with [`snap`]. Meant for texts longer
/// than `count * piece`; a shorter one gives overlapping pieces, never a panic.
pub fn evenly_spaced(text: &str, count: usize, piece: usize) -> impl Iterator<Item = &str> {
    // u64: on wasm32 `i * span` could overflow usize for a text of hundreds of megabytes.
    let span = text.len().saturating_sub(piece) as u64;
    let steps = count.saturating_sub(1).max(1) as u64;
    (0..count).map(move |i| {
        let start = usize::try_from(i as u64 * span / steps).unwrap_or(0);
        snap(text, start, start.saturating_add(piece))
    })
}

/// `text[start..end]`, its edges moved inwards to character boundaries and, within
/// [`SNAP_BYTES`], to white space, so the piece holds no cut words.
pub fn snap(text: &str, mut start: usize, mut end: usize) -> &str {
    let bytes = text.as_bytes();
    end = end.min(text.len());
    start = start.min(end);
    while start < end && !text.is_char_boundary(start) {
        start += 1;
    }
    while end > start && !text.is_char_boundary(end) {
        end -= 1;
    }
    if start >= end {
        // A piece shorter than the character it starts in.
        return "";
    }
    // ASCII white space is always a character boundary, so the slices below stay valid.
    if start > 0 && !bytes[start - 1].is_ascii_whitespace() {
        let limit = (start + SNAP_BYTES).min(end);
        if let Some(at) = bytes[start..limit].iter().position(u8::is_ascii_whitespace) {
            start += at + 1;
        }
    }
    if end < text.len() && !bytes[end].is_ascii_whitespace() {
        let limit = end.saturating_sub(SNAP_BYTES).max(start);
        if let Some(at) = bytes[limit..end].iter().rposition(u8::is_ascii_whitespace) {
            end = limit + at;
        }
    }
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_start_and_end_the_text_and_cut_no_words() {
        let text = "word ".repeat(2000);
        let pieces: Vec<&str> = evenly_spaced(&text, 4, 100).collect();
        assert_eq!(pieces.len(), 4);
        assert!(text.starts_with(pieces[0]));
        assert!(text.trim_end().ends_with(pieces[3].trim_end()));
        for p in &pieces {
            assert!(!p.starts_with("ord") && !p.ends_with("wor"), "{p:?}");
        }
    }

    #[test]
    fn odd_arguments_never_panic() {
        assert_eq!(snap("héllo", 2, 3), "");
        assert_eq!(snap("abc", 5, 9), "");
        assert_eq!(evenly_spaced("ab", 1, 10).collect::<Vec<_>>(), ["ab"]);
        assert_eq!(evenly_spaced("日本語", 3, 1).count(), 3);
    }
}
