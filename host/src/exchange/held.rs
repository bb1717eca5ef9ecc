//! What the `incremental` streaming mode holds back, what its next audit window covers, and when
//! a held chunk may go to the client.
//!
//! A window is every text (a choice's content, a tool call's name or arguments) grown since the
//! last audit, from [`OVERLAP_CHARS`] characters before what was already audited to its end: an
//! entity up to that long that straddles two windows is seen whole by the second, and each audit
//! costs the new text plus a bounded overlap, never the whole answer again.
//!
//! A chunk is released, in order, once audits have allowed each text it grew up to
//! [`OVERLAP_CHARS`] characters past the chunk's end (or to the end of a finished choice): a
//! sensitive entity of up to that many characters that begins in a released chunk has then been
//! audited whole. Nothing is released on a denial.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use super::openai::{Assembly, Growth, Text};

/// Characters of already audited text a window repeats before the new text, and how far audits
/// must have gone past a chunk before it is released.
pub const OVERLAP_CHARS: usize = 64;

/// The chunks not yet released, and how far audits have allowed each text.
#[derive(Debug, Default)]
pub struct Held {
    /// Chunks in arrival order, with the end of each text they grew.
    chunks: VecDeque<(Value, Vec<(Text, usize)>)>,
    /// Per text, the end (in bytes) of what audits allowed.
    allowed: HashMap<Text, usize>,
    /// Texts grown since the last audit, with their end.
    pending: BTreeMap<Text, usize>,
    /// Bytes of text grown since the last audit.
    pending_len: usize,
    /// Per text, where a masked entity begins that reached the end of the last window that saw
    /// its start: it may go on past that window, so nothing from there is released until an
    /// audit that sees its start again says where it ends (or the whole answer is audited).
    barriers: HashMap<Text, usize>,
}

impl Held {
    /// Hold a chunk that grew the answer by `growth`.
    pub fn push(&mut self, chunk: Value, growth: Growth) {
        self.pending_len += growth.added;
        for (text, end) in &growth.ends {
            self.pending.insert(*text, *end);
        }
        self.chunks.push_back((chunk, growth.ends));
    }

    /// Whether at least `every` bytes of text arrived since the last audit.
    pub fn due(&self, every: usize) -> bool {
        self.pending_len >= every
    }

    /// What the next audit sees: a completion with the texts grown since the last audit, each
    /// from [`OVERLAP_CHARS`] characters before its audited end; and where in each text the
    /// window starts (bytes), to place what the audit says about it.
    pub fn window(&self, assembly: &Assembly) -> (Value, BTreeMap<Text, usize>) {
        let from: BTreeMap<Text, usize> = self
            .pending
            .keys()
            .map(|text| {
                let audited = self.allowed.get(text).copied().unwrap_or(0);
                (*text, overlap_start(assembly.text(*text), audited))
            })
            .collect();
        (assembly.excerpt(&from), from)
    }

    /// The last window was audited and allowed: the chunks that may go to the client now.
    pub fn allow(&mut self, assembly: &Assembly) -> Vec<Value> {
        for (text, end) in std::mem::take(&mut self.pending) {
            self.allowed.insert(text, end);
        }
        self.pending_len = 0;
        let mut out = Vec::new();
        while let Some((_, ends)) = self.chunks.front() {
            if !ends
                .iter()
                .all(|(text, end)| self.settled(assembly, *text, *end))
            {
                break;
            }
            if let Some((chunk, _)) = self.chunks.pop_front() {
                out.push(chunk);
            }
        }
        out
    }

    /// The window just audited started at `starts` and its masks leave `open` (text, start):
    /// entities that reach the window's end. A barrier whose start the window saw is lifted
    /// (the audit knew where that entity ends); each open one holds its text from its start.
    pub fn barriers(&mut self, starts: &BTreeMap<Text, usize>, open: &[(Text, usize)]) {
        self.barriers
            .retain(|text, at| starts.get(text).is_none_or(|start| *start > *at));
        for (text, at) in open {
            let barrier = self.barriers.entry(*text).or_insert(*at);
            *barrier = (*barrier).min(*at);
        }
    }

    /// An audit of the whole answer allowed: every chunk still held.
    pub fn release_all(self) -> impl Iterator<Item = Value> {
        self.chunks.into_iter().map(|(chunk, _)| chunk)
    }

    /// Whether `text` up to `end` may be released.
    fn settled(&self, assembly: &Assembly, text: Text, end: usize) -> bool {
        let Some(allowed) = self.allowed.get(&text).copied() else {
            return false;
        };
        if self.barriers.get(&text).is_some_and(|at| end > *at) {
            return false;
        }
        let whole = assembly.text(text);
        if assembly.finished(text.choice) {
            return allowed >= whole.len();
        }
        whole
            .get(end..allowed)
            .is_some_and(|after| after.chars().nth(OVERLAP_CHARS - 1).is_some())
    }
}

