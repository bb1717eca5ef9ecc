//! The compact learned classifier: a logistic regression over hashed word, word-bigram and
//! character n-gram features, trained by `bench/quality/toxicity/train.py` and embedded as
//! `model/toxicity.bin` (one signed byte per bucket).
//!
//! The tokenizer and the features here follow `train.py` exactly; `tests::parity` checks the
//! logits against the ones the script wrote into `model/parity.json`.

use std::fmt;

/// The embedded weights. Retrain with `cargo xtask train toxicity` (or `train.py` directly).
static WEIGHTS: &[u8] = include_bytes!("../model/toxicity.bin");

const MAGIC: &[u8; 4] = b"LTOX";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 16;

/// Tokens longer than this are cut: nobody swears in 100-letter words, and URLs and base64
/// blobs should cost little.
pub const MAX_TOKEN_CHARS: usize = 24;
/// Long texts are scored in overlapping windows of this many tokens; the text scores as its
/// worst window, so one abusive sentence is not diluted by pages of benign text.
pub const WINDOW: usize = 64;
const STRIDE: usize = 32;
const NGRAMS: [usize; 3] = [3, 4, 5];
/// Feature sums are divided by `sqrt(max(count, MIN_NORM))`: a text of a few words ("Who are
/// you?") carries little evidence either way, so its score stays near the prior instead of
/// swinging on one word.
const MIN_NORM: u32 = 64;

/// Function words give no word or character features of their own, only bigrams ("you idiot"):
/// comment corpora's insults are short and in the second person, so on their own these words
/// would teach the model that "Who are you?" is abuse. Sorted, for binary search.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "also",
    "am",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "down",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "may",
    "me",
    "might",
    "mine",
    "must",
    "my",
    "myself",
    "no",
    "not",
    "of",
    "on",
    "or",
    "our",
    "ours",
    "out",
    "over",
    "shall",
    "she",
    "should",
    "so",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "to",
    "too",
    "u",
    "up",
    "ur",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// The weights file is malformed (only possible after a bad retraining: it is embedded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "embedded toxicity model is invalid: {}", self.0)
    }
}

impl std::error::Error for ModelError {}

/// A view of the weights, validated once per call.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    mask: u32,
    scale: f64,
    bias: f64,
    weights: &'a [u8],
}

impl Model<'static> {
    /// The model compiled into the component.
    pub fn embedded() -> Result<Self, ModelError> {
        Model::parse(WEIGHTS)
    }
}

