//! A hand-written scanner for personal data. It works on bytes in one pass per kind, with no
//! regex engine, so the component stays small and a scan is linear in the text.
//!
//! Kinds are found in an order that keeps them from overlapping: emails first, then IBANs, then
//! numbers (cards, SSNs, phones). A match is masked before the next pass, so the digits inside
//! an IBAN are never mistaken for a card or a phone number.

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    CreditCard,
    Email,
    Iban,
    Phone,
    UsSsn,
}

impl Kind {
    /// The public name, as reported in `pii_entities`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreditCard => "credit_card",
            Self::Email => "email",
            Self::Iban => "iban",
            Self::Phone => "phone",
            Self::UsSsn => "us_ssn",
        }
    }
}

/// Every match in `text`, one entry per occurrence.
pub fn scan(text: &str) -> Vec<Kind> {
    let mut found = Vec::new();
    // Cheap pre-checks: most texts hold no digits or no '@' at all.
    let bytes = text.as_bytes();
    if !bytes.iter().any(|b| b.is_ascii_digit() || *b == b'@') {
        return found;
    }
    let mut masked = bytes.to_vec();
    scan_emails(&mut masked, &mut found);
    scan_ibans(&mut masked, &mut found);
    scan_numbers(&masked, &mut found);
    found
}

/// Matched bytes are overwritten with a letter: the next passes neither match them nor treat
/// them as a word boundary.
fn mask(bytes: &mut [u8], start: usize, end: usize) {
    bytes[start..end].fill(b'x');
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn at_word_start(bytes: &[u8], i: usize) -> bool {
    i == 0 || !is_word(bytes[i - 1])
}

// ---------------------------------------------------------------------------------------------
// Email: local@domain.tld

fn scan_emails(bytes: &mut [u8], found: &mut Vec<Kind>) {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'@' {
            i += 1;
            continue;
        }
        match email_around(bytes, i) {
            Some((start, end)) => {
                found.push(Kind::Email);
                mask(bytes, start, end);
                i = end;
            }
            None => i += 1,
        }
    }
}

fn email_around(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let is_local = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let mut start = at;
    while start > 0 && is_local(bytes[start - 1]) {
        start -= 1;
    }
    let local = &bytes[start..at];
    if local.is_empty() || local[0] == b'.' || local[local.len() - 1] == b'.' {
        return None;
    }
    let is_domain = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'-';
    let mut end = at + 1;
    while end < bytes.len() && is_domain(bytes[end]) {
        end += 1;
    }
    // A sentence may end right after the address.
    while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
        end -= 1;
    }
    let domain = &bytes[at + 1..end];
    let mut labels = domain.split(|b| *b == b'.');
    let valid_labels = domain
        .split(|b| *b == b'.')
        .all(|label| !label.is_empty() && label[0] != b'-' && label[label.len() - 1] != b'-');
    let tld = labels.next_back()?;
    let has_dot = labels.next().is_some();
    let tld_ok = tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic);
    (has_dot && valid_labels && tld_ok).then_some((start, end))
}

// ---------------------------------------------------------------------------------------------
// IBAN: ISO 13616, two letters, two check digits, up to 30 alphanumerics; electronic form or
// the printed form in groups of four.

const IBAN_MIN: usize = 15;
const IBAN_MAX: usize = 34;

fn scan_ibans(bytes: &mut [u8], found: &mut Vec<Kind>) {
    let mut i = 0;
    while i + 4 <= bytes.len() {
        let starts_iban = at_word_start(bytes, i)
            && bytes[i].is_ascii_alphabetic()
            && bytes[i + 1].is_ascii_alphabetic()
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit();
        match starts_iban.then(|| iban_at(bytes, i)).flatten() {
            Some(end) => {
                found.push(Kind::Iban);
                mask(bytes, i, end);
                i = end;
            }
            None => i += 1,
        }
    }
}

