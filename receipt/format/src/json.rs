//! The signer's view of a core: a JSON tree borrowed from the core's text, and the read access
//! the format checks have to it and to `serde_json::Value` alike.
//!
//! Signing through `serde_json::Value` allocated a `String` for every string and a B-tree for
//! every object, and writing the AR back out (canonical bytes, then its text) scanned every
//! string again for characters to escape: in the component, most of the time not spent hashing
//! and signing. [`Json`] is parsed by serde_json's own parser (the same grammar, numbers, limits
//! and error messages), keeps a string that had no escapes as a slice of the input (it holds
//! nothing that needs escaping on the way out either), and keeps each object's members sorted
//! by name, the last of duplicate names winning: exactly what a `serde_json::Map` holds and the
//! order it writes in.

use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Read access to a JSON value: what the format checks need, for the signer's [`Json`] and the
/// verifiers' `serde_json::Value`.
pub(crate) trait Node: Sized {
    type Object: Members<Node = Self>;
    fn as_str(&self) -> Option<&str>;
    fn as_number(&self) -> Option<&Number>;
    fn as_array(&self) -> Option<&[Self]>;
    fn as_object(&self) -> Option<&Self::Object>;
    fn is_boolean(&self) -> bool;

    fn is_string(&self) -> bool {
        self.as_str().is_some()
    }
}

/// Read access to a JSON object's members.
pub(crate) trait Members {
    type Node: Node<Object = Self>;
    fn get(&self, name: &str) -> Option<&Self::Node>;
    /// The members in the order of their names' bytes.
    fn members(&self) -> impl Iterator<Item = (&str, &Self::Node)>;

    fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A JSON value borrowed from the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Text<'a>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A string of a [`Json`] tree.
#[derive(Debug, Clone)]
pub(crate) enum Text<'a> {
    /// Written without escapes where it came from, so it holds no `"`, `\` or control
    /// character: it is written back as it is. Also any text known to be plain (hex, names).
    Raw(&'a str),
    /// Had escapes in the input; written back with the escapes JSON needs.
    Unescaped(String),
}

impl Text<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Text::Raw(s) => s,
            Text::Unescaped(s) => s,
        }
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

/// A JSON object: members sorted by the bytes of their names, names unique.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Object<'a> {
    members: Vec<(Text<'a>, Json<'a>)>,
    /// Whether every name is ASCII, so that the name order is also the canonical (UTF-16) one.
    ascii_names: bool,
}

impl<'a> Object<'a> {
    /// An object of these members, in any order; of duplicate names the last one counts.
    pub(crate) fn new(mut members: Vec<(Text<'a>, Json<'a>)>) -> Self {
        // Stable, so that duplicates stay in input order; most objects arrive sorted already.
        if !members.is_sorted_by(|a, b| name_cmp(a.0.as_str(), b.0.as_str()).is_lt()) {
            members.sort_by(|a, b| name_cmp(a.0.as_str(), b.0.as_str()));
            // `dedup_by` removes the later of two equal names: keep its value instead.
            members.dedup_by(|later, kept| {
                let same = later.0.as_str() == kept.0.as_str();
                if same {
                    std::mem::swap(&mut later.1, &mut kept.1);
                }
                same
            });
        }
        let ascii_names = members.iter().all(|(name, _)| name.as_str().is_ascii());
        Object {
            members,
            ascii_names,
        }
    }

    /// Whether the members' order is the canonical one without sorting: true unless a name is
    /// not ASCII (UTF-16 order differs from UTF-8 byte order only for some non-ASCII names).
    pub(crate) fn in_canonical_order(&self) -> bool {
        self.ascii_names
    }

    /// Adds a member, or replaces the value of the member of that name.
    pub(crate) fn insert(&mut self, name: Text<'a>, value: Json<'a>) {
        self.ascii_names &= name.as_str().is_ascii();
        match self.position(name.as_str()) {
            Ok(i) => self.members[i].1 = value,
            Err(i) => self.members.insert(i, (name, value)),
        }
    }

    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (&Text<'a>, &Json<'a>)> {
        self.members.iter().map(|(name, value)| (name, value))
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.members
            .binary_search_by(|(member, _)| name_cmp(member.as_str(), name))
    }
}

/// Byte order of two names. Names are short and differ early: a plain loop beats a call to
/// `memcmp`, which in wasm is a byte loop behind a call.
fn name_cmp(a: &str, b: &str) -> Ordering {
    for (x, y) in a.bytes().zip(b.bytes()) {
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

/// Parses `text` with serde_json: the same grammar, numbers (exact floats), nesting limit and
/// error messages as `serde_json::from_str::<Value>`.
pub(crate) fn parse(text: &str) -> Result<Json<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

/// The text of `value` as `serde_json::to_string` writes the equal `serde_json::Value` (compact,
/// members in name order).
pub(crate) fn write_text(value: &Json<'_>, out: &mut Vec<u8>) {
    match value {
        Json::Null => out.extend_from_slice(b"null"),
        Json::Bool(true) => out.extend_from_slice(b"true"),
        Json::Bool(false) => out.extend_from_slice(b"false"),
        Json::Number(n) => {
            serde::Serialize::serialize(n, &mut serde_json::Serializer::new(&mut *out))
                .expect("a number serializes into a vec");
        }
        Json::String(text) => crate::canonical::write_text_string(text, out),
        Json::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_text(item, out);
            }
            out.push(b']');
        }
        Json::Object(object) => {
            out.push(b'{');
            for (i, (name, value)) in object.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                crate::canonical::write_text_string(name, out);
                out.push(b':');
                write_text(value, out);
            }
            out.push(b'}');
        }
    }
}

