//! Sentences, words and the small amount of normalisation lexical support needs: lowercase,
//! a light suffix stemmer, numbers compared by value, function words left out.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};

/// Words that say nothing about the facts of a sentence: function words and the discourse
/// of an assistant's answer ("Sure, here is...", "based on the provided context",
/// "let me know if you have questions"). Sorted, for binary search.
const IGNORED: &[&str] = &[
    "a",
    "about",
    "according",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "answer",
    "any",
    "are",
    "arent",
    "as",
    "at",
    "based",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "cant",
    "certainly",
    "context",
    "could",
    "couldnt",
    "did",
    "didnt",
    "do",
    "document",
    "documents",
    "does",
    "doesnt",
    "doing",
    "dont",
    "during",
    "each",
    "eg",
    "etc",
    "feel",
    "few",
    "for",
    "free",
    "from",
    "further",
    "given",
    "glad",
    "great",
    "had",
    "happy",
    "has",
    "have",
    "having",
    "he",
    "hello",
    "help",
    "her",
    "here",
    "hers",
    "herself",
    "hi",
    "him",
    "himself",
    "his",
    "hope",
    "how",
    "however",
    "i",
    "ie",
    "if",
    "in",
    "information",
    "into",
    "is",
    "isnt",
    "it",
    "its",
    "itself",
    "just",
    "know",
    "let",
    "like",
    "may",
    "me",
    "mentioned",
    "might",
    "more",
    "most",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "note",
    "of",
    "off",
    "ok",
    "okay",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "please",
    "provide",
    "provided",
    "question",
    "questions",
    "said",
    "same",
    "says",
    "she",
    "should",
    "shouldnt",
    "so",
    "some",
    "source",
    "sources",
    "state",
    "states",
    "such",
    "sure",
    "than",
    "thank",
    "thanks",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "wasnt",
    "we",
    "well",
    "were",
    "werent",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "wont",
    "would",
    "wouldnt",
    "yes",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Abbreviations whose period does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "approx", "dr", "e.g", "eg", "etc", "fig", "i.e", "ie", "inc", "jr", "ltd", "mr", "mrs", "ms",
    "no", "prof", "sr", "st", "u.s", "vs",
];

/// What one answer sentence states, checked against the evidence.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// Content words, and how many of them the sources have.
    pub words: usize,
    pub found: usize,
    /// Numbers, and how many the sources lack.
    pub numbers: usize,
    pub missing_numbers: usize,
    /// Names (capitalised words past the sentence's first, acronyms), and how many the sources
    /// lack.
    pub entities: usize,
    pub missing_entities: usize,
}

impl Check {
    /// Whether the sentence states anything checkable: a number, a name, or a few content
    /// words. "Sure!" and "I hope this helps." are not claims and are not counted.
    pub fn is_checkable(&self, min_words: usize) -> bool {
        self.numbers > 0 || self.entities > 0 || self.words >= min_words
    }

    /// Share of the content words the sources have (1 when there are none).
    pub fn support(&self) -> f64 {
        if self.words == 0 {
            1.0
        } else {
            self.found as f64 / self.words as f64
        }
    }
}

/// Checks one answer sentence against the evidence.
pub fn check(sentence: &str, evidence: &Evidence, normalizer: &mut Normalizer) -> Check {
    let mut check = Check::default();
    for (index, raw) in raw_words(sentence).enumerate() {
        match normalizer.term(raw) {
            Some(Term::Number(value)) => {
                check.numbers += 1;
                check.missing_numbers += usize::from(!evidence.has_number(value));
            }
            Some(Term::Word(word)) => {
                let known = evidence.has_word(word);
                check.words += 1;
                check.found += usize::from(known);
                if is_entity(raw, index) {
                    check.entities += 1;
                    check.missing_entities += usize::from(!known);
                }
            }
            None => {}
        }
    }
    check
}

/// One word of a text, normalised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Term<'a> {
    /// A content word, lowercased and stemmed.
    Word(&'a str),
    /// A number, by value ("1,000" and "1000.0" are the same number).
    Number(f64),
}

/// Turns words into terms, reusing one buffer (a call normalises every word of the context
/// and of the answer: no allocation per word).
#[derive(Debug, Default)]
pub struct Normalizer {
    buffer: String,
}

impl Normalizer {
    /// A word's term, or `None` for a function word.
    pub fn term(&mut self, raw: &str) -> Option<Term<'_>> {
        if raw.starts_with(|c: char| c.is_ascii_digit())
            && let Some(value) = number(raw)
        {
            return Some(Term::Number(value));
        }
        let raw = raw
            .strip_suffix("'s")
            .or_else(|| raw.strip_suffix("’s"))
            .unwrap_or(raw);
        self.buffer.clear();
        for c in raw.chars() {
            match c {
                '\'' | '’' | '.' => {}
                c if c.is_ascii() => self.buffer.push(c.to_ascii_lowercase()),
                c => self.buffer.extend(c.to_lowercase()),
            }
        }
        if self.buffer.is_empty() || IGNORED.binary_search(&self.buffer.as_str()).is_ok() {
            return None;
        }
        stem_in_place(&mut self.buffer);
        Some(Term::Word(&self.buffer))
    }
}

