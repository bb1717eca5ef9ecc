//! IBANs (ISO 13616): a country code, two check digits and the national account number, in
//! the electronic form (one run) or the printed form (groups of four separated by spaces).
//! A match needs the country's registered length and a valid mod-97 checksum.

use super::text::at_word_start;
use super::{Kind, Scanner};

const IBAN_MAX: usize = 34;

/// Lengths of the IBANs of every country in SWIFT's IBAN registry (release 101).
#[rustfmt::skip]
const LENGTHS: [([u8; 2], u8); 89] = [
    (*b"AD", 24), (*b"AE", 23), (*b"AL", 28), (*b"AT", 20), (*b"AZ", 28), (*b"BA", 20),
    (*b"BE", 16), (*b"BG", 22), (*b"BH", 22), (*b"BI", 27), (*b"BR", 29), (*b"BY", 28),
    (*b"CH", 21), (*b"CR", 22), (*b"CY", 28), (*b"CZ", 24), (*b"DE", 22), (*b"DJ", 27),
    (*b"DK", 18), (*b"DO", 28), (*b"EE", 20), (*b"EG", 29), (*b"ES", 24), (*b"FI", 18),
    (*b"FK", 18), (*b"FO", 18), (*b"FR", 27), (*b"GB", 22), (*b"GE", 22), (*b"GI", 23),
    (*b"GL", 18), (*b"GR", 27), (*b"GT", 28), (*b"HN", 28), (*b"HR", 21), (*b"HU", 28),
    (*b"IE", 22), (*b"IL", 23), (*b"IQ", 23), (*b"IS", 26), (*b"IT", 27), (*b"JO", 30),
    (*b"KW", 30), (*b"KZ", 20), (*b"LB", 28), (*b"LC", 32), (*b"LI", 21), (*b"LT", 20),
    (*b"LU", 20), (*b"LV", 21), (*b"LY", 25), (*b"MC", 27), (*b"MD", 24), (*b"ME", 22),
    (*b"MK", 19), (*b"MN", 20), (*b"MR", 27), (*b"MT", 31), (*b"MU", 30), (*b"NI", 28),
    (*b"NL", 18), (*b"NO", 15), (*b"OM", 23), (*b"PK", 24), (*b"PL", 28), (*b"PS", 29),
    (*b"PT", 25), (*b"QA", 29), (*b"RO", 24), (*b"RS", 22), (*b"RU", 33), (*b"SA", 24),
    (*b"SC", 31), (*b"SD", 18), (*b"SE", 24), (*b"SI", 19), (*b"SK", 24), (*b"SM", 27),
    (*b"SO", 23), (*b"ST", 25), (*b"SV", 28), (*b"TL", 23), (*b"TN", 24), (*b"TR", 26),
    (*b"UA", 29), (*b"VA", 22), (*b"VG", 24), (*b"XK", 20), (*b"YE", 30),
];

fn registered_length(country: [u8; 2]) -> Option<usize> {
    let country = country.map(|b| b.to_ascii_uppercase());
    LENGTHS
        .binary_search_by_key(&country, |(code, _)| *code)
        .ok()
        .map(|i| usize::from(LENGTHS[i].1))
}

pub(crate) fn scan(scanner: &mut Scanner) {
    let mut i = 0;
    while i + 4 <= scanner.bytes().len() {
        let bytes = scanner.bytes();
        let starts_iban = bytes[i].is_ascii_alphabetic()
            && bytes[i + 1].is_ascii_alphabetic()
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit()
            && at_word_start(bytes, i);
        match starts_iban.then(|| at(bytes, i)).flatten() {
            Some(end) => {
                scanner.record(Kind::Iban, i, end);
                i = end;
            }
            None => i += 1,
        }
    }
}

/// The end of a valid IBAN starting at `start`, if there is one.
fn at(bytes: &[u8], start: usize) -> Option<usize> {
    let expected = registered_length([bytes[start], bytes[start + 1]])?;
    let run_end = |from: usize| {
        let mut end = from;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() {
            end += 1;
        }
        end
    };
    let mut chars = [0u8; IBAN_MAX];
    let mut len = 0;
    let first = run_end(start);
    if first - start > 4 {
        // Electronic form: one unbroken run of exactly the registered length.
        if first - start != expected {
            return None;
        }
        chars[..expected].copy_from_slice(&bytes[start..first]);
        return checksum_ok(&chars[..expected]).then_some(first);
    }
    // Printed form: groups of four separated by one space, the last group may be shorter.
    chars[..4].copy_from_slice(&bytes[start..first]);
    len += 4;
    let mut pos = first;
    while len < expected
        && pos + 1 < bytes.len()
        && bytes[pos] == b' '
        && bytes[pos + 1].is_ascii_alphanumeric()
    {
        let end = run_end(pos + 1);
        let group = end - pos - 1;
        if group > 4 || len + group > expected || (group < 4 && len + group != expected) {
            return None;
        }
        chars[len..len + group].copy_from_slice(&bytes[pos + 1..end]);
        len += group;
        pos = end;
    }
    (len == expected && checksum_ok(&chars[..len])).then_some(pos)
}

/// ISO 7064 mod 97-10: move the first four characters to the end, read letters as 10..=35, and
/// the number must be 1 modulo 97.
pub(crate) fn checksum_ok(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
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
