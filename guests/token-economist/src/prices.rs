//! The model price table: built-in list prices, merged with the operator's `prices` entries, and
//! the lookup of a model name in it.

use lucid_auditor_sdk::Error;

/// When the built-in prices were taken from the providers' public price pages.
pub const PRICES_AS_OF: &str = "2025-11-25";

/// Built-in list prices in USD per 1M tokens (input, output): standard tier, uncached input, no
/// batch discount, prompts under any long-context surcharge threshold. Providers change these;
/// the `prices` setting overrides any of them.
pub const BUILT_IN: [(&str, f64, f64); 41] = [
    // OpenAI
    ("gpt-5", 1.25, 10.0),
    ("gpt-5.1", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("gpt-5-nano", 0.05, 0.40),
    ("gpt-5-pro", 15.0, 120.0),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("gpt-4.1-nano", 0.10, 0.40),
    ("gpt-4o", 2.50, 10.0),
    ("gpt-4o-2024-05-13", 5.0, 15.0),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4-turbo", 10.0, 30.0),
    ("gpt-4", 30.0, 60.0),
    ("gpt-3.5-turbo", 0.50, 1.50),
    ("o1", 15.0, 60.0),
    ("o1-mini", 1.10, 4.40),
    ("o1-pro", 150.0, 600.0),
    ("o3", 2.0, 8.0),
    ("o3-mini", 1.10, 4.40),
    ("o3-pro", 20.0, 80.0),
    ("o4-mini", 1.10, 4.40),
    // Anthropic
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4-1", 15.0, 75.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4-5", 3.0, 15.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-3-5-haiku", 0.80, 4.0),
    ("claude-3-opus", 15.0, 75.0),
    ("claude-3-sonnet", 3.0, 15.0),
    ("claude-3-haiku", 0.25, 1.25),
    // Google
    ("gemini-2.5-pro", 1.25, 10.0),
    ("gemini-2.5-flash", 0.30, 2.50),
    ("gemini-2.5-flash-lite", 0.10, 0.40),
    ("gemini-2.0-flash", 0.10, 0.40),
    ("gemini-2.0-flash-lite", 0.075, 0.30),
    ("gemini-1.5-pro", 1.25, 5.0),
    ("gemini-1.5-flash", 0.075, 0.30),
    ("gemini-1.5-flash-8b", 0.0375, 0.15),
];

/// The built-in table as `prices` entries, the setting's default.
pub fn built_in_entries() -> Vec<String> {
    BUILT_IN
        .iter()
        .map(|(model, input, output)| format!("{model}={input}/{output}"))
        .collect()
}

/// USD per 1M tokens, which is also micro-USD per token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

/// A price table: model-name prefixes (lowercase) and their prices, plus an optional `*` price
/// for models matching no prefix.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    entries: Vec<(String, Price)>,
    fallback: Option<Price>,
}

impl PriceTable {
    /// The built-in table with `entries` (`model=input/output`) merged over it: an entry for a
    /// model replaces its built-in price, new models are added, `*` sets the fallback.
    pub fn with_entries(entries: &[String]) -> Result<Self, Error> {
        let mut table = Self {
            entries: BUILT_IN
                .iter()
                .map(|(model, input, output)| {
                    (
                        (*model).to_owned(),
                        Price {
                            input: *input,
                            output: *output,
                        },
                    )
                })
                .collect(),
            fallback: None,
        };
        for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let (model, price) = parse_entry(entry)?;
            if model == "*" {
                table.fallback = Some(price);
            } else if let Some(slot) = table.entries.iter_mut().find(|(m, _)| *m == model) {
                slot.1 = price;
            } else {
                table.entries.push((model, price));
            }
        }
        Ok(table)
    }

    /// The price of `model` and the table key it was priced as.
    ///
    /// A key matches when it is a prefix of the name ending at a boundary (`gpt-4o` prices
    /// `gpt-4o-2024-08-06` but `gpt-4` prices neither `gpt-4o` nor `gpt-4.5`); the longest
    /// matching key wins.
    /// Provider prefixes are skipped (`openai/gpt-4o`, `anthropic.claude-3-5-sonnet-v2:0`), and
    /// versions written with dots match keys written with dashes (`claude-3.5-sonnet`).
    pub fn lookup(&self, model: &str) -> Option<(&str, Price)> {
        let name = model.trim().to_lowercase();
        let (dashed, converted) = dots_between_digits_to_dashes(&name);
        let mut best: Option<(&str, Price)> = None;
        for (candidate, dashes) in [(name.as_str(), &[][..]), (dashed.as_str(), &converted[..])] {
            for start in starts(candidate) {
                let tail = &candidate[start..];
                for (key, price) in &self.entries {
                    let at_boundary = tail.strip_prefix(key.as_str()).is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with(['-', ':', '@', '_', '/', ' '])
                    });
                    // In the dashed spelling a key must cover a converted dot: `gpt-4.5` is not
                    // `gpt-4` followed by `-5`.
                    let span = start..start + key.len();
                    let genuine = dashes.is_empty() || dashes.iter().any(|d| span.contains(d));
                    if at_boundary && genuine && best.is_none_or(|(b, _)| key.len() > b.len()) {
                        best = Some((key.as_str(), *price));
                    }
                }
            }
        }
        best.or(self.fallback.map(|price| ("*", price)))
    }
}