/// The end of a valid IBAN starting at `start`, if there is one.
fn iban_at(bytes: &[u8], start: usize) -> Option<usize> {
    let run_end = |from: usize| {
        let mut end = from;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        end
    };
    let mut chars: Vec<u8> = Vec::with_capacity(IBAN_MAX);
    // (number of characters, byte end) at each place the IBAN could stop.
    let mut stops: Vec<(usize, usize)> = Vec::new();
    let first = run_end(start);
    if first - start > 4 {
        // Electronic form: one unbroken run.
        if first - start > IBAN_MAX {
            return None;
        }
        chars.extend(&bytes[start..first]);
        stops.push((chars.len(), first));
    } else {
        // Printed form: groups of four separated by one space, the last group may be shorter.
        chars.extend(&bytes[start..first]);
        let mut pos = first;
        while pos + 1 < bytes.len() && bytes[pos] == b' ' && bytes[pos + 1].is_ascii_alphanumeric()
        {
            let end = run_end(pos + 1);
            let len = end - pos - 1;
            if len > 4 || chars.len() + len > IBAN_MAX {
                break;
            }
            chars.extend(&bytes[pos + 1..end]);
            stops.push((chars.len(), end));
            pos = end;
            if len < 4 {
                break;
            }
        }
    }
    // Prefer the longest reading: trailing words of four letters may have been taken as groups.
    stops
        .iter()
        .rev()
        .find(|(len, _)| (IBAN_MIN..=IBAN_MAX).contains(len) && iban_checksum_ok(&chars[..*len]))
        .map(|(_, end)| *end)
}

/// ISO 7064 mod 97-10: move the first four characters to the end, read letters as 10..=35, and
/// the number must be 1 modulo 97.
pub(crate) fn iban_checksum_ok(iban: &[u8]) -> bool {
    let mut rest = 0u32;
    for &b in iban[4..].iter().chain(&iban[..4]) {
        rest = match b {
            b'0'..=b'9' => (rest * 10 + u32::from(b - b'0')) % 97,
            b'a'..=b'z' | b'A'..=b'Z' => {
                (rest * 100 + u32::from(b.to_ascii_uppercase() - b'A') + 10) % 97
            }
            _ => return false,
        };
    }
    rest == 1
}

// ---------------------------------------------------------------------------------------------
// Numbers: payment cards, US SSNs and phone numbers, read as one "number span" and classified.

const MAX_DIGITS: usize = 19;
const MAX_GROUPS: usize = 8;

const SEP_SPACE: u8 = 1;
const SEP_DASH: u8 = 2;
const SEP_DOT: u8 = 4;

/// Digits in groups: `+44 (0)20 7946-0958` is `+`, groups [2, 1, 2, 4, 4], one of them in
/// parentheses, separated by spaces and a dash.
#[derive(Default)]
struct NumberSpan {
    end: usize,
    plus: bool,
    /// Only the first `MAX_DIGITS` are kept; `digit_count` counts them all.
    digits: [u8; MAX_DIGITS],
    digit_count: usize,
    groups: [u8; MAX_GROUPS],
    group_count: usize,
    parens: bool,
    separators: u8,
}

impl NumberSpan {
    fn digits(&self) -> &[u8] {
        &self.digits[..self.digit_count.min(MAX_DIGITS)]
    }

    fn groups(&self) -> &[u8] {
        &self.groups[..self.group_count.min(MAX_GROUPS)]
    }

    fn classify(&self) -> Option<Kind> {
        if self.is_ssn_shaped() {
            return self.is_valid_ssn().then_some(Kind::UsSsn);
        }
        if !self.plus && self.digit_count >= 13 {
            // Card-sized: a card or nothing, never a phone.
            return self.is_card().then_some(Kind::CreditCard);
        }
        self.is_phone().then_some(Kind::Phone)
    }

    fn is_ssn_shaped(&self) -> bool {
        !self.plus && !self.parens && self.separators == SEP_DASH && self.groups() == [3, 2, 4]
    }

    /// Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
    fn is_valid_ssn(&self) -> bool {
        let d = self.digits();
        let area = &d[..3];
        area != [0, 0, 0]
            && area != [6, 6, 6]
            && area[0] != 9
            && d[3..5] != [0, 0]
            && d[5..] != [0, 0, 0, 0]
    }

    fn is_card(&self) -> bool {
        let shaped = !self.plus
            && !self.parens
            && self.separators & SEP_DOT == 0
            && (13..=MAX_DIGITS).contains(&self.digit_count)
            && self.group_count <= MAX_GROUPS
            // Issuer ranges in use start with 2 (Mastercard), 3 (Amex, JCB, Diners), 4 (Visa),
            // 5 (Mastercard) or 6 (Discover, UnionPay); this rejects most long identifiers.
            && (2..=6).contains(&self.digits[0])
            && (self.group_count == 1 || self.groups().iter().all(|len| *len >= 3));
        shaped && luhn_ok(self.digits())
    }

