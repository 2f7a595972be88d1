//! Streamed chat completions: server-sent events read line by line and assembled into the
//! answer a plain (non-streamed) request gets, so the cache, the parsers and the accounting see
//! one shape whichever way an answer travelled.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::BufRead;

/// One choice as its deltas arrive.
#[derive(Default)]
struct ChoiceParts {
    role: Option<String>,
    content: Option<String>,
    reasoning: Option<String>,
    finish_reason: Option<Value>,
    logprobs: Option<Vec<Value>>,
}

/// Assembles `chat.completion.chunk` events into one `chat.completion` answer: the text of every
/// `delta.content` joined, the last `finish_reason`, the usage chunk (`stream_options:
/// {"include_usage": true}`), the `logprobs.content` entries in order, and the answer's `id`,
/// `created`, `model` and `system_fingerprint` as the first chunk that has them gives them.
#[derive(Default)]
pub(crate) struct ChatAssembler {
    top: Map<String, Value>,
    chunk_object: bool,
    choices: BTreeMap<u64, ChoiceParts>,
    usage: Option<Value>,
    /// `data: [DONE]` was read.
    pub(crate) done: bool,
    /// Events read.
    pub(crate) events: usize,
}

fn append(slot: &mut Option<String>, text: Option<&str>) {
    if let Some(text) = text {
        slot.get_or_insert_with(String::new).push_str(text);
    }
}

impl ChatAssembler {
    /// Takes one event's data: a chunk's JSON, or `[DONE]`. An `error` object (servers report
    /// a failure during generation that way) or data that is not JSON is an `Err`.
    pub(crate) fn event(&mut self, data: &str) -> Result<(), String> {
        if data.trim() == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| format!("a streamed chunk is not JSON ({e}): {}", excerpt(data)))?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(format!(
                "the server reported an error mid-stream: {message}"
            ));
        }
        self.events += 1;
        for name in ["id", "created", "model", "system_fingerprint"] {
            if let Some(v) = chunk.get(name).filter(|v| !v.is_null()) {
                self.top.entry(name).or_insert_with(|| v.clone());
            }
        }
        self.chunk_object |= chunk.get("object").is_some();
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(usage.clone());
        }
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let parts = self.choices.entry(index).or_default();
            if let Some(delta) = choice.get("delta") {
                if let Some(role) = delta.get("role").and_then(Value::as_str) {
                    parts.role = Some(role.to_owned());
                }
                append(
                    &mut parts.content,
                    delta.get("content").and_then(Value::as_str),
                );
                append(
                    &mut parts.reasoning,
                    delta
                        .get("reasoning_content")
                        .or_else(|| delta.get("reasoning"))
                        .and_then(Value::as_str),
                );
            }
            if let Some(finish) = choice.get("finish_reason").filter(|f| !f.is_null()) {
                parts.finish_reason = Some(finish.clone());
            }
            if let Some(content) = choice
                .get("logprobs")
                .and_then(|l| l.get("content"))
                .and_then(Value::as_array)
            {
                parts
                    .logprobs
                    .get_or_insert_with(Vec::new)
                    .extend(content.iter().cloned());
            }
        }
        Ok(())
    }

    /// Whether some choice has finished (`finish_reason` read).
    pub(crate) fn finished(&self) -> bool {
        self.choices.values().any(|c| c.finish_reason.is_some())
    }

    /// The assembled answer, shaped as a plain request's.
    pub(crate) fn response(self) -> Value {
        let mut out = self.top;
        if self.chunk_object {
            out.insert("object".into(), json!("chat.completion"));
        }
        let choices: Vec<Value> = self
            .choices
            .into_iter()
            .map(|(index, parts)| {
                let mut message = Map::new();
                message.insert(
                    "role".into(),
                    json!(parts.role.as_deref().unwrap_or("assistant")),
                );
                message.insert("content".into(), json!(parts.content));
                if let Some(reasoning) = parts.reasoning {
                    message.insert("reasoning_content".into(), json!(reasoning));
                }
                let mut choice = Map::new();
                choice.insert("index".into(), json!(index));
                choice.insert("message".into(), Value::Object(message));
                choice.insert(
                    "finish_reason".into(),
                    parts.finish_reason.unwrap_or(Value::Null),
                );
                if let Some(content) = parts.logprobs {
                    choice.insert("logprobs".into(), json!({ "content": content }));
                }
                Value::Object(choice)
            })
            .collect();
        out.insert("choices".into(), Value::Array(choices));
        if let Some(usage) = self.usage {
            out.insert("usage".into(), usage);
        }
        Value::Object(out)
    }
}

