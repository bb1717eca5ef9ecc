//! Server-sent events from the upstream, parsed as bytes arrive: every byte is looked at once
//! (a scan offset survives between pushes), consumed bytes are dropped in amortized constant time,
//! and one event may not grow past a bound. Lines end in LF or CRLF; an event ends at a blank
//! line; only its `data:` lines matter (joined with LF), comments and other fields are skipped.

/// The largest event the parser accepts, in bytes (its lines and their line ends).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Why the upstream's event stream is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("a stream event is larger than {0} bytes")]
    EventTooLarge(usize),
}

/// An incremental SSE parser.
#[derive(Debug)]
pub struct SseParser {
    buf: Vec<u8>,
    /// Where the line being read starts in `buf`.
    line_start: usize,
    /// `buf[line_start..scanned]` has no LF: the search resumes at `scanned`.
    scanned: usize,
    /// The current event's data lines, joined with LF.
    data: Vec<u8>,
    has_data: bool,
    /// Bytes of the current event's complete lines.
    event_len: usize,
    max_event: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser refusing events larger than `max_event` bytes.
    pub fn new(max_event: usize) -> SseParser {
        SseParser {
            buf: Vec::new(),
            line_start: 0,
            scanned: 0,
            data: Vec::new(),
            has_data: false,
            event_len: 0,
            max_event,
        }
    }