    fn is_phone(&self) -> bool {
        let groups = self.groups();
        if self.group_count > MAX_GROUPS {
            return false;
        }
        if self.plus {
            // E.164: a country code that does not start with 0, at most 15 digits.
            return (8..=15).contains(&self.digit_count) && self.digits[0] != 0;
        }
        // North American: (555) 123-4567, 555-123-4567, 555.123.4567, 1 555 123 4567. The area
        // code never starts with 0 or 1.
        let area_at = match groups {
            [3, 3, 4] => Some(0),
            [1, 3, 3, 4] if self.digits[0] == 1 => Some(1),
            _ => None,
        };
        if let Some(area_at) = area_at {
            return self.digits[area_at] >= 2;
        }
        // National numbers with a trunk prefix: 020 7946 0958, 07700 900123, 01 23 45 67 89.
        // Unbroken digit strings are left alone: they are far more often ids than phones.
        self.digits[0] == 0
            && (10..=11).contains(&self.digit_count)
            && groups.len() >= 2
            && groups.iter().all(|len| (2..=8).contains(len))
    }
}

fn scan_numbers(bytes: &[u8], found: &mut Vec<Kind>) {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_digit() || b == b'+' || b == b'(') || !at_word_start(bytes, i) {
            i += 1;
            continue;
        }
        let Some(span) = number_span(bytes, i) else {
            i += 1;
            continue;
        };
        if span.end < bytes.len() && is_word(bytes[span.end]) {
            // Glued to letters (a hash, an id like 555-1234abc): skip the whole word.
            let mut end = span.end;
            while end < bytes.len() && is_word(bytes[end]) {
                end += 1;
            }
            i = end;
            continue;
        }
        if let Some(kind) = span.classify() {
            found.push(kind);
        }
        // Never re-read the tail of a span: the last twelve digits of a failed card are not a
        // fresh number.
        i = span.end;
    }
}

/// Reads the longest number span starting at `start`.
fn number_span(bytes: &[u8], start: usize) -> Option<NumberSpan> {
    let mut span = NumberSpan::default();
    let mut pos = start;
    if bytes[pos] == b'+' {
        span.plus = true;
        pos += 1;
    }
    pos = read_group(bytes, pos, &mut span)?;
    loop {
        let separator = match bytes.get(pos) {
            Some(b' ') => SEP_SPACE,
            Some(b'-') => SEP_DASH,
            Some(b'.') => SEP_DOT,
            _ => 0,
        };
        let after_paren = bytes[pos - 1] == b')';
        let next = if separator != 0 {
            read_group(bytes, pos + 1, &mut span)
        } else if after_paren || bytes.get(pos) == Some(&b'(') {
            // (555)123-4567 and +1(555)...: parentheses may stand without a separator.
            read_group(bytes, pos, &mut span)
        } else {
            None
        };
        match next {
            Some(end) => {
                span.separators |= separator;
                pos = end;
            }
            None => break,
        }
    }
    span.end = pos;
    Some(span)
}

