//! Chat templates: a model's own Jinja template, or the Llama 3.1 header format.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with any role.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        ChatMessage {
            role: role.into(),
            content: content.into(),
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// The Llama 3.1 header format, used when a model ships no template: `<|begin_of_text|>`, then
/// per message `<|start_header_id|>ROLE<|end_header_id|>\n\nCONTENT<|eot_id|>` (content trimmed,
/// as Llama 3.1's own template does), then the assistant header when a reply is to be generated.
/// Llama 3.1's own template also writes a "Cutting Knowledge Date" system header; this plain
/// format does not.
const LLAMA3_FALLBACK: &str = "{{ bos_token }}{% for message in messages %}\
<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>\
{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";

/// A compiled chat template, rendered the way `transformers` renders `apply_chat_template`
/// (Jinja with `trim_blocks` and `lstrip_blocks`, loop controls, `raise_exception`,
/// `strftime_now`, Python string methods). Known difference: minijinja's `tojson` escapes
/// `<`, `>`, `&` and `'` where Python's `json.dumps` does not. `strftime_now` always formats the
/// fixed date 26 July 2024 (`%d %m %Y %y %b %B` understood), so prompts are reproducible.
pub struct ChatTemplate {
    env: minijinja::Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles a template with the model's special tokens.
    pub fn new(
        template: &str,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<ChatTemplate> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    message,
                ))
            },
        );
        // Templates print today's date with it; a fixed date keeps prompts reproducible.
        env.add_function("strftime_now", |format: String| fixed_date(&format));
        env.add_template_owned("chat", template.to_owned())
            .map_err(|e| Error::Template(e.to_string()))?;
        Ok(ChatTemplate {
            env,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
        })
    }

    /// The Llama 3.1 header format (for models without a template of their own).
    pub fn llama3_fallback() -> ChatTemplate {
        // The fallback is a fixed, valid template.
        match Self::new(LLAMA3_FALLBACK, "<|begin_of_text|>", "<|eot_id|>") {
            Ok(t) => t,
            Err(e) => unreachable!("the built-in template compiles: {e}"),
        }
    }

    /// Renders a conversation; with `add_generation_prompt` the text ends where the assistant's
    /// reply begins.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| Error::Template(e.to_string()))?;
        template
            .render(minijinja::context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|e| Error::Template(e.to_string()))
    }
}

/// Formats the fixed date 26 July 2024 with a strftime-style format (`%d %m %Y %y %b %B %%`).
fn fixed_date(format: &str) -> String {
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("26"),
            Some('m') => out.push_str("07"),
            Some('Y') => out.push_str("2024"),
            Some('y') => out.push_str("24"),
            Some('b') => out.push_str("Jul"),
            Some('B') => out.push_str("July"),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fixed_date_formats() {
        assert_eq!(super::fixed_date("%d %b %Y"), "26 Jul 2024");
        assert_eq!(
            super::fixed_date("%Y-%m-%d (%B, 100%%)"),
            "2024-07-26 (July, 100%)"
        );
    }
}
