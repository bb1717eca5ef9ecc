//! Auditor settings: their types and values.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The type of an auditor setting; a setting's declared type and the type of its default (and of
/// every configured value) must be the same. The snake_case names are a public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingType {
    /// `true` or `false`.
    Boolean,
    /// A non-negative integer.
    Count,
    /// A finite number.
    Number,
    /// Any string.
    String,
    /// A list of strings.
    StringList,
}

impl SettingType {
    /// Every setting type, in the order of the WIT `setting-type` enum.
    pub const ALL: [SettingType; 5] = [
        SettingType::Boolean,
        SettingType::Count,
        SettingType::Number,
        SettingType::String,
        SettingType::StringList,
    ];

    /// The type's name: `boolean`, `count`, `number`, `string` or `string_list`.
    pub fn as_str(self) -> &'static str {
        match self {
            SettingType::Boolean => "boolean",
            SettingType::Count => "count",
            SettingType::Number => "number",
            SettingType::String => "string",
            SettingType::StringList => "string_list",
        }
    }
}

impl fmt::Display for SettingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A setting's value, as declared (defaults) or as configured (effective settings).
///
/// In JSON a setting value is the bare value: `true`, `4096`, `0.5`, `"strict"`, `["a", "b"]`.
/// Read back without its declared type, a non-negative integer is a [`SettingValue::Count`] and
/// any other number a [`SettingValue::Number`]; when the type is known, read with
/// [`SettingValue::from_json_as`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SettingValue {
    Boolean(bool),
    Count(u64),
    Number(f64),
    String(String),
    StringList(Vec<String>),
}

/// Why a setting value does not have the type it should: the message says what was expected
/// and what was found (`expected a non-negative integer, got '-1'`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SettingError(pub String);

impl SettingValue {
    /// The type of the value.
    pub fn setting_type(&self) -> SettingType {
        match self {
            SettingValue::Boolean(_) => SettingType::Boolean,
            SettingValue::Count(_) => SettingType::Count,
            SettingValue::Number(_) => SettingType::Number,
            SettingValue::String(_) => SettingType::String,
            SettingValue::StringList(_) => SettingType::StringList,
        }
    }

    /// The bare JSON value (the same as the value's serde form).
    pub fn to_json(&self) -> Value {
        match self {
            SettingValue::Boolean(v) => Value::from(*v),
            SettingValue::Count(v) => Value::from(*v),
            SettingValue::Number(v) => Value::from(*v),
            SettingValue::String(v) => Value::from(v.as_str()),
            SettingValue::StringList(v) => Value::from(v.clone()),
        }
    }

    /// Parse a value given on the command line (`--set name=value`) as `ty`. A string list is a
    /// JSON array or a comma-separated list.
    pub fn parse_as(ty: SettingType, text: &str) -> Result<SettingValue, SettingError> {
        let text = text.trim();
        let value = match ty {
            SettingType::Boolean => match text {
                "true" => SettingValue::Boolean(true),
                "false" => SettingValue::Boolean(false),
                _ => {
                    return Err(SettingError(format!(
                        "expected true or false, got '{text}'"
                    )));
                }
            },
            SettingType::Count => match text.parse::<u64>() {
                Ok(n) if n <= crate::MAX_SAFE_INTEGER => SettingValue::Count(n),
                Ok(_) => {
                    return Err(SettingError(format!(
                        "expected a count up to 2^53-1, got '{text}'"
                    )));
                }
                Err(_) => {
                    return Err(SettingError(format!(
                        "expected a non-negative integer, got '{text}'"
                    )));
                }
            },
            SettingType::Number => match text.parse::<f64>() {
                Ok(v) if v.is_finite() => SettingValue::Number(v),
                _ => {
                    return Err(SettingError(format!(
                        "expected a finite number, got '{text}'"
                    )));
                }
            },
            SettingType::String => SettingValue::String(text.to_string()),
            SettingType::StringList => {
                if text.starts_with('[') {
                    serde_json::from_str::<Vec<String>>(text)
                        .map(SettingValue::StringList)
                        .map_err(|e| {
                            SettingError(format!("expected a JSON array of strings: {e}"))
                        })?
                } else {
                    SettingValue::StringList(
                        text.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect(),
                    )
                }
            }
        };
        Ok(value)
    }

