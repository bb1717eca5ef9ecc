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
        let header = bytes
            .get(..HEADER_LEN)
            .ok_or_else(|| ModelError(format!("{} bytes; expected a 16-byte header", bytes.len())))?;
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

    /// The logit of one window of tokens (the bias alone for an empty window).
    pub fn window_logit(&self, tokens: &[Token]) -> f64 {
        let mut sum = 0i64;
        let mut count = 0u32;
        for_each_feature(tokens, self.mask, |bucket| {
            // `bucket` is masked to the table size, so the index is always in bounds.
            sum += i64::from(self.weights[bucket as usize] as i8);
            count += 1;
        });
        if count == 0 {
            return self.bias;
        }
        self.bias + self.scale * sum as f64 / f64::from(count).sqrt()
    }

    /// The highest window logit of a token sequence.
    pub fn logit(&self, tokens: &[Token]) -> f64 {
        windows(tokens)
            .map(|window| self.window_logit(window))
            .fold(f64::NEG_INFINITY, f64::max)
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
    let mut current: Vec<char> = Vec::new();
    let mut quoted = false;
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for c in text[..end].chars() {
        let code = u32::from(c);
        if is_dropped(code) {
            continue;
        }
        let c = fold_fullwidth(c);
        if is_token_char(c) {
            current.push(lower(c));
            continue;
        }
        if let Some(token) = finish(&mut current) {
            out.push(Token {
                text: token,
                quoted,
            });
        }
        if matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{00AB}' | '\u{00BB}') {
            quoted = !quoted;
        }
    }
    if let Some(token) = finish(&mut current) {
        out.push(Token {
            text: token,
            quoted,
        });
    }
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

fn finish(current: &mut Vec<char>) -> Option<String> {
    // Mentions ("@user") and markdown emphasis ("**bold**") are not part of the word; a star
    // inside one ("f*ck") is a masked letter and stays.
    let start = current
        .iter()
        .take_while(|&&c| c == '@' || c == '*')
        .count();
    let end = current.len()
        - current[start..]
            .iter()
            .rev()
            .take_while(|&&c| c == '*')
            .count();
    let chars = &current[start..end];
    let token = if chars.is_empty() {
        None
    } else if chars.iter().all(char::is_ascii_digit) {
        Some("0".to_owned())
    } else {
        let fold = chars
            .iter()
            .any(|&c| c.is_ascii_lowercase() || !c.is_ascii());
        let mut out = String::new();
        let (mut last, mut before) = (None, None);
        let mut kept = 0;
        for &c in chars {
            let c = if fold { leet(c) } else { c };
            if last == Some(c) && before == Some(c) {
                continue;
            }
            if kept == MAX_TOKEN_CHARS {
                break;
            }
            out.push(c);
            kept += 1;
            before = last;
            last = Some(c);
        }
        Some(out)
    };
    current.clear();
    token
}

/// Windows of at most [`WINDOW`] tokens, each starting [`STRIDE`] after the previous one; one
/// (possibly empty) window for a short text.
pub fn windows(tokens: &[Token]) -> impl Iterator<Item = &[Token]> {
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let end = (start + WINDOW).min(tokens.len());
        let window = &tokens[start..end];
        if end >= tokens.len() {
            done = true;
        } else {
            start += STRIDE;
        }
        Some(window)
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
}

/// Calls `f` with the bucket of every feature of `tokens`, in train.py's order: per token its
/// word, the bigram with the next token, then its character 3-, 4- and 5-grams of `<token>`.
fn for_each_feature(tokens: &[Token], mask: u32, mut f: impl FnMut(u32)) {
    let word = Fnv::new().feed(b"w\x01");
    let bigram = Fnv::new().feed(b"b\x01");
    let chargram = Fnv::new().feed(b"c\x01");
    let mut bracketed = String::new();
    let mut starts: Vec<usize> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let text = token.text.as_bytes();
        f(word.feed(text).0 & mask);
        if let Some(next) = tokens.get(i + 1) {
            f(bigram
                .feed(text)
                .feed(b"\x01")
                .feed(next.text.as_bytes())
                .0
                & mask);
        }
        bracketed.clear();
        bracketed.push('<');
        bracketed.push_str(&token.text);
        bracketed.push('>');
        starts.clear();
        starts.extend(bracketed.char_indices().map(|(at, _)| at));
        starts.push(bracketed.len());
        let chars = starts.len() - 1;
        for n in NGRAMS {
            for j in 0..(chars + 1).saturating_sub(n) {
                f(chargram.feed(&bracketed.as_bytes()[starts[j]..starts[j + n]]).0 & mask);
            }
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
            assert!((got - expected).abs() < 1e-4, "{text:?}: {got} vs {expected}");
        }
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