    /// Append bytes as they came from the upstream.
    pub fn push(&mut self, bytes: &[u8]) {
        // Drop what was consumed once it is at least half the buffer: each byte is moved a
        // bounded number of times, however small the pushes are.
        if self.line_start > 0 && self.line_start >= self.buf.len() - self.line_start {
            self.buf.drain(..self.line_start);
            self.scanned -= self.line_start;
            self.line_start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes the parser holds (its input buffer and the current event's data). Once
    /// [`next_event`](Self::next_event) has answered `Ok(None)`, this is at most three times the event
    /// bound plus the bytes of the last [`push`](Self::push), however long the stream.
    pub fn held_bytes(&self) -> usize {
        self.buf.len() + self.data.len()
    }

    /// The data of the next complete event that has any; `Ok(None)` when more bytes are needed.
    pub fn next_event(&mut self) -> Result<Option<Vec<u8>>, SseError> {
        loop {
            let Some(found) = self.buf[self.scanned..].iter().position(|b| *b == b'\n') else {
                self.scanned = self.buf.len();
                if self.event_len + (self.buf.len() - self.line_start) > self.max_event {
                    return Err(SseError::EventTooLarge(self.max_event));
                }
                return Ok(None);
            };
            let end = self.scanned + found;
            self.event_len += end + 1 - self.line_start;
            if self.event_len > self.max_event {
                return Err(SseError::EventTooLarge(self.max_event));
            }
            let mut line = &self.buf[self.line_start..end];
            if let [rest @ .., b'\r'] = line {
                line = rest;
            }
            let blank = line.is_empty();
            if let Some(value) = data_value(line) {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            self.line_start = end + 1;
            self.scanned = self.line_start;
            if blank {
                self.event_len = 0;
                if std::mem::take(&mut self.has_data) {
                    return Ok(Some(std::mem::take(&mut self.data)));
                }
            }
        }
    }
}

/// The value of a `data` field line (`data:VALUE`, one leading space dropped, or a bare `data`).
fn data_value(line: &[u8]) -> Option<&[u8]> {
    if line == b"data" {
        return Some(b"");
    }
    let value = line.strip_prefix(b"data:")?;
    Some(value.strip_prefix(b" ").unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(parser: &mut SseParser) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(data) = parser.next_event().expect("a valid stream") {
            out.push(String::from_utf8(data).unwrap());
        }
        out
    }

    const STREAM: &str = ": keep-alive\n\ndata: {\"a\":1}\n\nevent: x\nid: 7\ndata:{\"b\":2}\r\n\r\ndata: one\ndata: two\n\ndata\n\ndata: [DONE]\n\n";

    fn expected() -> Vec<String> {
        ["{\"a\":1}", "{\"b\":2}", "one\ntwo", "", "[DONE]"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn events_are_parsed_whole() {
        let mut p = SseParser::default();
        p.push(STREAM.as_bytes());
        assert_eq!(events(&mut p), expected());
    }

    #[test]
    fn events_split_at_every_byte_boundary_are_the_same() {
        for split in 0..=STREAM.len() {
            let mut p = SseParser::default();
            p.push(&STREAM.as_bytes()[..split]);
            let mut got = events(&mut p);
            p.push(&STREAM.as_bytes()[split..]);
            got.extend(events(&mut p));
            assert_eq!(got, expected(), "split at {split}");
        }
        let mut p = SseParser::default();
        let mut got = Vec::new();
        for byte in STREAM.as_bytes() {
            p.push(std::slice::from_ref(byte));
            got.extend(events(&mut p));
        }
        assert_eq!(got, expected());
    }

    #[test]
    fn crlf_events_are_parsed() {
        let mut p = SseParser::default();
        p.push(b"data: 1\r\n\r\ndata: 2\r\n");
        assert_eq!(events(&mut p), vec!["1".to_string()]);
        p.push(b"\r\n");
        assert_eq!(events(&mut p), vec!["2".to_string()]);
    }

    #[test]
    fn an_unfinished_event_waits_for_its_blank_line() {
        let mut p = SseParser::default();
        p.push(b"data: {\"a\":");
        assert_eq!(p.next_event(), Ok(None));
        p.push(b"1}\n");
        assert_eq!(p.next_event(), Ok(None));
        p.push(b"\n");
        assert_eq!(p.next_event(), Ok(Some(b"{\"a\":1}".to_vec())));
    }

    #[test]
    fn an_oversized_event_is_refused_complete_or_not() {
        let mut p = SseParser::new(64);
        p.push(format!("data: {}\n\n", "x".repeat(100)).as_bytes());
        assert_eq!(p.next_event(), Err(SseError::EventTooLarge(64)));
        // Without a line end, before the whole event has arrived.
        let mut p = SseParser::new(64);
        p.push(b"data: ");
        assert_eq!(p.next_event(), Ok(None));
        p.push(&[b'x'; 100]);
        assert_eq!(p.next_event(), Err(SseError::EventTooLarge(64)));
        // Many short lines in one event count together.
        let mut p = SseParser::new(64);
        p.push("data: x\n".repeat(20).as_bytes());
        assert_eq!(p.next_event(), Err(SseError::EventTooLarge(64)));
        // Events up to the limit, one after another, are fine.
        let mut p = SseParser::new(64);
        let event = format!("data: {}\n\n", "x".repeat(56));
        assert_eq!(event.len(), 64);
        p.push(event.repeat(3).as_bytes());
        assert_eq!(events(&mut p).len(), 3);
        assert_eq!(
            SseError::EventTooLarge(64).to_string(),
            "a stream event is larger than 64 bytes"
        );
    }

    #[test]
    fn many_small_events_keep_the_buffer_small() {
        let mut p = SseParser::default();
        for i in 0..10_000 {
            p.push(format!("data: {i}\n\n").as_bytes());
            assert_eq!(p.next_event(), Ok(Some(i.to_string().into_bytes())));
            assert!(p.buf.len() <= 64, "the buffer grew to {}", p.buf.len());
        }
    }

    #[test]
    fn what_the_parser_holds_stays_within_three_event_bounds() {
        // The worst case: a consumed event just shorter than the unfinished line after it, which
        // then completes as data: the buffer is not compacted yet and the data is copied.
        let max = 100;
        let mut p = SseParser::new(max);
        let first = format!("data: {}\n\n", "a".repeat(81));
        let second = format!("data: {}", "b".repeat(84));
        assert_eq!((first.len(), second.len()), (89, 90));
        p.push((first + &second).as_bytes());
        assert_eq!(p.next_event().map(|e| e.map(|d| d.len())), Ok(Some(81)));
        assert_eq!(p.next_event(), Ok(None));
        p.push(b"\n");
        assert_eq!(p.next_event(), Ok(None));
        assert_eq!(p.held_bytes(), 180 + 84);
        assert!(p.held_bytes() <= 3 * max + 1);
        // The next push drops what was consumed.
        p.push(b"\n");
        assert_eq!(p.next_event().map(|e| e.map(|d| d.len())), Ok(Some(84)));
        assert_eq!(p.held_bytes(), 1);
    }

    #[test]
    fn a_large_event_in_tiny_pieces_is_scanned_once() {
        // Linear time: after each push the search for a line end resumes at the new bytes, never
        // at the start of the event (which would take minutes here).
        let body = "x".repeat(MAX_EVENT_BYTES - 16);
        let event = format!("data: {body}\n\n");
        let mut p = SseParser::default();
        let mut got = Vec::new();
        for piece in event.as_bytes().chunks(4) {
            p.push(piece);
            assert_eq!(
                p.scanned,
                p.buf.len() - piece.len(),
                "the new bytes start the scan"
            );
            got.extend(events(&mut p));
            assert_eq!(p.scanned, p.buf.len());
        }
        assert_eq!(got, vec![body]);
    }
}