impl<'a> Model<'a> {
    /// Reads `LTOX`, version, bucket bits, two reserved bytes, scale and bias (f32, little
    /// endian), then `2^bits` signed bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ModelError> {
        let header = bytes.get(..HEADER_LEN).ok_or_else(|| {
            ModelError(format!("{} bytes; expected a 16-byte header", bytes.len()))
        })?;
        if &header[..4] != MAGIC {
            return Err(ModelError("magic is not LTOX".into()));
        }
        if header[4] != VERSION {
            return Err(ModelError(format!(
                "version {}; expected {VERSION}",
                header[4]
            )));
        }
        let bits = u32::from(header[5]);
        if !(8..=24).contains(&bits) {
            return Err(ModelError(format!("{bits} bucket bits; expected 8..=24")));
        }
        let f32_at = |at: usize| {
            f64::from(f32::from_le_bytes([
                header[at],
                header[at + 1],
                header[at + 2],
                header[at + 3],
            ]))
        };
        let (scale, bias) = (f32_at(8), f32_at(12));
        let weights = &bytes[HEADER_LEN..];
        if weights.len() != 1usize << bits {
            return Err(ModelError(format!(
                "{} weights; expected 2^{bits}",
                weights.len()
            )));
        }
        if !scale.is_finite() || !bias.is_finite() {
            return Err(ModelError("scale or bias is not finite".into()));
        }
        Ok(Self {
            mask: (1u32 << bits) - 1,
            scale,
            bias,
            weights,
        })
    }

    /// The highest logit over the windows of a token sequence (see [`windows`]).
    ///
    /// Each token's features are looked up once: per token the sum and count of its word and
    /// character n-gram weights, and apart the weight of its bigram with the next token (which
    /// a window holds only when it holds both tokens). Windows overlap by half, so this halves
    /// the work of scoring window by window, with the same integer sums.
    pub fn logit(&self, tokens: &[Token]) -> f64 {
        let weight = |bucket: u32| i64::from(self.weights[(bucket & self.mask) as usize] as i8);
        let mut own: Vec<(i64, u32)> = Vec::with_capacity(tokens.len());
        let mut bigrams: Vec<i64> = Vec::with_capacity(tokens.len());
        let mut scratch = Scratch::default();
        for (i, token) in tokens.iter().enumerate() {
            let (mut sum, mut count) = (0i64, 0u32);
            token_features(token, &mut scratch, |bucket| {
                sum += weight(bucket);
                count += 1;
            });
            own.push((sum, count));
            bigrams.push(
                tokens
                    .get(i + 1)
                    .map_or(0, |next| weight(bigram(token, next))),
            );
        }
        let mut best = f64::NEG_INFINITY;
        for (start, end) in window_ranges(tokens.len()) {
            let (mut sum, mut count) = (0i64, 0u32);
            for &(s, c) in &own[start..end] {
                sum += s;
                count += c;
            }
            if end > start {
                sum += bigrams[start..end - 1].iter().sum::<i64>();
                count += (end - start - 1) as u32;
            }
            let logit = if count == 0 {
                self.bias
            } else {
                self.bias + self.scale * sum as f64 / f64::from(count.max(MIN_NORM)).sqrt()
            };
            best = best.max(logit);
        }
        best
    }
}

/// The logistic function.
pub fn sigmoid(logit: f64) -> f64 {
    1.0 / (1.0 + (-logit).exp())
}

/// One normalised word: lowercase, look-alike digits folded inside words, long letter runs
/// shortened. `quoted` is true between double quotation marks, so the rules can tell a slur
/// being reported from one being used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub quoted: bool,
}

impl Token {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Splits `text` into normalised tokens, reading at most `max_bytes` of it.
pub fn tokenize(text: &str, max_bytes: usize) -> Vec<Token> {
    let mut out = Vec::new();
    let mut raw = String::new();
    let mut quoted = false;
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for c in text[..end].chars() {
        if c.is_ascii() {
            // The common case, without the Unicode tables.
            if c.is_ascii_alphanumeric() || matches!(c, '*' | '@' | '$') {
                raw.push(c.to_ascii_lowercase());
            } else if c != '\'' {
                finish(&mut raw, &mut out, quoted);
                if c == '"' {
                    quoted = !quoted;
                }
            }
            continue;
        }
        if is_dropped(u32::from(c)) {
            continue;
        }
        let c = fold_fullwidth(c);
        if is_token_char(c) {
            raw.push(lower(c));
            continue;
        }
        finish(&mut raw, &mut out, quoted);
        if matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{00AB}' | '\u{00BB}') {
            quoted = !quoted;
        }
    }
    finish(&mut raw, &mut out, quoted);
    out
}

/// Zero-width characters, soft hyphens and apostrophes vanish: "f\u{200B}uck", "don't".
fn is_dropped(code: u32) -> bool {
    matches!(
        code,
        0x27 | 0x2019 | 0x00AD | 0x200B | 0x200C | 0x200D | 0x2060 | 0xFEFF
    )
}

fn fold_fullwidth(c: char) -> char {
    let code = u32::from(c);
    if (0xFF01..=0xFF5E).contains(&code) {
        char::from_u32(code - 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

fn is_token_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '*' | '@' | '$');
    }
    let code = u32::from(c);
    const SEPARATORS: [(u32, u32); 4] = [
        (0x00A0, 0x00BF),
        (0x2000, 0x206F),
        (0x3000, 0x303F),
        (0xFE00, 0xFE0F),
    ];
    !SEPARATORS
        .iter()
        .any(|&(low, high)| (low..=high).contains(&code))
}