/// How reading a stream ended, when it did not give a complete answer.
#[derive(Debug)]
pub(crate) enum StreamStop<E> {
    /// Reading failed (a read timeout: the server fell silent; a reset connection).
    Read(std::io::Error),
    /// The stream is malformed or reported an error.
    Bad(String),
    /// The caller's check after a line stopped it.
    Check(E),
}

/// Reads server-sent events from `reader` into `assembler` until `data: [DONE]` or the end of
/// the body; `check` runs after every line read (the whole-request bound). `Ok` at `[DONE]`
/// (nothing after it is waited for) or at the end of the body: the assembler says which
/// (`done`). Comments (`: ping`) and fields other than `data` are skipped; multi-line data is
/// joined with newlines, as the SSE format says.
pub(crate) fn read_events<E>(
    reader: &mut impl BufRead,
    assembler: &mut ChatAssembler,
    mut check: impl FnMut() -> Result<(), E>,
) -> Result<(), StreamStop<E>> {
    let mut line = Vec::new();
    let mut data = String::new();
    let mut pending = false;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(StreamStop::Read)?;
        check().map_err(StreamStop::Check)?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if n == 0 || text.is_empty() {
            if pending {
                assembler.event(&data).map_err(StreamStop::Bad)?;
                data.clear();
                pending = false;
                if assembler.done {
                    return Ok(());
                }
            }
            if n == 0 {
                return Ok(());
            }
            continue;
        }
        if text.starts_with(':') {
            continue;
        }
        let (field, value) = text.split_once(':').unwrap_or((text, ""));
        if field == "data" {
            if pending {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
            pending = true;
        }
    }
}

/// The first 300 characters of a text.
fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (ChatAssembler, Result<(), StreamStop<()>>) {
        let mut assembler = ChatAssembler::default();
        let result = read_events(&mut text.as_bytes(), &mut assembler, || Ok(()));
        (assembler, result)
    }

    #[test]
    fn chunks_assemble_into_the_plain_answer() {
        let text = "\
: keep-alive\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n\
data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"logprobs\":{\"content\":[{\"token\":\"Hel\",\"logprob\":-0.5}]},\"finish_reason\":null}]}\r\n\r\n\
data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo \\u00e9\"},\"finish_reason\":\"length\"}],\"usage\":null}\n\n\
data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7}}\n\n\
data: [DONE]\n\n\
data: {\"never\": \"read\"}\n\n";
        let (assembler, result) = read(text);
        assert!(result.is_ok());
        assert!(assembler.done && assembler.finished());
        assert_eq!(
            assembler.response(),
            json!({
                "id": "c1", "object": "chat.completion", "created": 7, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello é"},
                    "finish_reason": "length",
                    "logprobs": {"content": [{"token": "Hel", "logprob": -0.5}]}}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
            })
        );
    }

    #[test]
    fn a_stream_cut_before_done_is_not_done_and_errors_are_errors() {
        let (assembler, result) =
            read("data: {\"choices\":[{\"delta\":{\"content\":\"half\"}}]}\n\ndata: {\"choi");
        assert!(matches!(result, Err(StreamStop::Bad(_))));
        assert!(!assembler.done && !assembler.finished());
        let (assembler, result) = read("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n");
        assert!(result.is_ok());
        assert!(!assembler.done && !assembler.finished());
        let (_, result) = read("data: {\"error\":{\"message\":\"out of memory\"}}\n\n");
        assert!(matches!(result, Err(StreamStop::Bad(m)) if m.contains("out of memory")));
    }

    #[test]
    fn multi_line_data_and_reasoning_deltas() {
        let text = "event: message\ndata: {\"choices\":[{\"delta\":\ndata: {\"reasoning_content\":\"think\"}}]}\n\n\
data: {\"choices\":[{\"delta\":{\"content\":\"42\"},\"finish_reason\":\"stop\"}]}\n\n";
        let (assembler, result) = read(text);
        assert!(result.is_ok());
        assert!(!assembler.done && assembler.finished());
        assert_eq!(
            assembler.response(),
            json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "42",
                "reasoning_content": "think"}, "finish_reason": "stop"}]})
        );
    }
}
