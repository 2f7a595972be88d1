//! Training sets in the chat formats trainers read: every example's C.1 conversation, one JSON
//! line each, no header line (a header breaks the usual JSON Lines readers); what made the file
//! goes to `FILE.meta.json` beside it.

use crate::{PromptBuilder, Result};
use indievalue_files::JsonLines;
use indievalue_llm::ChatMessage;
use indievalue_sampling::{ProbeTask, TrainingRecord};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// How a training set is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatFormat {
    /// `{"messages": [user, assistant], ...}`: TRL's conversational format, our trainer's.
    Messages,
    /// `{"prompt": [user], "completion": [assistant], ...}`: TRL's conversational
    /// prompt-completion format (completion-only loss without generation markers).
    PromptCompletion,
}

impl std::str::FromStr for ChatFormat {
    type Err = String;

    /// `messages` or `prompt-completion`.
    fn from_str(s: &str) -> Result<ChatFormat, String> {
        match s {
            "messages" => Ok(ChatFormat::Messages),
            "prompt-completion" => Ok(ChatFormat::PromptCompletion),
            other => Err(format!("{other:?}: expected messages or prompt-completion")),
        }
    }
}

/// The file beside a training set recording what made it (`FILE.meta.json`).
pub fn meta_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".meta.json");
    path.with_file_name(name)
}

/// Writes `records` as C.1 conversations in `format` (atomically), then `meta` to
/// [`meta_path`]. Every line also carries `question` (the metadata's id), `person`
/// (`D_INTERVIEW`), `granularity`, `demo_mode`, `options` and `gold` (0-based).
pub fn write_chat_training_set(
    path: &Path,
    prompts: &PromptBuilder<'_>,
    records: &[TrainingRecord],
    format: ChatFormat,
    meta: &serde_json::Value,
) -> Result<()> {
    let mut lines = Vec::with_capacity(records.len());
    for r in records {
        let extra = serde_json::json!({
            "question": r.question,
            "person": r.person,
            "granularity": r.granularity,
            "demo_mode": r.demo_mode,
            "options": r.options,
            "gold": r.gold,
        });
        lines.push((prompts.training_messages(r)?, extra));
    }
    write_conversations(path, &lines, format, meta)
}

/// Writes every probe of `tasks` as a C.1 conversation ([`PromptBuilder::probe_messages`]), in
/// `format`, then `meta` to [`meta_path`]: training examples from any tasks (a consistency
/// set's, say). Every line also carries `question`, `person`, `setup`, `granularity` (of the
/// probe), `options` and `gold`.
pub fn write_task_training_set(
    path: &Path,
    prompts: &PromptBuilder<'_>,
    tasks: &[ProbeTask],
    format: ChatFormat,
    meta: &serde_json::Value,
) -> Result<()> {
    let mut lines = Vec::new();
    for task in tasks {
        for probe in &task.probes {
            let extra = serde_json::json!({
                "question": probe.question,
                "person": task.person,
                "setup": task.setup,
                "granularity": task.probe_granularity,
                "options": probe.options,
                "gold": probe.gold,
            });
            lines.push((prompts.probe_messages(task, probe)?, extra));
        }
    }
    write_conversations(path, &lines, format, meta)
}

/// One line per conversation (`messages`, or `prompt` and `completion`), with the keys of its
/// object beside; then the meta file with the format and the number of examples.
fn write_conversations(
    path: &Path,
    conversations: &[(Vec<ChatMessage>, serde_json::Value)],
    format: ChatFormat,
    meta: &serde_json::Value,
) -> Result<()> {
    let mut lines = Vec::with_capacity(conversations.len());
    for (m, extra) in conversations {
        let mut line = match format {
            ChatFormat::Messages => serde_json::json!({ "messages": m }),
            ChatFormat::PromptCompletion => {
                serde_json::json!({ "prompt": [m[0]], "completion": [m[1]] })
            }
        };
        if let (Some(line), Some(extra)) = (line.as_object_mut(), extra.as_object()) {
            line.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        lines.push(line);
    }
    JsonLines::new(path).write_records(&lines)?;
    let mut meta = meta.clone();
    meta["format"] = serde_json::json!(format);
    meta["examples"] = conversations.len().into();
    Ok(indievalue_files::write_json_atomic(
        &meta_path(path),
        &meta,
    )?)
}