    /// Convert a JSON (or TOML-derived) value into a setting of type `ty`.
    pub fn from_json_as(ty: SettingType, value: &Value) -> Result<SettingValue, SettingError> {
        let found = || SettingError(format!("expected {ty}, got {value}"));
        match ty {
            SettingType::Boolean => value.as_bool().map(SettingValue::Boolean).ok_or_else(found),
            // Counts share the receipt's integer domain: effective settings are bound into ARs.
            SettingType::Count => value
                .as_u64()
                .filter(|n| *n <= crate::MAX_SAFE_INTEGER)
                .map(SettingValue::Count)
                .ok_or_else(found),
            SettingType::Number => value
                .as_f64()
                .filter(|v| v.is_finite())
                .map(SettingValue::Number)
                .ok_or_else(found),
            SettingType::String => value
                .as_str()
                .map(|s| SettingValue::String(s.to_string()))
                .ok_or_else(found),
            SettingType::StringList => string_list(value)
                .map(SettingValue::StringList)
                .ok_or_else(found),
        }
    }

    /// The value a bare JSON value stands for when its type is not known.
    fn from_untyped_json(value: &Value) -> Option<SettingValue> {
        match value {
            Value::Bool(v) => Some(SettingValue::Boolean(*v)),
            Value::Number(n) => n
                .as_u64()
                .map(SettingValue::Count)
                .or_else(|| n.as_f64().map(SettingValue::Number)),
            Value::String(s) => Some(SettingValue::String(s.clone())),
            Value::Array(_) => string_list(value).map(SettingValue::StringList),
            Value::Null | Value::Object(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for SettingValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        SettingValue::from_untyped_json(&value).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a setting value (a boolean, a number, a string or an array of strings), got {value}"
            ))
        })
    }
}

impl From<bool> for SettingValue {
    fn from(value: bool) -> Self {
        SettingValue::Boolean(value)
    }
}

impl From<u64> for SettingValue {
    fn from(value: u64) -> Self {
        SettingValue::Count(value)
    }
}

impl From<f64> for SettingValue {
    fn from(value: f64) -> Self {
        SettingValue::Number(value)
    }
}

impl From<&str> for SettingValue {
    fn from(value: &str) -> Self {
        SettingValue::String(value.to_owned())
    }
}

impl From<String> for SettingValue {
    fn from(value: String) -> Self {
        SettingValue::String(value)
    }
}

