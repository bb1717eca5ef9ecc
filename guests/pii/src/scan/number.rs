//! Bare numbers: payment cards, US SSNs and phone numbers. A number is read once, as a span of
//! digit groups (`+44 (0)20 7946-0958` is `+`, groups [2, 1, 2, 4, 4], one in parentheses),
//! and classified by its shape, checksums and, for shapes that could be anything, by the cue
//! words before it.

use super::cue::{self, Topic};
use super::text::{MASK, at_word_start, is_word};
use super::{Kind, Scanner};

const MAX_DIGITS: usize = 24;
const MAX_GROUPS: usize = 12;

const SEP_SPACE: u8 = 1;
const SEP_DASH: u8 = 2;
const SEP_DOT: u8 = 4;
const SEP_SLASH: u8 = 8;
const SEP_UNDERSCORE: u8 = 16;

pub(crate) fn scan(scanner: &mut Scanner) {
    // Numbers are read on a folded copy of the text (Unicode spaces, dashes and fullwidth
    // digits as their ASCII forms, runs of spaces as one); `view.origin` maps every folded
    // offset back to the original, so spans stay exact byte offsets into the scanned text.
    let mut view = Folded::new(scanner.bytes());
    let mut i = 0;
    while i < view.bytes.len() {
        let bytes = &view.bytes[..];
        let b = bytes[i];
        if !(b.is_ascii_digit() || b == b'+' || b == b'(') {
            i += 1;
            continue;
        }
        let glued = !starts_number(bytes, i);
        if glued && !cue::glued_label(bytes, i, Topic::Card) {
            i += 1;
            continue;
        }
        let Some(span) = Span::read(bytes, i, true) else {
            i += 1;
            continue;
        };
        // A number broken over lines is only one number when it is a card: a phone number
        // on one line and a count on the next are two things. Otherwise read it line by line.
        let span = if span.line_break && span.classify(bytes) != Some(Kind::CreditCard) {
            match Span::read(bytes, i, false) {
                Some(span) => span,
                None => {
                    i += 1;
                    continue;
                }
            }
        } else {
            span
        };
        if span.parens == 1 && span.group_count == 1 {
            // `(4111111111111111)`: a number in brackets, not an area code; read it without.
            i += 1;
            continue;
        }
        let extension = extension_after(bytes, span.end);
        if extension.is_none() && span.end < bytes.len() && is_word(bytes[span.end]) {
            // Glued to letters (a hash, an id like 555-1234abc): skip the whole word.
            let mut end = span.end;
            while end < bytes.len() && is_word(bytes[end]) {
                end += 1;
            }
            i = end;
            continue;
        }
        match span.classify(bytes) {
            // Digits glued to a label (`card4111111111111111`) count only as the card it names.
            Some(kind) if glued && kind != Kind::CreditCard => i = span.end,
            Some(Kind::Phone) => {
                let end = extension.unwrap_or(span.end);
                view.record(scanner, Kind::Phone, i, end);
                i = end;
            }
            Some(kind) => {
                view.record(scanner, kind, i, span.end);
                i = span.end;
            }
            // Never re-read the tail of a span: the last twelve digits of a failed card are
            // not a fresh number.
            None => i = span.end.max(i + 1),
        }
    }
}

/// The text with the characters that people (and word processors) put into numbers folded to
/// ASCII: no-break and other Unicode spaces and tabs to one space per run, hyphens and dashes
/// (`‐`, `–`, `—`, `−`, `－`) to `-`, fullwidth digits, `＋` and parentheses to ASCII.
/// Line breaks are kept: cues stop at them.
struct Folded {
    bytes: Vec<u8>,
    /// The original offset of each folded byte, and one past the end.
    origin: Vec<usize>,
}

impl Folded {
    fn new(text: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(text.len());
        let mut origin = Vec::with_capacity(text.len() + 1);
        let mut i = 0;
        while i < text.len() {
            let (folded, len) = fold_at(text, i);
            // A run of spaces is one separator, whatever it is made of.
            if !(folded == Some(b' ') && bytes.last() == Some(&b' ')) {
                match folded {
                    Some(b) => {
                        bytes.push(b);
                        origin.push(i);
                    }
                    None => {
                        bytes.extend_from_slice(&text[i..i + len]);
                        origin.extend(i..i + len);
                    }
                }
            }
            i += len;
        }
        origin.push(text.len());
        Self { bytes, origin }
    }