/// Where a model name may begin: its start, and after a provider separator (`/`, `.`, `:`)
/// followed by a letter.
fn starts(name: &str) -> impl Iterator<Item = usize> + '_ {
    std::iter::once(0).chain(name.char_indices().filter_map(|(i, c)| {
        let next = name[i + c.len_utf8()..].chars().next()?;
        (matches!(c, '/' | '.' | ':') && next.is_ascii_alphabetic()).then_some(i + 1)
    }))
}

/// `name` with each `.` between two digits made a `-`, and the byte offsets of those dashes
/// (`claude-3.5-sonnet` is `claude-3-5-sonnet`).
fn dots_between_digits_to_dashes(name: &str) -> (String, Vec<usize>) {
    let bytes = name.as_bytes();
    let mut converted = Vec::new();
    let dashed = name
        .char_indices()
        .map(|(i, c)| {
            let between_digits = c == '.'
                && i > 0
                && bytes[i - 1].is_ascii_digit()
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if between_digits {
                converted.push(i);
                '-'
            } else {
                c
            }
        })
        .collect();
    (dashed, converted)
}

fn parse_entry(entry: &str) -> Result<(String, Price), Error> {
    let malformed = || {
        Error::failed(format!(
            "setting 'prices' entry '{entry}' is malformed; expected model=input/output in USD \
             per 1M tokens, e.g. gpt-4o=2.5/10"
        ))
    };
    let (model, prices) = entry.rsplit_once('=').ok_or_else(malformed)?;
    let (input, output) = prices.split_once('/').ok_or_else(malformed)?;
    let number = |text: &str| -> Result<f64, Error> {
        let value: f64 = text.trim().parse().map_err(|_| malformed())?;
        if value.is_finite() && value >= 0.0 {
            Ok(value)
        } else {
            Err(malformed())
        }
    };
    let model = model.trim().to_lowercase();
    if model.is_empty() {
        return Err(malformed());
    }
    Ok((
        model,
        Price {
            input: number(input)?,
            output: number(output)?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[&str]) -> PriceTable {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        PriceTable::with_entries(&entries).unwrap()
    }

    fn key(table: &PriceTable, model: &str) -> Option<String> {
        table.lookup(model).map(|(key, _)| key.to_owned())
    }

    #[test]
    fn the_longest_key_at_a_boundary_prices_the_model() {
        let t = table(&[]);
        for (model, expected) in [
            ("gpt-4o", "gpt-4o"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gpt-4o-2024-05-13", "gpt-4o-2024-05-13"),
            ("GPT-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("gpt-4-0613", "gpt-4"),
            ("gpt-4.1-mini", "gpt-4.1-mini"),
            ("o3-mini-2025-01-31", "o3-mini"),
            ("o1", "o1"),
            ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
            ("claude-opus-4-1-20250805", "claude-opus-4-1"),
            ("claude-opus-4-20250514", "claude-opus-4"),
            ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet"),
            ("anthropic/claude-opus-4.5", "claude-opus-4-5"),
            (
                "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                "claude-3-7-sonnet",
            ),
            ("openai/gpt-4.1", "gpt-4.1"),
            ("gpt-5.1-2025-11-13", "gpt-5.1"),
            ("models/gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ] {
            assert_eq!(key(&t, model).as_deref(), Some(expected), "{model}");
        }
        for unknown in [
            "gpt-4.5-preview",
            "gpt-5.2",
            "llama-3-70b",
            "",
            "o",
            "gpt-4omni",
            "x/",
        ] {
            assert_eq!(key(&t, unknown), None, "{unknown}");
        }
    }

    #[test]
    fn entries_override_add_and_fall_back() {
        let t = table(&["gpt-4o=1/2", "my-finetune = 0.5 / 1.5", "*=9/9", "  "]);
        assert_eq!(
            t.lookup("gpt-4o-2024-08-06").unwrap().1,
            Price {
                input: 1.0,
                output: 2.0
            }
        );
        assert_eq!(
            t.lookup("gpt-4o-mini").unwrap().1,
            Price {
                input: 0.15,
                output: 0.60
            }
        );
        assert_eq!(t.lookup("My-Finetune:v3").unwrap().0, "my-finetune");
        assert_eq!(
            t.lookup("llama-3").unwrap(),
            (
                "*",
                Price {
                    input: 9.0,
                    output: 9.0
                }
            )
        );
    }

    #[test]
    fn malformed_entries_are_configuration_errors() {
        for entry in [
            "gpt-4o",
            "gpt-4o=2.5",
            "=1/2",
            "x=a/b",
            "x=-1/2",
            "x=1/inf",
            "x=NaN/1",
        ] {
            let err = PriceTable::with_entries(&[entry.to_owned()]).unwrap_err();
            assert!(err.to_string().contains("prices"), "{entry}: {err}");
        }
    }

    #[test]
    fn the_default_entries_parse_back_to_the_table() {
        let parsed = PriceTable::with_entries(&built_in_entries()).unwrap();
        assert_eq!(parsed.entries.len(), BUILT_IN.len());
        for (model, input, output) in BUILT_IN {
            assert_eq!(
                parsed.lookup(model).unwrap(),
                (model, Price { input, output })
            );
        }
    }
}
