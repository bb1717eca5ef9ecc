//! A hand-written scanner for personal data and secrets. It works on bytes with no regex engine,
//! so the component stays small, starts fast in a fresh instance, and a scan is linear in the
//! text (every pass moves forward and never re-reads a match).
//!
//! Passes run from the most to the least specific: secrets (PEM blocks, JWTs, vendor keys,
//! `key=value` assignments), emails, IP addresses, IBANs, then bare numbers (cards, SSNs,
//! phones). Each match is masked before the next pass, so the digits inside an IBAN or a token
//! are never read again as a card or a phone number. Masking overwrites bytes in place, which
//! keeps every offset the offset of the original text.

mod cue;
mod email;
mod iban;
mod ip;
mod number;
mod secret;
mod text;

/// A kind of personal data or secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    ApiKey,
    CreditCard,
    Email,
    Iban,
    IpAddress,
    Jwt,
    Phone,
    PrivateKey,
    Secret,
    UsSsn,
}

impl Kind {
    /// Every kind, in the order of their names.
    pub const ALL: [Kind; 10] = [
        Kind::ApiKey,
        Kind::CreditCard,
        Kind::Email,
        Kind::Iban,
        Kind::IpAddress,
        Kind::Jwt,
        Kind::Phone,
        Kind::PrivateKey,
        Kind::Secret,
        Kind::UsSsn,
    ];

    /// The public name, as reported in `pii_entities` and accepted by the `kinds` setting.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::CreditCard => "credit_card",
            Self::Email => "email",
            Self::Iban => "iban",
            Self::IpAddress => "ip_address",
            Self::Jwt => "jwt",
            Self::Phone => "phone",
            Self::PrivateKey => "private_key",
            Self::Secret => "secret",
            Self::UsSsn => "us_ssn",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

/// A set of kinds (the `kinds` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSet(u16);

impl KindSet {
    pub const ALL: KindSet = KindSet((1 << Kind::ALL.len()) - 1);
    pub const NONE: KindSet = KindSet(0);

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn with(self, kind: Kind) -> Self {
        Self(self.0 | kind.bit())
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> Self {
        iter.into_iter().fold(Self::NONE, Self::with)
    }
}

/// One match: its kind and its UTF-8 byte range in the scanned text. Both ends always fall on
/// character boundaries (every pattern starts and ends on a whole character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entity {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

/// Every match of a kind in `kinds`, in text order.
///
/// Every kind is still recognized, whatever `kinds` says: an IBAN's digits must be masked
/// before the number pass even when only phone numbers are asked for.
pub fn scan(text: &str, kinds: KindSet) -> Vec<Entity> {
    let mut scanner = Scanner::new(text);
    if scanner.is_clean() {
        return Vec::new();
    }
    secret::scan(&mut scanner);
    email::scan(&mut scanner);
    ip::scan(&mut scanner);
    iban::scan(&mut scanner);
    number::scan(&mut scanner);
    let mut found = scanner.found;
    found.retain(|entity| kinds.contains(entity.kind));
    found.sort_by_key(|entity| (entity.start, entity.end));
    found
}

/// The text being scanned, with the matches found so far masked out.
pub(crate) struct Scanner {
    bytes: Vec<u8>,
    found: Vec<Entity>,
}

impl Scanner {
    fn new(text: &str) -> Self {
        Self {
            bytes: text.as_bytes().to_vec(),
            found: Vec::new(),
        }
    }

    /// Whether nothing can match: every kind holds a digit, an `@` (emails), a `-` (PEM
    /// blocks, Slack and OpenAI keys), a `:` (IPv6, URLs) or a `=`/`:` (assignments). Vendor
    /// keys are accepted only when they mix digits and letters, and a JWT without a digit, `-`
    /// or `=` is too rare to matter. Plain prose skips every pass. 0xEF leads the fullwidth
    /// forms (`４`, `＠`) that the number and email passes fold.
    fn is_clean(&self) -> bool {
        !self
            .bytes
            .iter()
            .any(|b| b.is_ascii_digit() || matches!(*b, b'@' | b'-' | b'=' | b':' | 0xEF))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Records a match and masks it: the next passes neither match its bytes nor take them
    /// for a boundary, and the text keeps its length.
    pub(crate) fn record(&mut self, kind: Kind, start: usize, end: usize) {
        self.found.push(Entity { kind, start, end });
        self.mask(start, end);
    }

    /// Masks bytes that are no match but must not be read as one (the user name in
    /// `user:pass@host` is not an email's local part).
    pub(crate) fn mask(&mut self, start: usize, end: usize) {
        self.bytes[start..end].fill(text::MASK);
    }
}

#[cfg(test)]
mod tests;