    /// Records the match `start..end` of the folded text at its original offsets, and masks
    /// it here too, so that the cues of later numbers see what the other passes see.
    fn record(&mut self, scanner: &mut Scanner, kind: Kind, start: usize, end: usize) {
        scanner.record(kind, self.origin[start], self.origin[end]);
        self.bytes[start..end].fill(MASK);
    }
}

/// The ASCII byte the character at `i` folds to (if it folds) and the character's length.
fn fold_at(text: &[u8], i: usize) -> (Option<u8>, usize) {
    match text[i..] {
        [b' ' | b'\t', ..] => (Some(b' '), 1),
        [0xC2, 0xA0, ..] => (Some(b' '), 2),
        // U+2000-U+200A, U+202F, U+205F, U+3000: Unicode spaces.
        [0xE2, 0x80, 0x80..=0x8A, ..] | [0xE2, 0x80, 0xAF, ..] | [0xE2, 0x81, 0x9F, ..] => {
            (Some(b' '), 3)
        }
        [0xE3, 0x80, 0x80, ..] => (Some(b' '), 3),
        // U+2010-U+2015 hyphens and dashes, U+2212 minus, U+FF0D fullwidth hyphen-minus.
        [0xE2, 0x80, 0x90..=0x95, ..] | [0xE2, 0x88, 0x92, ..] | [0xEF, 0xBC, 0x8D, ..] => {
            (Some(b'-'), 3)
        }
        // U+FF10-U+FF19 fullwidth digits, U+FF0B `＋`, U+FF08/U+FF09 `（` `）`.
        [0xEF, 0xBC, d @ 0x90..=0x99, ..] => (Some(b'0' + (d - 0x90)), 3),
        [0xEF, 0xBC, 0x8B, ..] => (Some(b'+'), 3),
        [0xEF, 0xBC, 0x88, ..] => (Some(b'('), 3),
        [0xEF, 0xBC, 0x89, ..] => (Some(b')'), 3),
        [b, ..] => (None, utf8_len(b).min(text.len() - i)),
        [] => (None, 1),
    }
}

