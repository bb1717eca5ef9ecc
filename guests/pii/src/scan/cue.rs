//! Words written just before a number that say what it is. A bare `609 141 777` may be a phone
//! number or 609 million; after "call me on" it is a phone number, after "order" it is not.
//! Only ambiguous shapes consult cues: a `+44 20 7946 0958` or a Luhn-valid 4-4-4-4 card is
//! reported wherever it stands.

use super::text::{at_word_start, is_word};

/// How far before a number cues are looked for, in bytes. The look-back also stops at a line
/// break, so a label on one line never describes a number on the next.
const WINDOW: usize = 40;
/// Negative cues must stand closer: "order 1234567, call me" is about the order.
const NEAR_WINDOW: usize = 20;

/// A cue word. `prefix` cues also match longer words (`phone` in `phoned`, `phones`).
struct Cue {
    word: &'static [u8],
    prefix: bool,
}

const fn word(word: &'static [u8]) -> Cue {
    Cue {
        word,
        prefix: false,
    }
}

const fn prefix(word: &'static [u8]) -> Cue {
    Cue { word, prefix: true }
}

const PHONE: &[Cue] = &[
    prefix(b"phone"),
    prefix(b"telephon"),
    prefix(b"telefon"),
    prefix(b"tel\xc3\xa9fono"),
    prefix(b"t\xc3\xa9l"),
    word(b"tel"),
    word(b"ph"),
    word(b"mob"),
    prefix(b"mobil"),
    prefix(b"cell"),
    word(b"handy"),
    prefix(b"call"),
    word(b"fax"),
    prefix(b"ring"),
    prefix(b"text"),
    word(b"sms"),
    word(b"whatsapp"),
    prefix(b"reach"),
    prefix(b"contact"),
    prefix(b"kontakt"),
    word(b"hotline"),
    word(b"switchboard"),
    prefix(b"dial"),
    word(b"number"),
    prefix(b"num\xc3\xa9ro"),
    word(b"landline"),
    word(b"helpline"),
];

const CARD: &[Cue] = &[
    prefix(b"card"),
    word(b"visa"),
    word(b"mastercard"),
    word(b"amex"),
    word(b"maestro"),
    word(b"discover"),
    word(b"jcb"),
    word(b"diners"),
    word(b"unionpay"),
    prefix(b"credit"),
    word(b"debit"),
    word(b"cc"),
    word(b"pan"),
    prefix(b"pay"),
    word(b"paid"),
    prefix(b"charg"),
    word(b"cvv"),
    word(b"cvc"),
    prefix(b"exp"),
    word(b"billing"),
    prefix(b"kreditkart"),
    prefix(b"carte"),
    prefix(b"tarjeta"),
];

const SSN: &[Cue] = &[
    word(b"ssn"),
    word(b"ss"),
    prefix(b"social"),
    word(b"tin"),
    prefix(b"taxpayer"),
];

/// Numbers named as something else: never a phone, card or SSN unless their shape is certain.
const OTHER_NUMBER: &[Cue] = &[
    prefix(b"order"),
    prefix(b"invoice"),
    word(b"isbn"),
    word(b"issn"),
    word(b"imei"),
    word(b"ean"),
    word(b"gtin"),
    word(b"upc"),
    prefix(b"barcode"),
    prefix(b"tracking"),
    prefix(b"ticket"),
    prefix(b"routing"),
    word(b"aba"),
    prefix(b"serial"),
    word(b"ref"),
    prefix(b"reference"),
    word(b"id"),
    word(b"pin"),
    word(b"build"),
    prefix(b"version"),
    word(b"code"),
    word(b"sku"),
    word(b"zip"),
    prefix(b"postcode"),
    prefix(b"postal"),
    word(b"room"),
    word(b"badge"),
    word(b"page"),
    word(b"pages"),
    word(b"chapter"),
    word(b"section"),
    prefix(b"account"),
    word(b"acct"),
    prefix(b"passport"),
    prefix(b"licen"),
    word(b"policy"),
    word(b"member"),
    word(b"membership"),
    word(b"customer"),
    word(b"employee"),
    word(b"student"),
    word(b"patient"),
    word(b"case"),
    word(b"claim"),
    prefix(b"confirmation"),
    word(b"booking"),
    prefix(b"transaction"),
    word(b"txn"),
    word(b"vat"),
    word(b"ein"),
    word(b"nhs"),
    word(b"medicare"),
    word(b"bank"),
    word(b"sort"),
    word(b"swift"),
    word(b"bic"),
    word(b"vin"),
    word(b"mrn"),
    word(b"record"),
    word(b"population"),
    word(b"salary"),
    word(b"total"),
    word(b"amount"),
    word(b"balance"),
];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Topic {
    Phone,
    Card,
    Ssn,
    /// An identifier that is none of the above.
    OtherNumber,
}