/// Python's `str.lower()` for one character when it maps to one character; unchanged otherwise.
fn lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lowered = c.to_lowercase();
    match (lowered.next(), lowered.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

fn leet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '8' => 'b',
        '@' => 'a',
        '$' => 's',
        other => other,
    }
}

/// Turns the lowercased characters of one word into a token (or nothing) and clears `raw`.
fn finish(raw: &mut String, out: &mut Vec<Token>, quoted: bool) {
    if raw.is_empty() {
        return;
    }
    // Mentions ("@user") and markdown emphasis ("**bold**") are not part of the word; a star
    // inside one ("f*ck") is a masked letter and stays.
    let word = raw.trim_start_matches(['@', '*']).trim_end_matches('*');
    if !word.is_empty() {
        let text = if word.bytes().all(|b| b.is_ascii_digit()) {
            "0".to_owned()
        } else {
            // Fold look-alike digits only in words with letters: "sh1t", not "2024".
            let fold = word
                .bytes()
                .any(|b| b.is_ascii_lowercase() || !b.is_ascii());
            let mut text = String::with_capacity(word.len().min(4 * MAX_TOKEN_CHARS));
            let (mut last, mut before) = (None, None);
            let mut kept = 0;
            for c in word.chars() {
                let c = if fold { leet(c) } else { c };
                // "soooo" and "sooo" are one word: runs longer than two are cut to two.
                if last == Some(c) && before == Some(c) {
                    continue;
                }
                if kept == MAX_TOKEN_CHARS {
                    break;
                }
                text.push(c);
                kept += 1;
                before = last;
                last = Some(c);
            }
            text
        };
        out.push(Token { text, quoted });
    }
    raw.clear();
}

/// Windows of at most [`WINDOW`] tokens, each starting [`STRIDE`] after the previous one; one
/// (possibly empty) window for a short text.
pub fn windows(tokens: &[Token]) -> impl Iterator<Item = &[Token]> {
    window_ranges(tokens.len()).map(|(start, end)| &tokens[start..end])
}

fn window_ranges(len: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let end = (start + WINDOW).min(len);
        let range = (start, end);
        if end >= len {
            done = true;
        } else {
            start += STRIDE;
        }
        Some(range)
    })
}

/// 32-bit FNV-1a, fed piece by piece.
#[derive(Clone, Copy)]
struct Fnv(u32);

impl Fnv {
    const fn new() -> Self {
        Self(0x811C_9DC5)
    }

