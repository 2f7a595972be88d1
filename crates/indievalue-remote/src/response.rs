//! Tolerant reading of OpenAI-compatible answers: every field optional, both log-probability
//! shapes (OpenAI's chat `content` list, and the legacy completions arrays vLLM and SGLang return
//! for `echo`), llama.cpp's probability variant.

use serde_json::Value;

/// One generated token with its log-probability and the alternatives the server listed.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its log-probability.
    pub logprob: f64,
    /// The listed alternatives at this position (text, log-probability), the token itself
    /// usually among them.
    pub top: Vec<(String, f64)>,
}

/// The text of the first choice's message (`choices[0].message.content`; a completions
/// answer's `choices[0].text`); `None` when the server sent none (e.g. `null`).
pub fn message_content(response: &Value) -> Option<String> {
    let choice = response.get("choices")?.get(0)?;
    choice
        .get("message")
        .and_then(|m| m.get("content"))
        .or_else(|| choice.get("text"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `usage.prompt_tokens` and `usage.completion_tokens` (0 where absent).
pub fn token_usage(response: &Value) -> (usize, usize) {
    let field = |name: &str| {
        response
            .get("usage")
            .and_then(|u| u.get(name))
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize
    };
    (field("prompt_tokens"), field("completion_tokens"))
}

/// A log-probability from an entry: `logprob`, or `prob` (llama.cpp's `post_sampling_probs`).
fn entry_logprob(entry: &Value) -> Option<f64> {
    entry
        .get("logprob")
        .and_then(Value::as_f64)
        .or_else(|| entry.get("prob").and_then(Value::as_f64).map(f64::ln))
}

/// The token's text: `token`, else the UTF-8 of `bytes`.
fn entry_token(entry: &Value) -> Option<String> {
    if let Some(t) = entry.get("token").and_then(Value::as_str) {
        return Some(t.to_owned());
    }
    let bytes: Vec<u8> = entry
        .get("bytes")?
        .as_array()?
        .iter()
        .map(|b| b.as_u64().map(|b| b as u8))
        .collect::<Option<_>>()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The generated tokens' log-probabilities of the first choice, in the chat shape
/// (`choices[0].logprobs.content[i] = {token, logprob, top_logprobs: [{token, logprob}]}`, or
/// llama.cpp's `prob` / `top_probs`); entries without a token or a log-probability are skipped.
/// Empty when the server sent none.
pub fn chat_logprobs(response: &Value) -> Vec<TokenLogprob> {
    let Some(content) = response
        .get("choices")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("logprobs"))
        .and_then(|l| l.get("content"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    content
        .iter()
        .filter_map(|entry| {
            let token = entry_token(entry)?;
            let logprob = entry_logprob(entry)?;
            let top = entry
                .get("top_logprobs")
                .or_else(|| entry.get("top_probs"))
                .and_then(Value::as_array)
                .map(|list| {
                    list.iter()
                        .filter_map(|t| Some((entry_token(t)?, entry_logprob(t)?)))
                        .collect()
                })
                .unwrap_or_default();
            Some(TokenLogprob {
                token,
                logprob,
                top,
            })
        })
        .collect()
}

/// The prompt's tokens as a completions answer with `echo` and `logprobs` gives them (vLLM,
/// SGLang): `choices[0].logprobs = {tokens, token_logprobs, text_offset}`, the first token's
/// log-probability `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptLogprobs {
    /// Token texts, prompt then any generated.
    pub tokens: Vec<String>,
    /// Their log-probabilities (`None` for the first, and wherever the server sent none).
    pub logprobs: Vec<Option<f64>>,
    /// Character offset of each token in the echoed text.
    pub offsets: Vec<usize>,
}

impl PromptLogprobs {
    /// The arrays of a completions answer, if it has them (all three, of equal length). A
    /// llama.cpp answer (chat-shaped log-probabilities of the generated token only) has none.
    pub fn of(response: &Value) -> Option<PromptLogprobs> {
        let lp = response.get("choices")?.get(0)?.get("logprobs")?;
        let tokens: Vec<String> = lp
            .get("tokens")?
            .as_array()?
            .iter()
            .map(|t| t.as_str().map(str::to_owned))
            .collect::<Option<_>>()?;
        let logprobs: Vec<Option<f64>> = lp
            .get("token_logprobs")?
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect();
        let offsets: Vec<usize> = lp
            .get("text_offset")?
            .as_array()?
            .iter()
            .map(|o| o.as_u64().map(|o| o as usize))
            .collect::<Option<_>>()?;
        (tokens.len() == logprobs.len() && tokens.len() == offsets.len()).then_some(
            PromptLogprobs {
                tokens,
                logprobs,
                offsets,
            },
        )
    }

    /// The summed log-probability of the tokens overlapping characters `start..end` of the
    /// echoed text; `Err` naming the token when one of them has no log-probability (never
    /// scored as zero).
    pub fn span(&self, start: usize, end: usize) -> Result<f64, String> {
        let mut sum = 0.0;
        let mut any = false;
        for ((token, lp), &offset) in self.tokens.iter().zip(&self.logprobs).zip(&self.offsets) {
            let token_end = offset + token.chars().count().max(1);
            if token_end <= start || offset >= end {
                continue;
            }
            any = true;
            match lp {
                Some(lp) => sum += lp,
                None => {
                    return Err(format!(
                        "no log-probability for the token {token:?} at character {offset}"
                    ));
                }
            }
        }
        if any {
            Ok(sum)
        } else {
            Err(format!("no token covers characters {start}..{end}"))
        }
    }
}
