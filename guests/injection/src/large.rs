//! Bounded cost on large texts (documents, CSV files, logs, tool-call arguments up to the
//! gateway's 4 MiB body limit).
//!
//! The full analysis (canonical words, phrase index, n-gram model) costs tens of nanoseconds
//! per byte: fine for a message, far past the deadline for megabytes. A text longer than
//! [`LARGE`] is therefore read in [`Span`]s:
//!
//! - its head and tail and a few evenly spaced windows, where both the rules and the model
//!   run (the model's probability is the maximum over them);
//! - windows around the *hot spots* of one cheap linear pass over the whole text, where the
//!   rules run: words that a phrase rule needs (each pattern's least common step, matched on
//!   the same folds as [`crate::normalize`]: case, width, look-alikes, leetspeak, invisible
//!   characters), runs of spelled-out letters, chat-template tokens, role labels, markdown
//!   images, base64 runs, Unicode tag characters and the CJK override verbs.
//!
//! So an attack anywhere in the text is still read by the rules, while the cost stays about
//! one pass over the bytes plus a bounded amount of full analysis. The limit: past
//! [`HOT_BUDGET`] bytes of hot windows (a text dense with the rules' words), later hot spots
//! of the weaker rules are dropped first, then those of the strong ones.

use crate::normalize::{fold_width, is_invisible, latin_lookalike};
use crate::rules::{CJK_PAIRS, MIN_BLOB, PHRASES, TEMPLATE_TOKENS, is_role_label, next_step};

/// Texts up to this length are analysed whole, as they always were.
pub const LARGE: usize = 32 * 1024;
/// Bytes of the head and of the tail analysed in full.
const EDGE: usize = 12 * 1024;
/// Evenly spaced windows between head and tail, and their length.
const STRIDES: usize = 4;
const STRIDE_LEN: usize = 2 * 1024;
/// Bytes read before and after a hot spot: a phrase spans a few dozen words at most.
const BEFORE: usize = 256;
const AFTER: usize = 512;
/// Most bytes of hot windows analysed per text.
pub const HOT_BUDGET: usize = 24 * 1024;
/// Rules at least this strong have their hot spots read first.
const STRONG: f64 = 0.8;

/// A part of a text to analyse; `model` says whether the learned model scores it too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span<'a> {
    pub text: &'a str,
    pub model: bool,
}

/// The parts of `text` to analyse: the whole of a short text, bounded windows of a long one.
pub fn spans(text: &str) -> Vec<Span<'_>> {
    if text.len() <= LARGE {
        return vec![Span { text, model: true }];
    }
    let len = text.len();
    let mut modelled = vec![(0, EDGE), (len - EDGE, len)];
    let inner = len - 2 * EDGE;
    for k in 1..=STRIDES {
        let at = EDGE + inner * k / (STRIDES + 1) - STRIDE_LEN / 2;
        modelled.push((at, at + STRIDE_LEN));
    }
    let mut out: Vec<Span<'_>> = modelled
        .iter()
        .map(|&(from, to)| Span {
            text: slice(text, from, to),
            model: true,
        })
        .collect();
    let covered = |from: usize, to: usize| modelled.iter().any(|&(a, b)| a <= from && to <= b);

    let mut hits = hot_spots(text);
    // Strong evidence first, then in order of position.
    hits.sort_by_key(|hit| (!hit.strong, hit.at));
    let mut windows: Vec<(usize, usize)> = Vec::new();
    let mut budget = HOT_BUDGET;
    for hit in hits {
        let (from, to) = (hit.at.saturating_sub(BEFORE), (hit.end + AFTER).min(len));
        let to = to.min(from + BEFORE + AFTER + 4 * 1024);
        if covered(from, to) || windows.iter().any(|&(a, b)| a <= from && to <= b) {
            continue;
        }
        if to - from > budget {
            break;
        }
        budget -= to - from;
        windows.push((from, to));
    }
    windows.sort_unstable();
    // Overlapping windows are read once.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(windows.len());
    for (from, to) in windows {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    out.extend(merged.into_iter().map(|(from, to)| Span {
        text: slice(text, from, to),
        model: false,
    }));
    out
}