impl<'a> Node for Json<'a> {
    type Object = Object<'a>;

    fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text.as_str()),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Self]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(object) => Some(object),
            _ => None,
        }
    }

    fn is_boolean(&self) -> bool {
        matches!(self, Json::Bool(_))
    }
}

impl<'a> Members for Object<'a> {
    type Node = Json<'a>;

    fn get(&self, name: &str) -> Option<&Json<'a>> {
        self.position(name).ok().map(|i| &self.members[i].1)
    }

    fn members(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.members
            .iter()
            .map(|(name, value)| (name.as_str(), value))
    }
}

impl Node for Value {
    type Object = Map<String, Value>;

    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }

    fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&[Self]> {
        Value::as_array(self).map(Vec::as_slice)
    }

    fn as_object(&self) -> Option<&Map<String, Value>> {
        Value::as_object(self)
    }

    fn is_boolean(&self) -> bool {
        Value::is_boolean(self)
    }
}

impl Members for Map<String, Value> {
    type Node = Value;

    fn get(&self, name: &str) -> Option<&Value> {
        Map::get(self, name)
    }

    fn members(&self) -> impl Iterator<Item = (&str, &Value)> {
        // Without serde_json's `preserve_order` a `Map` iterates in name order; with it (as in a
        // build that also has cedar-policy) in insertion order, which only error messages see.
        self.iter().map(|(name, value)| (name.as_str(), value))
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// An object member's name.
struct Name<'a>(Text<'a>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Name<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Name<'de>, E> {
        Ok(Name(Text::Raw(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Name<'de>, E> {
        Ok(Name(Text::Unescaped(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Name<'de>, E> {
        Ok(Name(Text::Unescaped(s)))
    }
}

/// Mirrors the visitor of `serde_json::Value`, number for number.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Json<'de>, E> {
        Ok(Number::from_f64(x).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Text::Raw(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Text::Unescaped(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Text::Unescaped(s)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Json<'de>, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(4);
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        // Claims have six or seven members: one allocation for most objects.
        let mut members = Vec::with_capacity(8);
        while let Some(Name(name)) = map.next_key()? {
            members.push((name, map.next_value()?));
        }
        Ok(Json::Object(Object::new(members)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(json: &Json<'_>) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(text) => Value::String(text.as_str().to_owned()),
            Json::Array(items) => Value::Array(items.iter().map(value_of).collect()),
            Json::Object(object) => Value::Object(
                object
                    .members()
                    .map(|(name, value)| (name.to_owned(), value_of(value)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn parses_what_serde_json_parses_the_way_it_does() {
        for text in [
            r#"{"b":1,"a":[true,null,-0,-1,1.0,1e400],"a":{"z":"\u00e9\"x","y":"plain"}}"#,
            r#"{"n":[18446744073709551615,18446744073709551616,-9223372036854775808,0.1]}"#,
            r#"[1,2,{"":{"\ud83d\ude00":"é","\u0000":"\n"}}]"#,
            r#""just a string""#,
            r#"{"a":1,"a":2,"a":3,"b":0,"a":4}"#,
        ] {
            let expected = serde_json::from_str::<Value>(text).map(|v| v.to_string());
            let parsed = parse(text).map(|json| {
                let mut out = Vec::new();
                write_text(&json, &mut out);
                assert_eq!(value_of(&json).to_string(), String::from_utf8_lossy(&out));
                String::from_utf8(out).unwrap()
            });
            match (expected, parsed) {
                (Ok(expected), Ok(parsed)) => assert_eq!(parsed, expected, "{text}"),
                (Err(expected), Err(parsed)) => {
                    assert_eq!(parsed.to_string(), expected.to_string(), "{text}");
                }
                (expected, parsed) => panic!("{text}: {expected:?} vs {parsed:?}"),
            }
        }
    }

    #[test]
    fn errors_are_serde_jsons() {
        for text in [
            "{",
            "{\"a\":}",
            "[1,]",
            "\"\u{1}\"",
            "\"\\ud800\"",
            "1 2",
            "",
        ] {
            let expected = serde_json::from_str::<Value>(text).unwrap_err().to_string();
            assert_eq!(parse(text).unwrap_err().to_string(), expected, "{text:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        let expected = serde_json::from_str::<Value>(&deep)
            .unwrap_err()
            .to_string();
        assert_eq!(parse(&deep).unwrap_err().to_string(), expected);
    }

    #[test]
    fn strings_without_escapes_stay_borrowed() {
        let json = parse(r#"{"plain":"abc","esc\"aped":"a\nb"}"#).unwrap();
        let Json::Object(object) = json else { panic!() };
        let names: Vec<bool> = object
            .iter()
            .map(|(name, _)| matches!(name, Text::Raw(_)))
            .collect();
        assert_eq!(names, [false, true]);
        assert!(matches!(
            object.get("plain"),
            Some(Json::String(Text::Raw("abc")))
        ));
        assert!(matches!(
            object.get("esc\"aped"),
            Some(Json::String(Text::Unescaped(s))) if s == "a\nb"
        ));
    }
}