/// Everything the sources say: their content words (stemmed) and numbers.
#[derive(Debug, Default)]
pub struct Evidence {
    words: HashSet<Box<str>, BuildFnv>,
    numbers: Vec<f64>,
}

impl Evidence {
    pub fn add(&mut self, text: &str, normalizer: &mut Normalizer) {
        for raw in raw_words(text) {
            match normalizer.term(raw) {
                Some(Term::Number(value)) => self.numbers.push(value),
                // Look up before inserting: most words repeat, and a lookup does not allocate.
                Some(Term::Word(word)) if !self.words.contains(word) => {
                    self.words.insert(word.into());
                }
                Some(Term::Word(_)) | None => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.numbers.is_empty()
    }

    pub fn has_word(&self, word: &str) -> bool {
        self.words.contains(word)
    }

    pub fn has_number(&self, value: f64) -> bool {
        self.numbers
            .iter()
            .any(|&known| (known - value).abs() <= 1e-9 * known.abs().max(1.0))
    }
}

/// FNV-1a for the word set: short keys, no untrusted-collision concern worth SipHash's cost
/// (a call is bounded in size and runs in a fresh instance).
#[derive(Debug, Default, Clone, Copy)]
struct BuildFnv;

impl BuildHasher for BuildFnv {
    type Hasher = Fnv;

    fn build_hasher(&self) -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Splits an answer into sentences: at line breaks (list items, paragraphs), and after `.`,
/// `!` or `?` followed by a space, except after abbreviations, initials and inside numbers.
/// Fenced code blocks are left out (code is not a factual claim to check against prose).
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            in_code = !in_code;
            continue;
        }
        if in_code || trimmed.is_empty() {
            continue;
        }
        let mut start = 0;
        let bytes = trimmed.as_bytes();
        for (at, c) in trimmed.char_indices() {
            if !matches!(c, '.' | '!' | '?') {
                continue;
            }
            let next = bytes.get(at + 1).copied();
            if !matches!(next, None | Some(b' ' | b'\t' | b'"' | b')' | b'\'')) {
                continue;
            }
            if c == '.' && ends_with_abbreviation(&trimmed[start..at]) {
                continue;
            }
            push_sentence(&mut out, &trimmed[start..=at]);
            start = at + 1;
        }
        push_sentence(&mut out, &trimmed[start..]);
    }
    out
}

fn push_sentence<'a>(out: &mut Vec<&'a str>, sentence: &'a str) {
    // Markdown list markers ("- ", "2. ", "3) ") and headings are layout, not words.
    let mut sentence = sentence
        .trim()
        .trim_start_matches(['#', '>', '-', '*', '+', ' '])
        .trim();
    let digits = sentence.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0
        && matches!(sentence.as_bytes().get(digits), Some(b'.' | b')'))
        && matches!(sentence.as_bytes().get(digits + 1), Some(b' '))
    {
        sentence = sentence[digits + 1..].trim();
    }
    if sentence.chars().any(char::is_alphanumeric) {
        out.push(sentence);
    }
}

fn ends_with_abbreviation(before: &str) -> bool {
    let last = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default();
    let lowered = last.to_lowercase();
    // "J. Smith", "U.S." and "e.g." keep going; so do list numbers ("1. First").
    (last.chars().count() == 1 && last.chars().all(char::is_alphanumeric))
        || ABBREVIATIONS.binary_search(&lowered.as_str()).is_ok()
        || (!last.is_empty() && last.chars().all(|c| c.is_ascii_digit()) && before.trim() == last)
}

/// A name: capitalised past the sentence's first word ("in Lisbon"), or an acronym anywhere
/// ("NASA"). The first word is capitalised anyway and tells nothing.
fn is_entity(raw: &str, index: usize) -> bool {
    let mut chars = raw.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let letters = raw.chars().filter(|c| c.is_alphabetic()).count();
    let acronym = letters >= 2 && raw.chars().all(|c| !c.is_lowercase());
    acronym || (index > 0 && first.is_uppercase())
}

/// The words of a text as written: runs of letters, digits and the joiners inside words and
/// numbers ("don't", "3.5", "1,000", "e-mail", "U.S.").
fn raw_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '\'' | '’' | '.' | ',' | '-' | '%')))
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|word| !word.is_empty())
}

/// A number written with digits: thousands separators and a trailing percent sign are
/// dropped, a decimal point kept ("1,200.50", "3.5%", "2024").
fn number(raw: &str) -> Option<f64> {
    let cleaned: String = raw
        .trim_end_matches('%')
        .chars()
        .filter(|&c| c != ',')
        .collect();
    if cleaned.is_empty() || !cleaned.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    cleaned
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
}