/// The length of the UTF-8 sequence a lead byte starts (1 for anything else, so a scan always
/// moves on).
fn utf8_len(b: u8) -> usize {
    match b {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// A number starts at a word start that is not the inner part of a longer token: `v1.2.3`,
/// `ORD-1234567`, `a1b2-3344` and `x/555` hold no number of their own.
fn starts_number(bytes: &[u8], i: usize) -> bool {
    if !at_word_start(bytes, i) {
        return false;
    }
    if i >= 2 && matches!(bytes[i - 1], b'-' | b'.' | b'/' | b':' | b'_') {
        let glued = bytes[i - 2].is_ascii_alphanumeric();
        // `tel:+1…` and `tel:0…` are the one case of a glued prefix that is a number's label.
        let tel =
            bytes[i - 1] == b':' && i >= 4 && bytes[i - 4..i - 1].eq_ignore_ascii_case(b"tel");
        return !glued || tel;
    }
    true
}

/// `x123`, ` ext. 123`, ` extension 123`, `;ext=123`, ` #123`: the end of the extension.
fn extension_after(bytes: &[u8], end: usize) -> Option<usize> {
    let mut p = end;
    if matches!(bytes.get(p), Some(b' ' | b',')) {
        p += 1;
    }
    let rest = &bytes[p.min(bytes.len())..];
    let marker = [&b";ext="[..], b"extension", b"ext.", b"ext", b"x", b"#"]
        .into_iter()
        .find(|marker| {
            rest.len() >= marker.len() && rest[..marker.len()].eq_ignore_ascii_case(marker)
        })?;
    p += marker.len();
    if bytes.get(p) == Some(&b' ') {
        p += 1;
    }
    let digits_start = p;
    while p < bytes.len() && bytes[p].is_ascii_digit() && p - digits_start < 6 {
        p += 1;
    }
    let ok = p > digits_start && (p >= bytes.len() || !is_word(bytes[p]));
    ok.then_some(p)
}

/// Digits in groups.
#[derive(Default)]
struct Span {
    start: usize,
    end: usize,
    plus: bool,
    /// Only the first `MAX_DIGITS` are kept; `digit_count` counts them all.
    digits: [u8; MAX_DIGITS],
    digit_count: usize,
    groups: [u8; MAX_GROUPS],
    group_count: usize,
    /// Groups written in parentheses, and whether one of them is a lone trunk `(0)`.
    parens: usize,
    paren_trunk: bool,
    separators: u8,
    /// Whether a line break stands between two groups.
    line_break: bool,
}

impl Span {
    /// Reads the longest span starting at `start`; with `across_lines`, a line break (with
    /// spaces around it) may stand between two groups, as in a card number wrapped in a note.
    fn read(bytes: &[u8], start: usize, across_lines: bool) -> Option<Span> {
        let mut span = Span {
            start,
            ..Span::default()
        };
        let mut pos = start;
        if bytes[pos] == b'+' {
            span.plus = true;
            pos += 1;
        }
        pos = span.read_group(bytes, pos)?;
        loop {
            // Past a card's length, reading on over lines only costs time: the span is read
            // again line by line.
            if across_lines && span.digit_count > MAX_DIGITS {
                break;
            }
            let (separator, len, line_break) = separator_at(bytes, pos, across_lines);
            let after_paren = bytes[pos - 1] == b')';
            let next = if len > 0 {
                span.read_group(bytes, pos + len)
            } else if after_paren || bytes.get(pos) == Some(&b'(') {
                // (555)123-4567 and +1(555)…: parentheses may stand without a separator.
                span.read_group(bytes, pos)
            } else {
                None
            };
            match next {
                Some(end) => {
                    span.separators |= separator;
                    span.line_break |= line_break;
                    pos = end;
                }
                None => break,
            }
        }
        span.end = pos;
        Some(span)
    }

    /// Reads `123` or `(123)` at `pos`; on failure the span is left untouched.
    fn read_group(&mut self, bytes: &[u8], pos: usize) -> Option<usize> {
        let parens = bytes.get(pos) == Some(&b'(');
        let digits_start = pos + usize::from(parens);
        let mut end = digits_start;
        while end < bytes.len() && bytes[end].is_ascii_digit() {
            end += 1;
        }
        if end == digits_start || (parens && bytes.get(end) != Some(&b')')) {
            return None;
        }
        if parens {
            self.parens += 1;
            self.paren_trunk |= end - digits_start == 1 && bytes[digits_start] == b'0';
        }
        for &b in &bytes[digits_start..end] {
            if self.digit_count < MAX_DIGITS {
                self.digits[self.digit_count] = b - b'0';
            }
            self.digit_count += 1;
        }
        if self.group_count < MAX_GROUPS {
            self.groups[self.group_count] = u8::try_from(end - digits_start).unwrap_or(u8::MAX);
        }
        self.group_count += 1;
        Some(end + usize::from(parens))
    }

    fn digits(&self) -> &[u8] {
        &self.digits[..self.digit_count.min(MAX_DIGITS)]
    }

    fn groups(&self) -> &[u8] {
        &self.groups[..self.group_count.min(MAX_GROUPS)]
    }

    fn one_separator(&self) -> bool {
        self.separators.count_ones() <= 1
    }

    fn classify(&self, bytes: &[u8]) -> Option<Kind> {
        if self.digit_count > MAX_DIGITS || self.group_count > MAX_GROUPS {
            return None;
        }
        if let Some(kind) = self.ssn(bytes) {
            return Some(kind);
        }
        if !self.plus && self.parens == 0 && self.digit_count >= 12 {
            if self.is_card(bytes) {
                return Some(Kind::CreditCard);
            }
            // Thirteen digits and more, without a `+`: an id, not a national phone number
            // (exceptions: an international prefix such as `00 44`, and the thirteen digits of
            // some Austrian and German numbers with their trunk 0).
            let too_long =
                self.digit_count >= 14 || (self.digit_count == 13 && self.digits[0] != 0);
            if too_long && self.international_prefix().is_none() {
                return None;
            }
        }
        self.is_phone(bytes).then_some(Kind::Phone)
    }

    // -----------------------------------------------------------------------------------------
    // US social security numbers

    fn ssn(&self, bytes: &[u8]) -> Option<Kind> {
        if self.plus || self.parens > 0 || !self.is_valid_ssn() {
            return None;
        }
        let dashed = self.groups() == [3, 2, 4] && self.separators == SEP_DASH;
        let spaced = self.groups() == [3, 2, 4] && self.separators == SEP_SPACE;
        let bare = self.group_count == 1;
        let named = || cue::before(bytes, self.start, Topic::Ssn);
        (dashed || ((spaced || bare) && named())).then_some(Kind::UsSsn)
    }

    /// Nine digits; area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
    fn is_valid_ssn(&self) -> bool {
        if self.digit_count != 9 {
            return false;
        }
        let d = self.digits();
        let area = &d[..3];
        area != [0, 0, 0]
            && area != [6, 6, 6]
            && area[0] != 9
            && d[3..5] != [0, 0]
            && d[5..] != [0, 0, 0, 0]
    }

    // -----------------------------------------------------------------------------------------
    // Payment cards

    fn is_card(&self, bytes: &[u8]) -> bool {
        let n = self.digit_count;
        // Printed groupings: 4-4-4-4, 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-4-3, or one run.
        let grouped =
            self.group_count == 1 || self.groups().iter().all(|len| (3..=6).contains(len));
        let shaped = (12..=19).contains(&n) && self.one_separator() && grouped;
        if !(shaped && issuer_accepts(self.digits()) && luhn_ok(self.digits())) {
            return false;
        }
        // Twelve digits in one run (Maestro) and valid EAN-13 barcodes that happen to pass Luhn
        // look like many other numbers: those need a word such as "card" or "visa" before
        // them. Printed 4-4-4 is a card's grouping.
        let ambiguous = (n == 12 && self.group_count == 1)
            || (n == 13 && ean13_ok(self.digits()))
            || (self.group_count == 1 && cue::right_before(bytes, self.start, Topic::OtherNumber));
        !ambiguous || cue::before(bytes, self.start, Topic::Card)
    }

    // -----------------------------------------------------------------------------------------
    // Phone numbers

    /// The length of an international prefix written as digits: `00 44 …`, `0044 …`,
    /// `011 44 …`, `001-…` (the prefix followed by a country code).
    fn international_prefix(&self) -> Option<usize> {
        let d = self.digits();
        let first = usize::from(*self.groups().first()?);
        let prefix = if d.starts_with(&[0, 1, 1]) && first == 3 {
            3
        } else if d.starts_with(&[0, 0]) && d.get(2).is_some_and(|d| *d != 0) {
            2
        } else {
            return None;
        };
        // The country code must follow in the same group or stand as the next one.
        let code = country_code(&d[prefix..])?;
        (first == prefix || first == prefix + code).then_some(prefix)
    }

    fn is_phone(&self, bytes: &[u8]) -> bool {
        let d = self.digits();
        let n = self.digit_count;
        let groups = self.groups();
        let trunk_digits = usize::from(self.paren_trunk);
        if self.plus {
            // E.164: a country code and at most 15 digits in all.
            let significant = n - trunk_digits;
            return (7..=15).contains(&significant) && country_code(d).is_some();
        }
        if let Some(prefix) = self.international_prefix() {
            let significant = n - prefix - trunk_digits;
            return (7..=15).contains(&significant) && self.group_count >= 2;
        }
        // National numbers with a trunk prefix run to 13 digits (Austria, Germany).
        let longest = if d[0] == 0 { 13 } else { 12 };
        if !(7..=longest).contains(&n) || self.looks_like_date() || self.looks_like_isbn() {
            return false;
        }
        if currency_before(bytes, self.start) {
            return false;
        }
        if self.is_structured_phone() {
            // A grouped number yields only to a label right before it; one unbroken run is
            // more often an id, and yields to any such word nearby.
            let named_other = if self.group_count == 1 {
                cue::before(bytes, self.start, Topic::OtherNumber)
            } else {
                cue::right_before(bytes, self.start, Topic::OtherNumber)
            };
            return !named_other;
        }
        // Anything else of phone length is a phone number when it is called one (and nothing
        // else near it says it is an order or account number). A run of seven digits is too
        // often a count or an id.
        let plausible_groups = groups.iter().skip(1).all(|len| *len >= 2)
            && groups.len() <= 6
            && (self.group_count > 1 || n >= 8);
        plausible_groups
            && !cue::before(bytes, self.start, Topic::OtherNumber)
            && cue::before(bytes, self.start, Topic::Phone)
    }

    /// Shapes that are phone numbers wherever they stand.
    fn is_structured_phone(&self) -> bool {
        let d = self.digits();
        let n = self.digit_count;
        let groups = self.groups();
        let first = groups[0];
        // An area code in parentheses: (555) 010-4477, (0161) 4960066, +49 (0) 89…
        if self.parens > 0 && self.group_count >= 2 && n >= 7 {
            return true;
        }
        // North American: 555-123-4567, 555.123.4567, 1 555 123 4567; area codes start 2-9.
        // (123-456-7890, the placeholder everyone writes, is phone-shaped too.)
        let north_american = match groups {
            [3, 3, 4] => true,
            [1, 3, 3, 4] => d[0] == 1,
            _ => false,
        };
        if north_american {
            return true;
        }
        // A trunk prefix: 020 7946 0958, 07700 900123, 06-12345678, 0161/4960066.
        if d[0] == 0
            && d[1] != 0
            && self.group_count >= 2
            && (9..=13).contains(&n)
            && (2..=5).contains(&first)
            && groups.iter().all(|len| *len >= 2)
            && !self.is_zip_plus_four()
        {
            return true;
        }
        // One unbroken national number with a trunk prefix (0612345678), or a Chinese mobile
        // number (13912345678), both usually written without spaces.
        if self.group_count == 1
            && ((d[0] == 0 && d[1] != 0 && (9..=11).contains(&n))
                || (n == 11 && d[0] == 1 && d[1] >= 3))
        {
            return true;
        }
        // Three or more groups that are not thousands: 8 812 415-86-83, 12 3915-0008,
        // 32 12 34 56, 609-141-777. Not a card's 4-4-4 nor an SSN's 3-2-4.
        let many = (self.group_count >= 3 && n >= 9)
            || (self.group_count >= 4 && n >= 8 && self.separators & SEP_DOT == 0);
        many && groups.iter().skip(1).all(|len| *len >= 2)
            && !self.looks_like_thousands()
            && !groups.iter().all(|len| *len == 4)
            && !self.is_ssn_shaped()
    }

    /// `1 234 567`, `609.141.777`: how amounts are grouped. Phone numbers are grouped so too
    /// (Poland, Spain), which only a cue tells apart.
    fn looks_like_thousands(&self) -> bool {
        let groups = self.groups();
        (self.separators == SEP_SPACE || self.separators == SEP_DOT)
            && (1..=3).contains(&groups[0])
            && groups[1..].iter().all(|len| *len == 3)
    }

    fn is_ssn_shaped(&self) -> bool {
        self.groups() == [3, 2, 4]
    }

    fn is_zip_plus_four(&self) -> bool {
        self.groups() == [5, 4] && self.separators == SEP_DASH
    }

    /// 2024-01-15, 15.01.2024, 01/15/2024, 15/01/24.
    fn looks_like_date(&self) -> bool {
        if !self.one_separator() || self.separators & SEP_SPACE != 0 {
            return false;
        }
        let d = self.digits();
        let value = |from: usize, len: usize| {
            d[from..from + len]
                .iter()
                .fold(0u32, |acc, digit| acc * 10 + u32::from(*digit))
        };
        let day_month = |a: u32, b: u32| {
            (1..=31).contains(&a) && (1..=12).contains(&b)
                || (1..=12).contains(&a) && (1..=31).contains(&b)
        };
        match self.groups() {
            [4, 2, 2] => day_month(value(4, 2), value(6, 2)),
            [2, 2, 4] | [2, 2, 2] => day_month(value(0, 2), value(2, 2)),
            [1, 2, 4] => day_month(value(0, 1), value(1, 2)),
            [2, 1, 4] => day_month(value(0, 2), value(2, 1)),
            [1, 1, 4] => true,
            _ => false,
        }
    }

    /// ISBN-10 and ISBN-13 in their hyphenated form end with a one-digit check group.
    fn looks_like_isbn(&self) -> bool {
        matches!(self.digit_count, 10 | 13)
            && (4..=5).contains(&self.group_count)
            && self.groups().last() == Some(&1)
    }
}

/// The separator at `pos` between two groups: its kind, its length in bytes (0 for none) and
/// whether it breaks the line. A line break counts as no separator of its own, so that a
/// 4-4-4-4 card wrapped after its second group keeps one consistent separator.
fn separator_at(bytes: &[u8], pos: usize, across_lines: bool) -> (u8, usize, bool) {
    match bytes.get(pos) {
        Some(b'-') => return (SEP_DASH, 1, false),
        Some(b'.') => return (SEP_DOT, 1, false),
        Some(b'/') => return (SEP_SLASH, 1, false),
        Some(b'_') => return (SEP_UNDERSCORE, 1, false),
        _ => {}
    }
    let mut p = pos;
    let space_before = bytes.get(p) == Some(&b' ');
    p += usize::from(space_before);
    if across_lines {
        let newline = match bytes.get(p..) {
            Some([b'\r', b'\n', ..]) => 2,
            Some([b'\n', ..]) => 1,
            _ => 0,
        };
        if newline > 0 {
            p += newline;
            p += usize::from(bytes.get(p) == Some(&b' '));
            return (0, p - pos, true);
        }
    }
    if space_before {
        (SEP_SPACE, 1, false)
    } else {
        (0, 0, false)
    }
}

fn currency_before(bytes: &[u8], start: usize) -> bool {
    let before = &bytes[..start];
    let before = before.strip_suffix(b" ").unwrap_or(before);
    before.ends_with(b"$")
        || before.ends_with("€".as_bytes())
        || before.ends_with("£".as_bytes())
        || before.ends_with("¥".as_bytes())
}

/// Whether the card networks issue numbers of this prefix and length.
fn issuer_accepts(d: &[u8]) -> bool {
    let n = d.len();
    let prefix = |len: usize| {
        d[..len]
            .iter()
            .fold(0u32, |acc, x| acc * 10 + u32::from(*x))
    };
    let (p1, p2, p3, p4) = (prefix(1), prefix(2), prefix(3), prefix(4));
    match p1 {
        // Visa
        4 => matches!(n, 13 | 16 | 19),
        // Mastercard 51-55 and 2221-2720, Mir 2200-2204
        5 if (51..=55).contains(&p2) => n == 16,
        2 if (2221..=2720).contains(&p4) => n == 16,
        2 if (2200..=2204).contains(&p4) => (16..=19).contains(&n),
        // Maestro 50, 56-69 (below, with 6)
        5 => (p2 == 50 || p2 >= 56) && (12..=19).contains(&n),
        3 => match p2 {
            // American Express
            34 | 37 => n == 15,
            // Diners Club 300-305, 3095, 36, 38, 39
            36 | 38 | 39 => (14..=19).contains(&n),
            30 if (300..=305).contains(&p3) || p4 == 3095 => (14..=19).contains(&n),
            // JCB (35, and the ranges it took over from other networks)
            35 => (16..=19).contains(&n),
            30 | 31 | 33
                if (3088..=3102).contains(&p4)
                    || (3112..=3120).contains(&p4)
                    || (3158..=3159).contains(&p4)
                    || (3337..=3349).contains(&p4) =>
            {
                n == 16
            }
            _ => false,
        },
        // Discover, UnionPay, RuPay, Maestro
        6 => (12..=19).contains(&n),
        // JCB's legacy 15-digit ranges
        1 => p4 == 1800 && n == 15,
        2 if p4 == 2131 => n == 15,
        // UnionPay 81, RuPay 81-82
        8 => matches!(p2, 81 | 82) && (16..=19).contains(&n),
        _ => false,
    }
}

/// The Luhn checksum used by payment card numbers.
pub(crate) fn luhn_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The GS1 check digit of an EAN-13 barcode.
fn ean13_ok(digits: &[u8]) -> bool {
    let sum: u32 = digits[..12]
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(digits[12])
}

/// The length of the ITU-T E.164 country calling code `d` starts with, if it starts with one
/// (codes are prefix-free). The list is the one libphonenumber knows.
fn country_code(d: &[u8]) -> Option<usize> {
    const ONE: [u16; 2] = [1, 7];
    const TWO: [u16; 44] = [
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55,
        56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
    ];
    const THREE: [u16; 169] = [
        211, 212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232,
        233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250,
        251, 252, 253, 254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
        290, 291, 297, 298, 299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372,
        373, 374, 375, 376, 377, 378, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500,
        501, 502, 503, 504, 505, 506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598,
        599, 670, 672, 673, 674, 675, 676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688,
        689, 690, 691, 692, 800, 808, 850, 852, 853, 855, 856, 870, 878, 880, 881, 882, 883, 886,
        888, 960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974, 975, 976, 977,
        979, 992, 993, 994, 995, 996, 998,
    ];
    let prefix = |len: usize| {
        (d.len() >= len).then(|| {
            d[..len]
                .iter()
                .fold(0u16, |acc, x| acc * 10 + u16::from(*x))
        })
    };
    if prefix(1).is_some_and(|p| ONE.contains(&p)) {
        Some(1)
    } else if prefix(2).is_some_and(|p| TWO.binary_search(&p).is_ok()) {
        Some(2)
    } else if prefix(3).is_some_and(|p| THREE.binary_search(&p).is_ok()) {
        Some(3)
    } else {
        None
    }
}