/// Reads `123` or `(123)` at `pos` into `span`; on failure `span` is left untouched.
fn read_group(bytes: &[u8], pos: usize, span: &mut NumberSpan) -> Option<usize> {
    let parens = bytes.get(pos) == Some(&b'(');
    let digits_start = pos + usize::from(parens);
    let mut end = digits_start;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end == digits_start {
        return None;
    }
    if parens {
        if bytes.get(end) != Some(&b')') {
            return None;
        }
        span.parens = true;
    }
    for &b in &bytes[digits_start..end] {
        if span.digit_count < MAX_DIGITS {
            span.digits[span.digit_count] = b - b'0';
        }
        span.digit_count += 1;
    }
    if span.group_count < MAX_GROUPS {
        span.groups[span.group_count] = u8::try_from(end - digits_start).unwrap_or(u8::MAX);
    }
    span.group_count += 1;
    Some(end + usize::from(parens))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        scan(text)
    }

    #[test]
    fn emails() {
        assert_eq!(
            kinds("write to ann.lee+news@mail.example.co.uk."),
            [Kind::Email]
        );
        assert_eq!(kinds("a@b.io and c_d@e-f.org"), [Kind::Email, Kind::Email]);
        for text in [
            "@handle",
            "user@localhost",
            "x@y.c",
            "a@-b.com",
            "email me @ noon",
            "a@b..com",
            ".a@b.com",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn phones() {
        for text in [
            "call (555) 123-4567 today",
            "555-123-4567",
            "555.123.4567",
            "1 555 123 4567",
            "+44 20 7946 0958",
            "+14155552671",
            "+1 (415) 555-2671",
            "+44 (0)20 7946 0958",
            "020 7946 0958",
            "07700 900123",
            "01 23 45 67 89",
            "tel:+33-1-23-45-67-89",
        ] {
            assert_eq!(kinds(text), [Kind::Phone], "{text}");
        }
    }

    #[test]
    fn plain_numbers_are_not_phones() {
        for text in [
            "12345",
            "I have 42 apples and 7 pears",
            "order 4155552671",
            "555-1234",
            "2024-01-15",
            "15.01.2024",
            "192.168.100.200",
            "10.100.200.300",
            "version 1.2.3",
            "123 456 7890",
            "pi is 3.14159265358979",
            "+0 123 456 789",
            "+12 34",
            "sha 5551234567abc",
            "1,000,000",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn cards_need_a_valid_luhn_checksum() {
        for text in [
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "4111111111111111",
            "5500 0000 0000 0004",
            "3782 822463 10005",
            "6011 0009 9013 9424",
        ] {
            assert_eq!(kinds(text), [Kind::CreditCard], "{text}");
        }
        for text in [
            "4111 1111 1111 1112",
            "4111111111111112",
            "4111.1111.1111.1111",
            "9111 1111 1111 1111",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
        // Twelve digits are too short, twenty too long, whatever the checksum.
        assert_eq!(kinds("4111 1111 1111"), []);
        assert_eq!(kinds("4111 1111 1111 1111 1111"), []);
    }

    #[test]
    fn ssns_exclude_unissued_numbers() {
        assert_eq!(kinds("SSN 123-45-6789"), [Kind::UsSsn]);
        assert_eq!(kinds("078-05-1120"), [Kind::UsSsn]);
        for text in [
            "000-45-6789",
            "666-45-6789",
            "912-45-6789",
            "123-00-6789",
            "123-45-0000",
            "123 45 6789",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn ibans_need_a_valid_checksum() {
        for text in [
            "GB82 WEST 1234 5698 7654 32",
            "GB82WEST12345698765432",
            "iban: DE89 3704 0044 0532 0130 00, thanks",
            "FR14 2004 1010 0505 0001 3M02 606",
            "gb82 west 1234 5698 7654 32",
        ] {
            assert_eq!(kinds(text), [Kind::Iban], "{text}");
        }
        assert_eq!(kinds("GB82 WEST 1234 5698 7654 33"), []);
        assert_eq!(kinds("GB82WEST12345698765433"), []);
        // A trailing four-letter word is not swallowed into the IBAN.
        assert_eq!(kinds("DE89 3704 0044 0532 0130 00 THEN"), [Kind::Iban]);
    }

    #[test]
    fn iban_digits_are_not_read_again_as_other_kinds() {
        // The tail of this IBAN, "1234 5698 7654 32", would be a 14-digit number.
        assert_eq!(kinds("GB82 WEST 1234 5698 7654 32"), [Kind::Iban]);
    }

    #[test]
    fn mixed_text_finds_every_match_once() {
        let text = "Ann (ann@example.com, 555-123-4567) paid with 4111111111111111; \
                    Bob's SSN is 219-09-9999 and his IBAN GB82WEST12345698765432.";
        let mut found = kinds(text);
        found.sort();
        assert_eq!(
            found,
            [
                Kind::CreditCard,
                Kind::Email,
                Kind::Iban,
                Kind::Phone,
                Kind::UsSsn
            ]
        );
    }

    #[test]
    fn checksums() {
        assert!(luhn_ok(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
        assert!(!luhn_ok(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 4]));
        assert!(iban_checksum_ok(b"GB82WEST12345698765432"));
        assert!(!iban_checksum_ok(b"GB82WEST12345698765423"));
    }

    #[test]
    fn non_ascii_text_is_scanned_safely() {
        assert_eq!(
            kinds("é555-123-4567é café ✓ ann@exämple.com"),
            [Kind::Phone]
        );
        assert_eq!(kinds(""), []);
    }
}