/// Whether a cue of `topic` stands before `start` (within the window and on the same line).
pub(crate) fn before(bytes: &[u8], start: usize, topic: Topic) -> bool {
    let window = match topic {
        Topic::OtherNumber => NEAR_WINDOW,
        _ => WINDOW,
    };
    within(bytes, start, topic, window)
}

/// Whether the label right before `start` is a cue of `topic`: the last word, skipping the
/// words that only say "number" ("order no. 4", "invoice number: 4", "ticket #4"). Numbers
/// whose shape already says what they are yield only to such a label, not to a word further
/// away ("the number on file for this account is (555) 123-4567" is a phone number).
pub(crate) fn right_before(bytes: &[u8], start: usize, topic: Topic) -> bool {
    const FILLER: [&[u8]; 5] = [b"number", b"no", b"nr", b"num", b"nos"];
    let mut end = start;
    loop {
        while end > 0 && !is_word(bytes[end - 1]) && bytes[end - 1] < 0x80 {
            if bytes[end - 1] == b'\n' {
                return false;
            }
            end -= 1;
        }
        let mut from = end;
        while from > 0 && (is_word(bytes[from - 1]) || bytes[from - 1] >= 0x80) {
            from -= 1;
        }
        let word = &bytes[from..end];
        if word.is_empty() {
            return topic == Topic::OtherNumber && bytes[..start].trim_ascii_end().ends_with(b"#");
        }
        if FILLER
            .iter()
            .any(|filler| word.eq_ignore_ascii_case(filler))
        {
            end = from;
            continue;
        }
        return within(bytes, start, topic, start - from);
    }
}

/// Whether the letters glued right before `start` form a cue of `topic` on their own:
/// `card4111111111111111`, where no space parts the label from the number.
pub(crate) fn glued_label(bytes: &[u8], start: usize, topic: Topic) -> bool {
    let mut from = start;
    while from > 0 && bytes[from - 1].is_ascii_alphabetic() {
        from -= 1;
    }
    from < start
        && at_word_start(bytes, from)
        && cues(topic)
            .iter()
            .any(|cue| matches(cue, &bytes[from..start]))
}

fn cues(topic: Topic) -> &'static [Cue] {
    match topic {
        Topic::Phone => PHONE,
        Topic::Card => CARD,
        Topic::Ssn => SSN,
        Topic::OtherNumber => OTHER_NUMBER,
    }
}

fn within(bytes: &[u8], start: usize, topic: Topic, window: usize) -> bool {
    let cues = cues(topic);
    let from = start.saturating_sub(window);
    let line_start = bytes[from..start]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(from, |i| from + i + 1);
    let region = &bytes[line_start..start];
    // Words in the region, each checked against the cues.
    let mut i = 0;
    while i < region.len() {
        if !is_word(region[i]) && region[i] < 0x80 {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < region.len() && (is_word(region[end]) || region[end] >= 0x80) {
            end += 1;
        }
        let token = &region[i..end];
        if cues.iter().any(|cue| matches(cue, token)) {
            return true;
        }
        i = end;
    }
    // A '#' right before the number: "order #1234", "#4521".
    topic == Topic::OtherNumber
        && region
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'#')
}

fn matches(cue: &Cue, token: &[u8]) -> bool {
    if cue.prefix {
        token.len() >= cue.word.len() && token[..cue.word.len()].eq_ignore_ascii_case(cue.word)
    } else {
        token.eq_ignore_ascii_case(cue.word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(text: &str, topic: Topic) -> bool {
        before(text.as_bytes(), text.len(), topic)
    }

    #[test]
    fn cues_are_whole_words_or_prefixes() {
        assert!(cue("Please call me back at ", Topic::Phone));
        assert!(cue("Phoned from ", Topic::Phone));
        assert!(cue("Tel. ", Topic::Phone));
        assert!(!cue("Tell me about ", Topic::Phone));
        assert!(!cue("hotel ", Topic::Phone));
        assert!(cue("card number ", Topic::Card));
        assert!(cue("order #", Topic::OtherNumber));
        assert!(cue("#", Topic::OtherNumber));
        assert!(!cue("refund ", Topic::OtherNumber));
        assert!(cue("SSN ", Topic::Ssn));
        let last = |text: &str| right_before(text.as_bytes(), text.len(), Topic::OtherNumber);
        assert!(last("Order no. "));
        assert!(last("the invoice #"));
        assert!(!last("The number on file for this account is "));
        assert!(!last("order\n"));
        assert!(last("routing number: "));
        assert!(last("#"));
        assert!(cue("Téléphone : ", Topic::Phone));
    }

    #[test]
    fn cues_stay_on_their_line_and_in_their_window() {
        assert!(!cue("Phone:\n", Topic::Phone));
        assert!(!cue(
            "call me, but first a very long digression about the weather, then ",
            Topic::Phone
        ));
    }
}
