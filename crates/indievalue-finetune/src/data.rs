//! Supervised examples from JSON Lines in the formats people already have, tokenized, with the
//! Hugging Face label convention (`labels` aligned with `input_ids`, `-100` not supervised).

use crate::{Error, Result};
use indievalue_llm::{ChatMessage, ChatTemplate, TextTokenizer};
use serde::Deserialize;
use std::path::Path;

/// The label of a token that is not supervised (as in Hugging Face).
pub const IGNORE_INDEX: i64 = -100;

/// One tokenized example: `labels[t]` is the id the model must predict at `t` (from positions
/// before it), or [`IGNORE_INDEX`]. The trainer shifts: position `t - 1` predicts `labels[t]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisedExample {
    /// Token ids.
    pub input_ids: Vec<u32>,
    /// Per token, its id where supervised, else [`IGNORE_INDEX`].
    pub labels: Vec<i64>,
}

impl SupervisedExample {
    /// Supervised targets (labels other than [`IGNORE_INDEX`] after the first position, which
    /// nothing predicts).
    pub fn supervised(&self) -> usize {
        self.labels
            .iter()
            .skip(1)
            .filter(|&&l| l != IGNORE_INDEX)
            .count()
    }

    /// Cuts the example to at most `max_len` tokens by dropping tokens from the left, keeping
    /// every supervised target and the token before the first of them. `None` when the
    /// supervised tail alone is longer than `max_len`.
    pub fn truncate_left(mut self, max_len: usize) -> Option<SupervisedExample> {
        let n = self.input_ids.len();
        if n <= max_len {
            return Some(self);
        }
        let first = self
            .labels
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, l)| **l != IGNORE_INDEX)
            .map(|(i, _)| i)?;
        let cut = n - max_len;
        if cut > first - 1 {
            return None;
        }
        self.input_ids.drain(..cut);
        self.labels.drain(..cut);
        Some(self)
    }
}

/// What renders text examples into tokens: the model's tokenizer and chat template, and the
/// end-of-sequence token appended to a completion.
pub struct Formatter<'a> {
    /// The tokenizer.
    pub tokenizer: &'a TextTokenizer,
    /// The chat template (for `messages` examples).
    pub chat_template: &'a ChatTemplate,
    /// Appended to a `completion` (and supervised), if any.
    pub eos: Option<u32>,
}

/// The examples of a file, and what was skipped.
#[derive(Debug, Clone, Default)]
pub struct LoadedExamples {
    /// The examples, in file order.
    pub examples: Vec<SupervisedExample>,
    /// Examples whose supervised tokens alone exceed the maximum length (skipped, counted).
    pub skipped_too_long: usize,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Line {
    Messages {
        messages: Vec<RawMessage>,
    },
    PromptCompletion {
        prompt: String,
        completion: String,
    },
    ChatPromptCompletion {
        prompt: Vec<RawMessage>,
        completion: Vec<RawMessage>,
    },
    Tokenized {
        input_ids: Vec<u32>,
        labels: Vec<i64>,
    },
}

#[derive(Deserialize)]
struct RawMessage {
    role: String,
    content: String,
}

/// Reads a JSON Lines file of examples, each line one of
///
/// - `{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}`: rendered with
///   the chat template; the loss is on the assistant turns only (their content and the
///   template's end-of-turn text); headers and every other turn are masked;
/// - `{"prompt": [turns], "completion": [assistant turns]}` (TRL's conversational
///   prompt-completion): as `messages`, the loss on the completion;
/// - `{"prompt": ..., "completion": ...}`: the prompt's tokens then the completion's (then the
///   end-of-sequence token); the loss on the completion;
/// - `{"input_ids": [...], "labels": [...]}`: pre-tokenized, labels aligned with the ids, `-100`
///   not supervised (needs no tokenizer).
///
/// Other keys on a line are ignored (so files carrying `question`, `person`, ... are read as
/// they are). Over `max_len` tokens the prompt is cut from the left; an example whose
/// supervised tokens alone exceed `max_len` is skipped and counted. A malformed line, an
/// unknown role, a text example without a [`Formatter`], or an example with no supervised
/// token is an error naming the file and line.
pub fn read_examples(
    path: &Path,
    formatter: Option<&Formatter<'_>>,
    max_len: usize,
) -> Result<LoadedExamples> {
    let text = indievalue_files::read_to_string(path)?;
    let mut out = LoadedExamples::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |message: String| Error::Example {
            path: path.to_owned(),
            line: i + 1,
            message,
        };
        let parsed: Line = serde_json::from_str(line).map_err(|e| {
            at(format!(
                "not an example ({e}): expected messages, prompt/completion or input_ids/labels"
            ))
        })?;
        // Conversational prompt-completion (TRL's): the completion's turns are the assistant's.
        let parsed = match parsed {
            Line::ChatPromptCompletion {
                mut prompt,
                completion,
            } => {
                if completion.iter().any(|m| m.role != "assistant") {
                    return Err(at("completion turns must be the assistant's".into()));
                }
                prompt.extend(completion);
                Line::Messages { messages: prompt }
            }
            other => other,
        };
        let example = match parsed {
            Line::Tokenized { input_ids, labels } => {
                if input_ids.len() != labels.len() {
                    return Err(at(format!(
                        "{} input_ids but {} labels",
                        input_ids.len(),
                        labels.len()
                    )));
                }
                SupervisedExample { input_ids, labels }
            }
            Line::PromptCompletion { prompt, completion } => {
                let f = formatter.ok_or_else(|| at("text examples need a tokenizer".into()))?;
                prompt_completion(f, &prompt, &completion).map_err(|e| at(e.to_string()))?
            }
            Line::ChatPromptCompletion { .. } => {
                return Err(at("conversational prompt-completion not converted".into()));
            }
            Line::Messages { messages } => {
                let f = formatter.ok_or_else(|| at("text examples need a tokenizer".into()))?;
                let messages = messages
                    .into_iter()
                    .map(|m| match m.role.as_str() {
                        "system" | "user" | "assistant" => Ok(ChatMessage::new(m.role, m.content)),
                        other => Err(at(format!(
                            "unknown role {other:?} (system, user or assistant)"
                        ))),
                    })
                    .collect::<Result<Vec<_>>>()?;
                conversation(f, &messages).map_err(|e| match e {
                    Error::Example { message, .. } => at(message),
                    other => at(other.to_string()),
                })?
            }
        };
        if example.supervised() == 0 {
            return Err(at("no supervised token".into()));
        }
        match example.truncate_left(max_len) {
            Some(e) => out.examples.push(e),
            None => out.skipped_too_long += 1,
        }
    }
    Ok(out)
}

