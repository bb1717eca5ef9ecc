//! Canonical words: what the phrase rules and the model read instead of the raw text.
//!
//! Attackers dodge word lists by writing `IGNORE`, `i g n o r e`, `1gn0r3`, `ignоre` (with a
//! Cyrillic `о`), `ｉｇｎｏｒｅ` (fullwidth) or `ig\u{200b}nore` (a zero-width space inside).
//! All of these become the word `ignore` here, so every rule and every learned weight sees
//! one spelling:
//!
//! - invisible characters (zero-width spaces and joiners, soft hyphens, BOMs, Unicode tags)
//!   are dropped;
//! - fullwidth, mathematical (`𝐢𝐠𝐧𝐨𝐫𝐞`) and circled letters become ASCII;
//! - Cyrillic and Greek look-alikes become Latin inside words that also have Latin letters (a
//!   Russian word stays Russian);
//! - leetspeak digits become letters inside words with at least two letters (`1gn0r3`);
//! - text is lowercased and cut into alphanumeric words;
//! - runs of four or more single letters (`i g n o r e`, `i.g.n.o.r.e`) are joined.

/// The canonical words of `text`, separated by single spaces.
pub fn canonical(text: &str) -> String {
    // Each word with the number of separator characters before it.
    let mut words: Vec<(String, usize)> = Vec::new();
    let mut word = String::new();
    let mut gap = 0;
    for c in text.chars() {
        if is_invisible(c) {
            continue;
        }
        let c = fold_width(c);
        if c.is_alphanumeric() || ((c == '@' || c == '$') && !word.is_empty()) {
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                words.push((finish(std::mem::take(&mut word)), gap));
                gap = 0;
            }
            gap += 1;
        }
    }
    if !word.is_empty() {
        words.push((finish(word), gap));
    }
    join_spelled_out(&words)
}

/// Characters that render as nothing: zero-width spaces, joiners and marks, word joiners,
/// invisible operators, the BOM, soft hyphens, the Mongolian vowel separator, variation
/// selectors and the Unicode tag block.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}')
}

/// Fullwidth forms, mathematical alphanumerics and circled letters as ASCII.
pub(crate) fn fold_width(c: char) -> char {
    let code = u32::from(c);
    let ascii = match code {
        // Fullwidth ASCII variants.
        0xFF01..=0xFF5E => Some(code - 0xFF01 + 0x21),
        // Mathematical alphanumeric letters: styles of 52 (A–Z, a–z) from U+1D400.
        0x1D400..=0x1D6A3 => {
            let offset = (code - 0x1D400) % 52;
            Some(if offset < 26 {
                0x41 + offset
            } else {
                0x61 + offset - 26
            })
        }
        // Mathematical digits: styles of 10 from U+1D7CE.
        0x1D7CE..=0x1D7FF => Some(0x30 + (code - 0x1D7CE) % 10),
        // Circled and parenthesized letters.
        0x24B6..=0x24CF => Some(0x41 + code - 0x24B6),
        0x24D0..=0x24E9 => Some(0x61 + code - 0x24D0),
        0x249C..=0x24B5 => Some(0x61 + code - 0x249C),
        // Squared and negative squared capitals (🄰, 🅐, 🅰).
        0x1F130..=0x1F149 => Some(0x41 + code - 0x1F130),
        0x1F150..=0x1F169 => Some(0x41 + code - 0x1F150),
        0x1F170..=0x1F189 => Some(0x41 + code - 0x1F170),
        _ => None,
    };
    ascii.and_then(char::from_u32).unwrap_or(c)
}

/// Applies the in-word folds once a word is complete: they depend on what else it contains.
fn finish(word: String) -> String {
    let latin = word.chars().filter(char::is_ascii_lowercase).count();
    let lookalikes = word
        .chars()
        .filter(|c| latin_lookalike(*c).is_some())
        .count();
    let digits = word
        .chars()
        .filter(|c| matches!(c, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$'))
        .count();
    let mixed_script = latin > 0 && lookalikes > 0;
    // A digit before a letter (`1gn0re`, `h4x`), not only at the end (`base64`, `mp3`).
    let digit_then_letter = word.chars().zip(word.chars().skip(1)).any(|(a, b)| {
        matches!(a, '0' | '1' | '3' | '4' | '5' | '7' | '@' | '$') && b.is_alphabetic()
    });
    let leet = digits > 0 && digit_then_letter && latin + lookalikes >= 2;
    if !mixed_script && !leet {
        return word;
    }
    word.chars()
        .map(|c| match latin_lookalike(c) {
            Some(latin) if mixed_script => latin,
            _ if leet => match c {
                '0' => 'o',
                '1' => 'i',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' => 't',
                _ => c,
            },
            _ => c,
        })
        .collect()
}

/// Lowercase Cyrillic and Greek letters that look like Latin ones.
pub(crate) fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ς' => 'c',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ц' => 'u',
        'ν' => 'v',
        'ш' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        _ => return None,
    })
}

/// Joins runs of at least four one-letter words: `i g n o r e` is `ignore`. Inside a run, a
/// wider gap than the narrowest one separates words: `i g n o r e   a l l` is `ignore all`.
fn join_spelled_out(words: &[(String, usize)]) -> String {
    let mut out = String::with_capacity(words.iter().map(|(w, _)| w.len() + 1).sum());
    let mut i = 0;
    while i < words.len() {
        let run = words[i..]
            .iter()
            .take_while(|(w, _)| w.chars().nth(1).is_none() && w.chars().all(char::is_alphabetic))
            .count();
        if !out.is_empty() {
            out.push(' ');
        }
        if run >= 4 {
            let letters = &words[i..i + run];
            let narrowest = letters[1..].iter().map(|(_, gap)| *gap).min().unwrap_or(1);
            for (at, (letter, gap)) in letters.iter().enumerate() {
                if at > 0 && *gap > narrowest {
                    out.push(' ');
                }
                out.push_str(letter);
            }
            i += run;
        } else {
            out.push_str(&words[i].0);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obfuscated_spellings_become_one_word() {
        for text in [
            "IGNORE previous",
            "i g n o r e previous",
            "i.g.n.o.r.e previous",
            "1gn0r3 previous",
            "ign\u{200b}ore previous",
            "ignоre previous", // Cyrillic о
            "ｉｇｎｏｒｅ previous",
            "𝐢𝐠𝐧𝐨𝐫𝐞 previous",
            "ⓘⓖⓝⓞⓡⓔ previous",
        ] {
            assert_eq!(canonical(text), "ignore previous", "{text}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        assert_eq!(canonical("Привет, как дела?"), "привет как дела");
        assert_eq!(
            canonical("Deploy v2 on port 8080."),
            "deploy v2 on port 8080"
        );
        assert_eq!(canonical("I am a b c"), "i am a b c");
        assert_eq!(
            canonical("email me at bob@example.com"),
            "email me at bobaexample com"
        );
        assert_eq!(canonical(""), "");
        assert_eq!(
            canonical("decode base64 and rot13"),
            "decode base64 and rot13"
        );
        assert_eq!(canonical("i g n o r e   a l l"), "ignore all");
    }
}