/// Where a window of `text` starts when `audited` bytes of it were audited: that many bytes less
/// [`OVERLAP_CHARS`] characters (at 0 when there are fewer).
fn overlap_start(text: &str, audited: usize) -> usize {
    text.get(..audited).map_or(0, |before| {
        before
            .char_indices()
            .rev()
            .nth(OVERLAP_CHARS - 1)
            .map_or(0, |(i, _)| i)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::exchange::openai::Part;

    fn chunk(index: usize, content: &str, finish: Option<&str>) -> Value {
        json!({"choices": [{"index": index, "delta": {"content": content}, "finish_reason": finish}]})
    }

    /// Push a chunk into both the assembly and the hold.
    fn push(assembly: &mut Assembly, held: &mut Held, c: Value) {
        let growth = assembly.push(&c).expect("a valid chunk");
        held.push(c, growth);
    }

    fn content(v: &Value) -> String {
        v["choices"][0]["delta"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn windows_cover_the_new_text_and_a_bounded_overlap() {
        let mut assembly = Assembly::new();
        let mut held = Held::default();
        let piece = "abcdefghij".repeat(10);
        for round in 0..20 {
            push(&mut assembly, &mut held, chunk(0, &piece, None));
            assert!(held.due(100));
            let (window, _) = held.window(&assembly);
            let seen = window["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .len();
            let expected = if round == 0 { 100 } else { 100 + OVERLAP_CHARS };
            assert_eq!(seen, expected, "round {round}");
            held.allow(&assembly);
            assert!(!held.due(1));
        }
    }

    #[test]
    fn the_overlap_counts_characters_not_bytes() {
        let text = "é".repeat(100);
        let start = overlap_start(&text, text.len());
        assert_eq!(text[start..].chars().count(), OVERLAP_CHARS);
        assert_eq!(overlap_start(&text, 10), 0);
        assert_eq!(overlap_start(&text, 1), 0, "not a char boundary");
    }

    #[test]
    fn chunks_wait_until_audits_went_past_them_by_the_overlap() {
        let mut assembly = Assembly::new();
        let mut held = Held::default();
        push(&mut assembly, &mut held, chunk(0, &"a".repeat(40), None));
        push(&mut assembly, &mut held, chunk(0, &"b".repeat(40), None));
        // Audited to 80: the first chunk ends 40 characters before, fewer than the overlap.
        assert!(held.allow(&assembly).is_empty());
        push(&mut assembly, &mut held, chunk(0, &"c".repeat(24), None));
        let out = held.allow(&assembly);
        assert_eq!(out.len(), 1, "audited to 104, 64 past the first chunk");
        assert_eq!(content(&out[0]), "a".repeat(40));
        // Grown but not yet audited: nothing more goes.
        push(&mut assembly, &mut held, chunk(0, &"d".repeat(200), None));
        assert_eq!(held.chunks.len(), 3);
        let rest: Vec<String> = held.release_all().map(|c| content(&c)).collect();
        assert_eq!(rest.len(), 3);
    }

    #[test]
    fn a_finished_choice_is_released_once_audited_to_its_end() {
        let mut assembly = Assembly::new();
        let mut held = Held::default();
        push(
            &mut assembly,
            &mut held,
            chunk(0, "short answer", Some("stop")),
        );
        push(&mut assembly, &mut held, chunk(1, "a longer one", None));
        let out = held.allow(&assembly);
        assert_eq!(out.len(), 1, "choice 0 is done and audited whole");
        push(&mut assembly, &mut held, chunk(1, "", Some("stop")));
        // The finish chunk grew nothing, but it finished choice 1, which was audited whole.
        assert_eq!(held.allow(&assembly).len(), 2);
    }

    #[test]
    fn an_entity_open_at_a_window_end_holds_its_text_until_seen_whole() {
        let mut assembly = Assembly::new();
        let mut held = Held::default();
        let text = Text {
            choice: 0,
            part: Part::Content,
        };
        push(&mut assembly, &mut held, chunk(0, &"a".repeat(100), None));
        let key = format!("-----BEGIN KEY{}", "k".repeat(150));
        push(&mut assembly, &mut held, chunk(0, &key, None));
        // The first window's masks leave an entity open at its end, from byte 100.
        held.barriers(&BTreeMap::from([(text, 0)]), &[(text, 100)]);
        let out = held.allow(&assembly);
        assert_eq!(out.len(), 1, "only the text before the entity");
        // The next window starts 64 characters back, past the entity's start: it cannot tell
        // where the entity ends, so the barrier stays and nothing after it goes.
        push(&mut assembly, &mut held, chunk(0, &"k".repeat(200), None));
        let (_, starts) = held.window(&assembly);
        assert_eq!(starts.get(&text), Some(&(100 + key.len() - OVERLAP_CHARS)));
        held.barriers(&starts, &[]);
        assert!(held.allow(&assembly).is_empty());
        assert!(held.barriers.contains_key(&text));
        // A window that sees the entity's start again (and ends it) lifts the barrier.
        held.barriers(&BTreeMap::from([(text, 90)]), &[]);
        assert!(held.barriers.is_empty());
        assert_eq!(held.allow(&assembly).len(), 1);
    }

    #[test]
    fn a_window_leaves_out_texts_that_did_not_grow() {
        let mut assembly = Assembly::new();
        let mut held = Held::default();
        push(&mut assembly, &mut held, chunk(0, "first choice", None));
        push(&mut assembly, &mut held, chunk(1, "second choice", None));
        held.allow(&assembly);
        push(&mut assembly, &mut held, chunk(1, " goes on", None));
        let (window, _) = held.window(&assembly);
        let choices = window["choices"].as_array().unwrap();
        assert_eq!(choices.len(), 1);
        assert_eq!(choices[0]["index"], 1);
        assert_eq!(choices[0]["message"]["content"], "second choice goes on");
        let text = Text {
            choice: 1,
            part: Part::Content,
        };
        assert_eq!(held.pending.get(&text), Some(&21));
    }
}