/// A light English suffix stemmer, in place: enough that "reports", "reported" and
/// "reporting" meet, and "hire", "hired", "hires" and "hiring" (a final `e` goes too).
pub fn stem_in_place(word: &mut String) {
    let chars = word.chars().count();
    let ends = |word: &str, suffix: &str, min: usize| word.ends_with(suffix) && chars >= min;
    if ends(word, "ies", 5) {
        word.truncate(word.len() - 3);
        word.push('y');
    } else if ["sses", "shes", "ches", "xes", "zes"]
        .iter()
        .any(|suffix| ends(word, suffix, 5))
    {
        word.truncate(word.len() - 2);
    } else if ends(word, "ing", 6) {
        word.truncate(word.len() - 3);
    } else if ends(word, "ed", 5) || ends(word, "ly", 6) {
        word.truncate(word.len() - 2);
    } else if ends(word, "s", 4) && !word.ends_with("ss") && !word.ends_with("us") {
        word.truncate(word.len() - 1);
    }
    if word.ends_with('e') && word.chars().count() >= 4 {
        word.truncate(word.len() - 1);
    }
}

/// [`stem_in_place`] on a copy.
pub fn stem(word: &str) -> String {
    let mut word = word.to_owned();
    stem_in_place(&mut word);
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_are_sorted() {
        assert!(IGNORED.windows(2).all(|w| w[0] < w[1]));
        assert!(ABBREVIATIONS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn sentences_split_at_ends_not_at_abbreviations_or_numbers() {
        let text = "Revenue was $3.5 million in 2023. Dr. Smith, e.g. the CFO, agreed! Did it grow?\n\
                    - First item\n2. Second item\n\n```rust\nlet x = 1.5;\n```\nJ. R. R. Tolkien wrote it.";
        assert_eq!(
            sentences(text),
            [
                "Revenue was $3.5 million in 2023.",
                "Dr. Smith, e.g. the CFO, agreed!",
                "Did it grow?",
                "First item",
                "Second item",
                "J. R. R. Tolkien wrote it.",
            ]
        );
        assert!(sentences("").is_empty());
        assert!(sentences("...  !!! \n\n ---").is_empty());
    }

    fn evidence(text: &str) -> Evidence {
        let mut evidence = Evidence::default();
        evidence.add(text, &mut Normalizer::default());
        evidence
    }

    #[test]
    fn checks_count_words_numbers_and_names() {
        let sources = evidence("Paris has the Eiffel Tower, 330 metres tall, opened in 1889.");
        let mut normalizer = Normalizer::default();
        let good = check(
            "The Eiffel Tower in Paris is 330 metres tall and opened in 1,889.",
            &sources,
            &mut normalizer,
        );
        assert_eq!((good.numbers, good.missing_numbers), (2, 0));
        assert_eq!((good.entities, good.missing_entities), (3, 0));
        assert_eq!(good.support(), 1.0);
        assert!(good.is_checkable(3));
        let bad = check(
            "NASA built the Eiffel Tower in 1900 in Lyon.",
            &sources,
            &mut normalizer,
        );
        assert_eq!((bad.numbers, bad.missing_numbers), (1, 1));
        assert_eq!((bad.entities, bad.missing_entities), (4, 2));
        assert!(!check("Sure, here you go!", &sources, &mut normalizer).is_checkable(3));
    }

    #[test]
    fn numbers_compare_by_value() {
        let evidence = evidence("It costs 1,000.00 dollars, up 3.5% since 2020.");
        assert!(evidence.has_number(1000.0));
        assert!(evidence.has_number(3.5));
        assert!(evidence.has_number(2020.0));
        assert!(!evidence.has_number(2021.0));
        assert!(evidence.has_word(&stem("dollars")));
        assert!(evidence.has_word("cost"));
    }

    #[test]
    fn stemming_meets_inflections() {
        for (a, b) in [
            ("reports", "reported"),
            ("reporting", "report"),
            ("studies", "study"),
            ("cities", "city"),
            ("hired", "hire"),
            ("hiring", "hires"),
            ("metres", "metre"),
            ("boxes", "box"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} {b}");
        }
        assert_eq!(stem("bus"), "bus");
        assert_eq!(stem("glass"), "glass");
    }

    #[test]
    fn unicode_words_survive() {
        let sources = evidence("Zürich liegt in der Schweiz; 東京 ist größer.");
        let mut normalizer = Normalizer::default();
        let found = check("ZÜRICH ist größer, 東京", &sources, &mut normalizer);
        assert_eq!(found.words, found.found);
        assert!(matches!(
            normalizer.term("Größer"),
            Some(Term::Word("größer"))
        ));
        assert_eq!(normalizer.term("the"), None);
        assert_eq!(normalizer.term("1,5"), Some(Term::Number(15.0)));
    }
}