fn encode(f: &Formatter<'_>, text: &str) -> Result<Vec<u32>> {
    Ok(f.tokenizer.encode(text)?)
}

/// A prompt and its completion (supervised, with the end-of-sequence token when there is one).
pub fn prompt_completion(
    f: &Formatter<'_>,
    prompt: &str,
    completion: &str,
) -> Result<SupervisedExample> {
    let mut input_ids = encode(f, prompt)?;
    let mut labels = vec![IGNORE_INDEX; input_ids.len()];
    let mut tail = encode(f, completion)?;
    tail.extend(f.eos);
    labels.extend(tail.iter().map(|&t| i64::from(t)));
    input_ids.extend(tail);
    Ok(SupervisedExample { input_ids, labels })
}

/// A conversation rendered with the chat template, supervised on the assistant turns: each
/// assistant turn's text is what rendering the conversation up to it adds after rendering the
/// turns before it with the generation prompt. The pieces are tokenized one by one and must
/// give the tokens of the whole rendered conversation (true where turns meet at special
/// tokens, as in Llama 3's and ChatML templates); otherwise this is an error.
pub fn conversation(f: &Formatter<'_>, messages: &[ChatMessage]) -> Result<SupervisedExample> {
    let bad = |message: String| Error::Example {
        path: Default::default(),
        line: 0,
        message,
    };
    let mut pieces: Vec<(String, bool)> = Vec::new();
    let mut done = String::new();
    for (i, m) in messages.iter().enumerate() {
        if m.role != "assistant" {
            continue;
        }
        let before = f.chat_template.render(&messages[..i], true)?;
        let with = f.chat_template.render(&messages[..=i], false)?;
        let (Some(head), Some(answer)) = (
            before.strip_prefix(done.as_str()),
            with.strip_prefix(before.as_str()),
        ) else {
            return Err(bad(
                "the chat template does not render a conversation as a growing prefix".into(),
            ));
        };
        pieces.push((head.to_owned(), false));
        pieces.push((answer.to_owned(), true));
        done = with;
    }
    if pieces.is_empty() {
        return Err(bad("no assistant turn".into()));
    }
    let whole = f.chat_template.render(messages, false)?;
    if let Some(rest) = whole.strip_prefix(done.as_str())
        && !rest.is_empty()
    {
        pieces.push((rest.to_owned(), false));
    }
    let (mut input_ids, mut labels) = (Vec::new(), Vec::new());
    for (text, supervised) in &pieces {
        let ids = encode(f, text)?;
        labels.extend(ids.iter().map(|&t| {
            if *supervised {
                i64::from(t)
            } else {
                IGNORE_INDEX
            }
        }));
        input_ids.extend(ids);
    }
    if encode(f, &whole)? != input_ids {
        return Err(bad(
            "the tokenizer does not split the conversation where its turns meet".into(),
        ));
    }
    Ok(SupervisedExample { input_ids, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(ids: &[u32], labels: &[i64]) -> SupervisedExample {
        SupervisedExample {
            input_ids: ids.to_vec(),
            labels: labels.to_vec(),
        }
    }

    #[test]
    fn truncation_keeps_the_supervised_tail_and_its_predecessor() {
        let e = ex(&[1, 2, 3, 4, 5, 6], &[-100, -100, -100, 4, 5, 6]);
        assert_eq!(e.supervised(), 3);
        let cut = e.clone().truncate_left(4).unwrap();
        assert_eq!(cut.input_ids, vec![3, 4, 5, 6]);
        assert_eq!(cut.labels, vec![-100, 4, 5, 6]);
        assert!(
            e.clone().truncate_left(3).is_none(),
            "3 is the predecessor of the first target"
        );
        assert_eq!(e.clone().truncate_left(10).unwrap(), e);
    }
}
