//! Sentences, words and the small amount of normalisation lexical support needs: lowercase,
//! a light suffix stemmer, numbers compared by value, function words left out.

use std::collections::HashSet;

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

/// One word of a text, as support is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A content word, stemmed.
    Word(String),
    /// A number, by value ("1,000" and "1000.0" are the same number).
    Number(f64),
}

/// The words of an answer sentence that need support.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Claim {
    pub words: Vec<String>,
    pub numbers: Vec<f64>,
    /// Capitalised words past the sentence's first word, and acronyms: names, places,
    /// products. Stemmed like `words` (they are among them too).
    pub entities: Vec<String>,
}

impl Claim {
    /// Whether the sentence states anything checkable: a number, a name, or a few content
    /// words. "Sure!" and "I hope this helps." are not claims and are not counted.
    pub fn is_checkable(&self, min_words: usize) -> bool {
        !self.numbers.is_empty() || !self.entities.is_empty() || self.words.len() >= min_words
    }
}

/// Everything the sources say, as sets.
#[derive(Debug, Default)]
pub struct Evidence {
    words: HashSet<String>,
    numbers: Vec<f64>,
}

impl Evidence {
    pub fn add(&mut self, text: &str) {
        for raw in raw_words(text) {
            match term(raw) {
                Some(Term::Number(value)) => self.numbers.push(value),
                Some(Term::Word(word)) => {
                    self.words.insert(word);
                }
                None => {}
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

/// The claim of one answer sentence.
pub fn claim(sentence: &str) -> Claim {
    let mut claim = Claim::default();
    for (index, raw) in raw_words(sentence).enumerate() {
        match term(raw) {
            Some(Term::Number(value)) => claim.numbers.push(value),
            Some(Term::Word(word)) => {
                if is_entity(raw, index) {
                    claim.entities.push(word.clone());
                }
                claim.words.push(word);
            }
            None => {}
        }
    }
    claim
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

/// A word's term, or `None` for a function word.
pub fn term(raw: &str) -> Option<Term> {
    if let Some(value) = number(raw) {
        return Some(Term::Number(value));
    }
    let lowered = raw.to_lowercase();
    let lowered = lowered
        .trim_end_matches("'s")
        .trim_end_matches("’s")
        .replace(['\'', '’', '.'], "");
    if lowered.is_empty() || IGNORED.binary_search(&lowered.as_str()).is_ok() {
        return None;
    }
    // Tokens that mix letters and digits ("gpt-4o", "x86") are words, compared as written.
    Some(Term::Word(stem(&lowered)))
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

/// A light English suffix stemmer: enough that "reports", "reported" and "reporting" meet, and
/// "hire", "hired", "hires" and "hiring" (a final `e` goes too).
pub fn stem(word: &str) -> String {
    let chars = word.chars().count();
    let ends = |suffix: &str, min: usize| word.ends_with(suffix) && chars >= min;
    let base = if ends("ies", 5) {
        format!("{}y", &word[..word.len() - 3])
    } else if ["sses", "shes", "ches", "xes", "zes"]
        .iter()
        .any(|suffix| ends(suffix, 5))
    {
        word[..word.len() - 2].to_owned()
    } else if ends("ing", 6) {
        word[..word.len() - 3].to_owned()
    } else if ends("ed", 5) {
        word[..word.len() - 2].to_owned()
    } else if ends("ly", 6) {
        word[..word.len() - 2].to_owned()
    } else if ends("s", 4) && !word.ends_with("ss") && !word.ends_with("us") {
        word[..word.len() - 1].to_owned()
    } else {
        word.to_owned()
    };
    match base.strip_suffix('e') {
        Some(stripped) if stripped.chars().count() >= 3 => stripped.to_owned(),
        _ => base,
    }
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

    #[test]
    fn claims_hold_words_numbers_and_names() {
        let claim = claim("The Eiffel Tower in Paris is 330 metres tall and opened in 1,889.");
        assert_eq!(claim.numbers, [330.0, 1889.0]);
        assert_eq!(claim.entities, ["eiffel", "tower", "pari"]);
        assert!(claim.words.contains(&stem("metre")));
        assert!(!claim.words.contains(&"the".to_owned()));
        assert!(claim.is_checkable(3));
        assert!(!super::claim("Sure, here you go!").is_checkable(3));
        assert_eq!(super::claim("NASA launched it").entities, ["nasa"]);
    }

    #[test]
    fn numbers_compare_by_value() {
        let mut evidence = Evidence::default();
        evidence.add("It costs 1,000.00 dollars, up 3.5% since 2020.");
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
        let claim = claim("Zürich liegt in der Schweiz, 東京 ist größer.");
        assert!(claim.entities.contains(&"schweiz".to_owned()));
        assert!(claim.words.iter().any(|w| w == "東京"));
        assert!(claim.words.iter().any(|w| w == "größer"));
    }
}