/// `text[from..to]` with both ends moved back to character boundaries.
fn slice(text: &str, from: usize, to: usize) -> &str {
    let floor = |mut at: usize| {
        at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    &text[floor(from)..floor(to)]
}

/// Where something worth the full analysis starts (and ends, for long base64 runs).
#[derive(Debug)]
struct Hit {
    at: usize,
    end: usize,
    strong: bool,
}

/// Words common enough in ordinary prose that a pattern is better anchored on another step.
const COMMON: &[&str] = &[
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "begin", "by", "do", "end",
    "for", "from", "i", "if", "in", "is", "it", "its", "me", "my", "new", "no", "not", "now", "of",
    "on", "or", "re", "start", "t", "that", "the", "this", "to", "what", "with", "without", "you",
    "your",
];

/// The hashed words (whole, or prefixes for `word*`) that anchor the phrase rules.
struct Anchors {
    words: Vec<(u64, bool)>,
    prefixes: Vec<(u64, bool)>,
    /// Bit `n` set: some prefix anchor has `n` characters.
    prefix_lengths: u64,
    /// A Bloom-like filter over both lists, so most words cost one bit test.
    filter: Vec<u64>,
}

const FILTER_BITS: u32 = 16;

impl Anchors {
    /// Each pattern's step with the fewest common words (then the fewest alternatives): the
    /// rarest thing every match of the pattern contains.
    fn new() -> Self {
        let mut anchors = Anchors {
            words: Vec::new(),
            prefixes: Vec::new(),
            prefix_lengths: 0,
            filter: vec![0; 1 << (FILTER_BITS - 6)],
        };
        for (rule, patterns) in PHRASES {
            let strong = rule.weight >= STRONG;
            for pattern in *patterns {
                let mut rest = *pattern;
                let mut best: Option<(usize, usize, &str)> = None;
                while let Some((_, words, tail)) = next_step(rest) {
                    let common = words.split('|').filter(|w| COMMON.contains(w)).count();
                    let key = (common, words.split('|').count(), words);
                    if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                        best = Some(key);
                    }
                    rest = tail;
                }
                for word in best.map_or("", |b| b.2).split('|') {
                    anchors.add(word, strong);
                }
            }
        }
        anchors.words.sort_unstable();
        anchors.prefixes.sort_unstable();
        anchors
    }

    fn add(&mut self, word: &str, strong: bool) {
        let (text, prefix) = match word.strip_suffix('*') {
            Some(text) => (text, true),
            None => (word, false),
        };
        let mut hash = Hash::new();
        let mut n = 0u32;
        for c in text.chars().filter_map(fold) {
            hash = hash.push(c);
            n += 1;
        }
        if n == 0 {
            return;
        }
        self.filter[(hash.0 as usize & ((1 << FILTER_BITS) - 1)) >> 6] |= 1 << (hash.0 & 63);
        if prefix {
            self.prefix_lengths |= 1u64.checked_shl(n).unwrap_or(0);
            self.prefixes.push((hash.0, strong));
        } else {
            self.words.push((hash.0, strong));
        }
    }

    fn passes_filter(&self, hash: Hash) -> bool {
        let bit = hash.0 as usize & ((1 << FILTER_BITS) - 1);
        self.filter[bit >> 6] & (1 << (bit & 63)) != 0
    }

    /// `Some(strong)` when the word (or prefix) is an anchor.
    fn find(list: &[(u64, bool)], hash: Hash) -> Option<bool> {
        let at = list.partition_point(|(h, _)| *h < hash.0);
        let mut strong = None;
        for (h, s) in &list[at..] {
            if *h != hash.0 {
                break;
            }
            strong = Some(strong.unwrap_or(false) || *s);
        }
        strong
    }
}

/// FNV-1a over folded characters, 64 bits: collisions between a few hundred anchors and the
/// words of a text are negligible, and a collision only costs a window.
#[derive(Clone, Copy)]
struct Hash(u64);

impl Hash {
    fn new() -> Self {
        Hash(0xcbf2_9ce4_8422_2325)
    }

    fn push(self, c: char) -> Self {
        Hash((self.0 ^ u64::from(u32::from(c))).wrapping_mul(0x0000_0100_0000_01b3))
    }
}

/// A character as the anchors see it, `None` when invisible: lowercase, width and look-alikes
/// folded, leetspeak digits as letters. Looser than [`crate::normalize`] (which folds digits
/// and look-alikes only in some words): a spurious match costs a window, a missed one an attack.
fn fold(c: char) -> Option<char> {
    let c = if c.is_ascii() {
        c.to_ascii_lowercase()
    } else {
        if is_invisible(c) {
            return None;
        }
        let c = fold_width(c);
        let c = c.to_lowercase().next().unwrap_or(c);
        latin_lookalike(c).unwrap_or(c)
    };
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' | '@' => 'a',
        '5' | '$' => 's',
        '7' => 't',
        _ => c,
    })
}