    fn feed(mut self, bytes: &[u8]) -> Self {
        for &byte in bytes {
            self.0 ^= u32::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
        self
    }

    const fn feed_const(mut self, bytes: &[u8]) -> Self {
        let mut i = 0;
        while i < bytes.len() {
            self.0 ^= bytes[i] as u32;
            self.0 = self.0.wrapping_mul(0x0100_0193);
            i += 1;
        }
        self
    }
}

const WORD: Fnv = Fnv::new().feed_const(b"w\x01");
const BIGRAM: Fnv = Fnv::new().feed_const(b"b\x01");
const CHARGRAM: Fnv = Fnv::new().feed_const(b"c\x01");

/// Buffers reused from token to token.
#[derive(Default)]
struct Scratch {
    bracketed: String,
    starts: Vec<usize>,
}

/// The (unmasked) hash of the bigram feature of `token` followed by `next`.
fn bigram(token: &Token, next: &Token) -> u32 {
    BIGRAM
        .feed(token.text.as_bytes())
        .feed(b"\x01")
        .feed(next.text.as_bytes())
        .0
}

/// Calls `f` with the (unmasked) hash of each of `token`'s own features, in train.py's order:
/// the word, then the character 3-, 4- and 5-grams of `<token>`; none for a stopword.
fn token_features(token: &Token, scratch: &mut Scratch, mut f: impl FnMut(u32)) {
    if STOPWORDS.binary_search(&token.text.as_str()).is_ok() {
        return;
    }
    f(WORD.feed(token.text.as_bytes()).0);
    let Scratch { bracketed, starts } = scratch;
    bracketed.clear();
    bracketed.push('<');
    bracketed.push_str(&token.text);
    bracketed.push('>');
    starts.clear();
    starts.extend(bracketed.char_indices().map(|(at, _)| at));
    starts.push(bracketed.len());
    let chars = starts.len() - 1;
    let bytes = bracketed.as_bytes();
    for n in NGRAMS {
        for j in 0..(chars + 1).saturating_sub(n) {
            f(CHARGRAM.feed(&bytes[starts[j]..starts[j + n]]).0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lucid_auditor_sdk::serde_json::{self, Value};

    fn words(text: &str) -> Vec<String> {
        tokenize(text, usize::MAX)
            .into_iter()
            .map(|t| t.text)
            .collect()
    }

    #[test]
    fn parity_with_train_py() {
        let model = Model::embedded().unwrap();
        let cases: Value = serde_json::from_str(include_str!("../model/parity.json")).unwrap();
        for case in cases.as_array().unwrap() {
            let text = case["text"].as_str().unwrap();
            let expected = case["logit"].as_f64().unwrap();
            let got = model.logit(&tokenize(text, usize::MAX));
            // f32 scale and bias in the file against Python's f64: agree to ~1e-6.
            assert!(
                (got - expected).abs() < 1e-4,
                "{text:?}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn stopwords_are_sorted() {
        assert!(STOPWORDS.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn tokens_are_normalised() {
        assert_eq!(words("Don't YOU dare"), ["dont", "you", "dare"]);
        assert_eq!(words("sh1t @user 2024 $hit"), ["shit", "user", "0", "shit"]);
        assert_eq!(words("soooooo baaad"), ["soo", "baad"]);
        assert_eq!(words("ｆｕｌｌ wid\u{200B}th"), ["full", "width"]);
        assert_eq!(words("Ünïcödé — 日本語"), ["ünïcödé", "日本語"]);
        assert_eq!(words("f*ck… **bold** ***"), ["f*ck", "bold"]);
        assert_eq!(words(&"a".repeat(100)).len(), 1);
        assert_eq!(words(&"ab".repeat(100))[0].chars().count(), MAX_TOKEN_CHARS);
    }

    #[test]
    fn quotes_are_tracked() {
        let tokens = tokenize(r#"he said "go away" to me"#, usize::MAX);
        let quoted: Vec<bool> = tokens.iter().map(|t| t.quoted).collect();
        assert_eq!(quoted, [false, false, true, true, false, false]);
    }

    #[test]
    fn tokenize_stops_at_a_char_boundary() {
        assert_eq!(words_limited("héllo", 2), ["h"]);
        fn words_limited(text: &str, max: usize) -> Vec<String> {
            tokenize(text, max).into_iter().map(|t| t.text).collect()
        }
    }

    #[test]
    fn windows_overlap_and_cover_the_text() {
        let tokens = tokenize(&"w ".repeat(130), usize::MAX);
        let sizes: Vec<usize> = windows(&tokens).map(<[Token]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 34]);
        assert_eq!(windows(&[]).count(), 1);
    }

    #[test]
    fn bad_weights_are_rejected() {
        assert!(Model::parse(b"LTOX").is_err());
        let mut bytes = vec![0u8; 16 + 256];
        bytes[..4].copy_from_slice(b"LTOX");
        bytes[4] = 1;
        bytes[5] = 8;
        assert!(Model::parse(&bytes).is_ok());
        bytes[4] = 2;
        assert!(Model::parse(&bytes).is_err());
        bytes[4] = 1;
        bytes[5] = 9;
        assert!(Model::parse(&bytes).is_err());
    }
}
