//! The upstream's event stream, as `lucid::exchange::upstream` reads it: bytes in arbitrary
//! pieces through `SseParser`, each event's data parsed as JSON and added to an `Assembly`, until
//! `[DONE]` or the first error.
//!
//! Input: the first byte picks the event bound, the second seeds where the stream is cut into
//! pieces; the rest is the stream. Checked beyond "no panic":
//! - the events (and the error, if any) do not depend on how the stream was cut;
//! - the parser holds at most 3 × the event bound plus the last piece;
//! - the assembled text is never longer than the stream, indices stay within their caps, a
//!   refused chunk changes nothing, and a finished choice gets no more text.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use libfuzzer_sys::fuzz_target;
use lucid_openai::{Assembly, MAX_CHOICES, MAX_EVENT_BYTES, MAX_TOOL_CALLS, SseError, SseParser};
use serde_json::Value;

fuzz_target!(|input: &[u8]| {
    let [bound, seed, stream @ ..] = input else {
        return;
    };
    // Small bounds reach the limit often; 255 stands for the real one.
    let max_event = match bound {
        255 => MAX_EVENT_BYTES,
        b => usize::from(*b) * 8,
    };
    let whole = parse(stream, max_event, &[stream.len().max(1)]);
    let cuts = cuts(*seed, stream);
    let pieces = parse(stream, max_event, &cuts);
    assert_eq!(whole, pieces, "cut into {cuts:?}");
    assemble(&whole.0, stream.len(), stream);
});

/// Piece lengths: from the seed and the stream's own bytes, 1 to 64 bytes each.
fn cuts(seed: u8, stream: &[u8]) -> Vec<usize> {
    if seed == 0 {
        return vec![1];
    }
    stream
        .iter()
        .map(|b| usize::from(b.wrapping_mul(seed) % 64) + 1)
        .take(64)
        .collect()
}

/// The events of `stream` fed in pieces of the given lengths (cycled), and the error that ended
/// it, if any.
fn parse(stream: &[u8], max_event: usize, cuts: &[usize]) -> (Vec<Vec<u8>>, Option<SseError>) {
    let mut parser = SseParser::new(max_event);
    let mut events = Vec::new();
    let mut rest = stream;
    for cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at((*cut).min(rest.len()));
        rest = tail;
        parser.push(piece);
        loop {
            match parser.next_event() {
                Ok(Some(data)) => events.push(data),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
        let held = parser.held_bytes();
        assert!(
            held <= 3 * max_event + piece.len(),
            "the parser holds {held} bytes with an event bound of {max_event}"
        );
    }
    (events, None)
}

/// The events as chunks of one answer, as the exchange assembles them.
fn assemble(events: &[Vec<u8>], stream_len: usize, stream: &[u8]) {
    let mut assembly = Assembly::new();
    let mut added = 0;
    for data in events {
        if data.trim_ascii() == b"[DONE]" {
            break;
        }
        let Ok(chunk) = serde_json::from_slice::<Value>(data) else {
            break;
        };
        let finished: BTreeSet<usize> = (0..MAX_CHOICES as usize)
            .filter(|c| assembly.finished(*c))
            .collect();
        let before = assembly.text_len();
        let growth = match assembly.push(&chunk) {
            Ok(growth) => growth,
            Err(_) => {
                assert_eq!(assembly.text_len(), before, "a refused chunk added text");
                break;
            }
        };
        added += growth.added;
        assert_eq!(assembly.text_len(), added);
        let mut ends = BTreeMap::new();
        for (text, end) in &growth.ends {
            assert!(
                !finished.contains(&text.choice),
                "choice {} grew after it finished",
                text.choice
            );
            ends.insert(*text, *end);
        }
        for (text, end) in ends {
            assert_eq!(assembly.text(text).len(), end, "the end of {text:?}");
        }
    }
    assert!(
        assembly.text_len() <= stream_len,
        "{} bytes of text from a stream of {stream_len}",
        assembly.text_len()
    );
    let completion = assembly.completion();
    let choices = completion["choices"].as_array().map_or(0, Vec::len);
    assert!((1..=MAX_CHOICES as usize).contains(&choices));
    for choice in completion["choices"].as_array().into_iter().flatten() {
        let calls = choice["message"]["tool_calls"]
            .as_array()
            .map_or(0, Vec::len);
        assert!(calls <= MAX_TOOL_CALLS as usize);
    }
    // An excerpt from arbitrary offsets (not always on a character boundary).
    let from = completion["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["index"].as_u64())
        .zip(stream.iter())
        .map(|(choice, offset)| {
            let text = lucid_openai::Text {
                choice: choice as usize,
                part: lucid_openai::Part::Content,
            };
            (text, usize::from(*offset))
        })
        .collect();
    let excerpt = assembly.excerpt(&from);
    assert!(excerpt["choices"].as_array().map_or(0, Vec::len) <= choices);
}