/// One pass over `text`: the places where a rule could match.
fn hot_spots(text: &str) -> Vec<Hit> {
    let anchors = Anchors::new();
    let bytes = text.as_bytes();
    let mut hits = Vec::new();
    let mut hit = |at: usize, end: usize, strong: bool| {
        // One hit per neighbourhood is enough: its window covers the rest.
        if let Some(last) = hits.last_mut() {
            let last: &mut Hit = last;
            if at < last.at + AFTER / 2 && at >= last.at {
                last.end = last.end.max(end);
                last.strong |= strong;
                return;
            }
        }
        hits.push(Hit { at, end, strong });
    };
    // The current word: start, length in characters, hash.
    let (mut word_at, mut chars, mut hash) = (0usize, 0u32, Hash::new());
    let mut single_letters = 0u32;
    // The current base64 run: start, and which classes of characters it has.
    let (mut b64_at, mut b64_classes) = (0usize, 0u8);
    let mut line_start = true;
    let mut tags = false;
    for (at, c) in text.char_indices() {
        // Markers first: they need the raw text.
        if line_start && !c.is_whitespace() && !"#*[>-".contains(c) {
            line_start = false;
            let line = slice(text, at, at + 24).to_ascii_lowercase();
            if is_role_label(&line) {
                hit(at, at, true);
            }
        }
        match c {
            '\n' => line_start = true,
            '<' | '[' => {
                let rest = &bytes[at..];
                if TEMPLATE_TOKENS.iter().any(|token| {
                    rest.get(..token.len())
                        .is_some_and(|head| head.eq_ignore_ascii_case(token.as_bytes()))
                }) {
                    hit(at, at, true);
                }
            }
            '!' if bytes.get(at + 1) == Some(&b'[') => hit(at, at, false),
            '\u{E0000}'..='\u{E007F}' => {
                if !tags {
                    hit(at, at, true);
                }
            }
            _ => {}
        }
        tags = matches!(c, '\u{E0000}'..='\u{E007F}');
        if c >= '\u{3000}'
            && CJK_PAIRS
                .iter()
                .any(|(first, _)| text[at..].starts_with(first))
        {
            hit(at, at, true);
        }
        // Base64 runs of the length the rules decode, with the mix of classes they require.
        if c.is_ascii_alphanumeric() || c == '+' || c == '/' {
            if b64_classes == 0 {
                b64_at = at;
            }
            b64_classes |= if c.is_ascii_uppercase() {
                1
            } else if c.is_ascii_lowercase() {
                2
            } else if c.is_ascii_digit() {
                4
            } else {
                8
            };
        } else if b64_classes != 0 {
            if at - b64_at >= MIN_BLOB && b64_classes & 7 == 7 {
                hit(b64_at, at, true);
            }
            b64_classes = 0;
        }
        // Words, folded as the anchors were.
        let Some(folded) = fold(c) else { continue };
        if folded.is_alphanumeric() || ((c == '@' || c == '$') && chars > 0) {
            if chars == 0 {
                word_at = at;
                hash = Hash::new();
            }
            hash = hash.push(folded);
            chars += 1;
            if anchors.prefix_lengths & 1u64.checked_shl(chars).unwrap_or(0) != 0
                && anchors.passes_filter(hash)
                && let Some(strong) = Anchors::find(&anchors.prefixes, hash)
            {
                hit(word_at, at, strong);
            }
        } else if chars > 0 {
            let letter = chars == 1 && text[word_at..at].chars().any(char::is_alphabetic);
            end_word(
                &anchors,
                hash,
                letter,
                word_at,
                at,
                &mut single_letters,
                &mut hit,
            );
            chars = 0;
        }
    }
    if chars > 0 {
        let letter = chars == 1 && text[word_at..].chars().any(char::is_alphabetic);
        end_word(
            &anchors,
            hash,
            letter,
            word_at,
            text.len(),
            &mut single_letters,
            &mut hit,
        );
    }
    if b64_classes & 7 == 7 && text.len() - b64_at >= MIN_BLOB {
        hit(b64_at, text.len(), true);
    }
    hits
}

fn end_word(
    anchors: &Anchors,
    hash: Hash,
    letter: bool,
    word_at: usize,
    at: usize,
    single_letters: &mut u32,
    hit: &mut impl FnMut(usize, usize, bool),
) {
    if anchors.passes_filter(hash)
        && let Some(strong) = Anchors::find(&anchors.words, hash)
    {
        hit(word_at, at, strong);
    }
    // `i g n o r e`: the canonical words join four or more single letters.
    if letter {
        *single_letters += 1;
        if *single_letters == 4 {
            hit(word_at, at, true);
        }
    } else {
        *single_letters = 0;
    }
}