impl From<Vec<String>> for SettingValue {
    fn from(value: Vec<String>) -> Self {
        SettingValue::StringList(value)
    }
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(String::from))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_serialize_bare_and_read_back() {
        let cases = [
            (SettingValue::Boolean(true), json!(true)),
            (SettingValue::Count(4096), json!(4096)),
            (SettingValue::Number(0.5), json!(0.5)),
            (SettingValue::Number(-3.0), json!(-3.0)),
            (SettingValue::String("strict".into()), json!("strict")),
            (
                SettingValue::StringList(vec!["a".into(), "b".into()]),
                json!(["a", "b"]),
            ),
            (SettingValue::StringList(Vec::new()), json!([])),
        ];
        for (value, expected) in cases {
            assert_eq!(serde_json::to_value(&value).unwrap(), expected);
            assert_eq!(value.to_json(), expected);
            assert_eq!(
                serde_json::from_value::<SettingValue>(expected).unwrap(),
                value
            );
        }
    }

    #[test]
    fn untyped_numbers_are_counts_only_when_non_negative_integers() {
        let read = |text: &str| serde_json::from_str::<SettingValue>(text).unwrap();
        assert_eq!(read("3"), SettingValue::Count(3));
        assert_eq!(read("3.0"), SettingValue::Number(3.0));
        assert_eq!(read("-3"), SettingValue::Number(-3.0));
        assert_eq!(read("1e3"), SettingValue::Number(1000.0));
        for bad in ["null", "{}", r#"["a", 1]"#] {
            let err = serde_json::from_str::<SettingValue>(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("expected a setting value"),
                "{err}"
            );
        }
    }

    #[test]
    fn setting_types_have_snake_case_names() {
        for ty in SettingType::ALL {
            assert_eq!(serde_json::to_value(ty).unwrap(), ty.as_str());
            assert_eq!(ty.to_string(), ty.as_str());
            assert_eq!(
                serde_json::from_value::<SettingType>(ty.as_str().into()).unwrap(),
                ty
            );
        }
        for value in [
            SettingValue::from(true),
            SettingValue::from(1u64),
            SettingValue::from(0.5),
            SettingValue::from("x"),
            SettingValue::from(String::from("x")),
            SettingValue::from(vec![String::from("x")]),
        ] {
            assert!(SettingType::ALL.contains(&value.setting_type()));
        }
        assert_eq!(
            SettingValue::from(vec![String::from("x")]).setting_type(),
            SettingType::StringList
        );
    }

    #[test]
    fn command_line_values_are_parsed_as_their_type() {
        let parse = SettingValue::parse_as;
        assert_eq!(
            parse(SettingType::Boolean, " true ").unwrap(),
            SettingValue::Boolean(true)
        );
        assert_eq!(
            parse(SettingType::Count, "10").unwrap(),
            SettingValue::Count(10)
        );
        assert_eq!(
            parse(SettingType::Number, "0.25").unwrap(),
            SettingValue::Number(0.25)
        );
        assert_eq!(
            parse(SettingType::String, " a b ").unwrap(),
            SettingValue::String("a b".into())
        );
        let errors = [
            (
                SettingType::Boolean,
                "yes",
                "expected true or false, got 'yes'",
            ),
            (
                SettingType::Count,
                "-1",
                "expected a non-negative integer, got '-1'",
            ),
            (
                SettingType::Number,
                "inf",
                "expected a finite number, got 'inf'",
            ),
            (
                SettingType::Number,
                "NaN",
                "expected a finite number, got 'NaN'",
            ),
        ];
        for (ty, text, message) in errors {
            assert_eq!(parse(ty, text).unwrap_err().to_string(), message);
        }
        let err = parse(SettingType::StringList, "[1]")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("expected a JSON array of strings: "),
            "{err}"
        );
    }

    #[test]
    fn string_lists_parse_from_csv_or_json() {
        assert_eq!(
            SettingValue::parse_as(SettingType::StringList, "a, b,").unwrap(),
            SettingValue::StringList(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            SettingValue::parse_as(SettingType::StringList, r#"["a,b"]"#).unwrap(),
            SettingValue::StringList(vec!["a,b".into()])
        );
    }

    #[test]
    fn json_values_are_converted_to_the_declared_type() {
        let from = SettingValue::from_json_as;
        assert_eq!(
            from(SettingType::Number, &json!(1)).unwrap(),
            SettingValue::Number(1.0)
        );
        assert_eq!(
            from(SettingType::Count, &json!(7)).unwrap(),
            SettingValue::Count(7)
        );
        assert_eq!(
            from(SettingType::StringList, &json!(["a"])).unwrap(),
            SettingValue::StringList(vec!["a".into()])
        );
        let errors = [
            (
                SettingType::Boolean,
                json!("true"),
                "expected boolean, got \"true\"",
            ),
            (SettingType::Count, json!(-1), "expected count, got -1"),
            (SettingType::Count, json!(1.5), "expected count, got 1.5"),
            (
                SettingType::Number,
                json!("1"),
                "expected number, got \"1\"",
            ),
            (SettingType::String, json!(1), "expected string, got 1"),
            (
                SettingType::StringList,
                json!(["a", 1]),
                "expected string_list, got [\"a\",1]",
            ),
        ];
        for (ty, value, message) in errors {
            assert_eq!(from(ty, &value).unwrap_err(), SettingError(message.into()));
        }
    }

    #[test]
    fn counts_stay_within_the_receipt_domain() {
        let max = crate::MAX_SAFE_INTEGER;
        assert_eq!(
            SettingValue::parse_as(SettingType::Count, &max.to_string()),
            Ok(SettingValue::Count(max))
        );
        assert!(SettingValue::parse_as(SettingType::Count, &(max + 1).to_string()).is_err());
        assert!(SettingValue::from_json_as(SettingType::Count, &Value::from(max + 1)).is_err());
        assert!(SettingValue::from_json_as(SettingType::Count, &Value::from(max)).is_ok());
    }
}
