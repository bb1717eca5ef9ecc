//! Proposes spans for masking, well-formed or hostile, as its `mode` setting says: for the
//! host's redaction tests. `spanned` holds when it proposed any.
//!
//! Modes: `word` (every occurrence of the `word` setting, through the SDK), `model` (the
//! request's `model` field), `past_end` (a range past the end of the first message),
//! `mid_char` (a range ending inside a multi-byte character), `overlap` (the word twice,
//! overlapping), `quote` (the `"` that closes a tool call's argument value).
use lucid_auditor_sdk::{
    Auditor, Claim, ClaimSpec, ClaimType, Error, Input, Phase, SettingSpec, Span, ToolCallOrigin,
    Vocabulary,
};

struct Spanner;

impl Auditor for Spanner {
    fn describe() -> Vocabulary {
        Vocabulary::new("spanner", "0.1.0", "proposes spans as told")
            .phases([Phase::Request, Phase::Response])
            .claim(ClaimSpec::new(
                "spanned",
                ClaimType::Boolean,
                "spans were proposed",
            ))
            .setting(SettingSpec::string(
                "mode",
                "word",
                "which spans to propose",
            ))
            .setting(SettingSpec::string("word", "secret", "the word to mask"))
    }

    fn observe(input: &Input) -> Result<Vec<Claim>, Error> {
        let settings = input.settings();
        let mode = settings.string("mode").unwrap_or("word");
        let word = settings.string("word").unwrap_or("secret");
        let spans = match mode {
            "word" | "overlap" => {
                let mut spans = word_spans(input, word);
                if mode == "overlap" {
                    let shifted: Vec<Span> = spans
                        .iter()
                        .filter(|s| s.end - s.start > 2)
                        .map(|s| Span::new(s.field.clone(), s.start + 2, s.end, "word"))
                        .collect();
                    spans.extend(shifted);
                }
                spans
            }
            "model" => vec![Span::new("/model", 0, 1, "word")],
            "past_end" => {
                let len = input.messages().first().map_or(0, |m| m.content().len());
                vec![Span::new("/messages/0/content", 0, len as u32 + 5, "word")]
            }
            "mid_char" => vec![Span::new("/messages/0/content", 0, 1, "word")],
            "quote" => {
                let args = input.tool_calls().first().map_or("", |c| c.arguments());
                let at = args.rfind('"').unwrap_or(0);
                input.tool_call_spans(0, at..at + 1, "word")
            }
            other => return Err(Error::invalid_input(format!("unknown mode '{other}'"))),
        };
        let spanned = !spans.is_empty();
        Ok(vec![Claim::boolean("spanned", spanned).with_spans(spans)])
    }
}

/// Every occurrence of `word` in the phase's texts.
fn word_spans(input: &Input, word: &str) -> Vec<Span> {
    if word.is_empty() {
        return Vec::new();
    }
    let mut spans = Vec::new();
    match input.phase() {
        Phase::Response => {
            if let Some(text) = input.response_text() {
                for (at, _) in text.match_indices(word) {
                    spans.extend(input.response_spans(at..at + word.len(), "word"));
                }
            }
            for (i, call) in input.tool_calls().iter().enumerate() {
                if matches!(call.origin(), ToolCallOrigin::Response { .. }) {
                    for (at, _) in call.arguments().match_indices(word) {
                        spans.extend(input.tool_call_spans(i, at..at + word.len(), "word"));
                    }
                }
            }
        }
        _ => {
            for (i, message) in input.messages().iter().enumerate() {
                for (at, _) in message.content().match_indices(word) {
                    spans.extend(input.message_spans(i, at..at + word.len(), "word"));
                }
            }
            for (i, call) in input.tool_calls().iter().enumerate() {
                for (at, _) in call.arguments().match_indices(word) {
                    spans.extend(input.tool_call_spans(i, at..at + word.len(), "word"));
                }
            }
        }
    }
    spans
}

lucid_auditor_sdk::export_auditor!(Spanner);
