//! Parsing the JSON answer of the probing prompt: choices found by key name, never by position.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Why a group got no choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum GroupFailure {
    /// The answer had no parseable JSON object at all.
    NoJson(String),
    /// The group's key is absent.
    Missing,
    /// The group's key appears more than once.
    Duplicate,
    /// The group has no `choice` (or it is not a string).
    NoChoice,
    /// The choice is not an option key of this group (`NSGi_sj` with `1 <= j <= options`).
    InvalidChoice(String),
}

/// The outcome for every group of a task (index = probe order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedAnswer {
    /// The chosen statement (0-based) per group, or why there is none.
    pub groups: Vec<Result<u8, GroupFailure>>,
    /// Keys of the answer that name no group of the task (ignored).
    pub unknown_keys: Vec<String>,
}

impl ParsedAnswer {
    /// Number of groups with a valid choice.
    pub fn valid(&self) -> usize {
        self.groups.iter().filter(|g| g.is_ok()).count()
    }
}

/// A JSON object read with its keys in order and duplicates kept.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The group number a key names: `NSG12`, or the long form `new statement group 12 (NSG12)`.
fn group_number(key: &str) -> Option<usize> {
    let key = key.trim();
    let short = match (key.rfind("(NSG"), key.ends_with(')')) {
        (Some(start), true) => &key[start + 1..key.len() - 1],
        _ => key,
    };
    short
        .strip_prefix("NSG")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// Every candidate JSON object text in `answer`: from each `{` to the last `}` after it,
/// outermost first. Code fences and prose around the object are skipped this way.
fn candidates(answer: &str) -> impl Iterator<Item = &str> {
    let end = answer.rfind('}');
    answer
        .match_indices('{')
        .filter_map(move |(start, _)| end.filter(|&e| e > start).map(|e| &answer[start..=e]))
}

/// Parses a generated answer for groups with `options[i]` statements each.
///
/// ```
/// use indievalue_probe::{parse_answer, GroupFailure};
/// let answer = "Sure!\n```json\n{\"NSG2\": {\"rationale\": \"..\", \"choice\": \"NSG2_s1\"},\n \"NSG1\": {\"choice\": \"NSG1_s3\"}}\n```";
/// let parsed = parse_answer(answer, &[3, 2, 2]);
/// assert_eq!(parsed.groups[0], Ok(2));
/// assert_eq!(parsed.groups[1], Ok(0));
/// assert_eq!(parsed.groups[2], Err(GroupFailure::Missing));
/// ```
pub fn parse_answer(answer: &str, options: &[u8]) -> ParsedAnswer {
    // The first candidate object that names at least one group (an inner object such as
    // `{"choice": ...}` of a truncated answer is not an answer).
    let entries = candidates(answer)
        .filter_map(|text| serde_json::from_str::<Entries>(text).ok())
        .find(|e| e.0.iter().any(|(k, _)| group_number(k).is_some()));
    let Some(Entries(entries)) = entries else {
        let detail = match serde_json::from_str::<serde_json::Value>(answer.trim()) {
            Err(e) => e.to_string(),
            Ok(_) => "no JSON object naming a group".into(),
        };
        return ParsedAnswer {
            groups: vec![Err(GroupFailure::NoJson(detail)); options.len()],
            unknown_keys: Vec::new(),
        };
    };
    let mut found: Vec<Vec<&serde_json::Value>> = vec![Vec::new(); options.len()];
    let mut unknown_keys = Vec::new();
    for (key, value) in &entries {
        match group_number(key) {
            Some(i) if (1..=options.len()).contains(&i) => found[i - 1].push(value),
            _ => unknown_keys.push(key.clone()),
        }
    }
    let groups = found
        .iter()
        .enumerate()
        .map(|(g, values)| match values.as_slice() {
            [] => Err(GroupFailure::Missing),
            [value] => {
                let choice = match value {
                    serde_json::Value::String(s) => Some(s.as_str()),
                    serde_json::Value::Object(o) => o.get("choice").and_then(|c| c.as_str()),
                    _ => None,
                };
                let Some(choice) = choice else {
                    return Err(GroupFailure::NoChoice);
                };
                let prefix = format!("NSG{}_s", g + 1);
                choice
                    .trim()
                    .strip_prefix(&prefix)
                    .filter(|j| !j.is_empty() && j.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|j| j.parse::<usize>().ok())
                    .filter(|&j| (1..=usize::from(options[g])).contains(&j))
                    .map(|j| (j - 1) as u8)
                    .ok_or_else(|| GroupFailure::InvalidChoice(choice.to_owned()))
            }
            _ => Err(GroupFailure::Duplicate),
        })
        .collect();
    ParsedAnswer {
        groups,
        unknown_keys,
    }
}
