//! The remote-model flags shared by the examples that probe (`--backend openai`): one
//! definition of the endpoint, concurrency, timeouts, budgets, cache and prices, and one way to build the
//! client and predictor from them.

use anyhow::Context;
use indievalue::catalog::Catalog;
use indievalue::llm::ChatTemplate;
use indievalue::probe::{ProbeMode, TaskPredictor};
use indievalue::remote::{
    Client, ClientSettings, Endpoint, Prefill, Prices, RemoteGenerative, RemoteScoring,
    RemoteScoringSettings, ResponseCache, Usage, chat_template_named, default_cache_dir,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which model answers.
#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum Backend {
    /// A model this process loads (`--model` is a file, directory or hub id).
    Local,
    /// A model served behind an OpenAI-compatible API (`--model` is its served name).
    Openai,
}

/// Flags of a model served behind an OpenAI-compatible API.
#[derive(clap::Args, Debug, Clone)]
pub struct RemoteArgs {
    /// Backend: local (load the model here) or openai (an OpenAI-compatible server).
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Base URL including /v1, as OpenAI's clients take it (e.g. https://api.openai.com/v1,
    /// http://127.0.0.1:8000/v1).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Environment variable holding the API key (unset: no key sent). The key is never logged
    /// or written.
    #[arg(long, default_value = "OPENAI_API_KEY")]
    pub api_key_env: String,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Stop cleanly after this many requests sent (cache hits are free); rerun to continue.
    #[arg(long)]
    pub max_requests: Option<u64>,
    /// Stop cleanly once this many prompt + completion tokens are spent; rerun to continue.
    #[arg(long)]
    pub max_tokens_total: Option<u64>,
    /// Response cache (outside --out; default ~/.cache/indievalue/responses, or
    /// $XDG_CACHE_HOME/indievalue/responses).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Silence timeout in seconds: the longest wait for the next piece of a streamed generation
    /// (so a long answer arriving steadily is never cut), and for a whole plain request
    /// (scoring, capability probes). Retried when it passes.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// Whole-request timeout in seconds for a generation (streamed, or plain where the server
    /// does not stream); not retried when it passes.
    #[arg(long, default_value_t = 1800.0)]
    pub request_timeout: f64,
    /// Attempts per request (429, 5xx, dropped connections and timeouts are retried).
    #[arg(long, default_value_t = 6)]
    pub max_attempts: u32,
    /// Price per million prompt tokens (for the cost figure).
    #[arg(long, requires = "price_completion")]
    pub price_prompt: Option<f64>,
    /// Price per million completion tokens.
    #[arg(long, requires = "price_prompt")]
    pub price_completion: Option<f64>,
    /// Label scoring: alternatives asked per position (OpenAI and vLLM allow 20).
    #[arg(long, default_value_t = 20)]
    pub top_logprobs: usize,
    /// Label scoring: how the assistant turn starts: message (a final `Option` message, which
    /// llama.cpp's server continues), vllm (plus continue_final_message) or none (OpenAI).
    #[arg(long, default_value = "message")]
    pub prefill: Prefill,
    /// Statement / answer scoring: the served model's chat template, a tokenizer_config.json
    /// (or `llama3` for the Llama 3.1 format).
    #[arg(long)]
    pub chat_template: Option<String>,
}

impl RemoteArgs {
    /// Whether the remote backend is chosen.
    #[allow(dead_code)]
    pub fn remote(&self) -> bool {
        self.backend == Backend::Openai
    }

    /// The response cache directory.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(default_cache_dir)
    }

    /// The client of `model` at `--base-url`.
    pub fn client(&self, model: &str) -> anyhow::Result<Client> {
        let base_url =
            self.base_url.clone().context("--backend openai needs --base-url (including /v1)")?;
        let endpoint =
            Endpoint { base_url, model: model.to_owned(), api_key_env: self.api_key_env.clone() };
        let settings = ClientSettings {
            concurrency: self.concurrency.max(1),
            timeout: Duration::from_secs_f64(self.timeout),
            request_timeout: Duration::from_secs_f64(self.request_timeout),
            max_attempts: self.max_attempts,
            max_requests: self.max_requests,
            max_tokens_total: self.max_tokens_total,
            prices: self
                .price_prompt
                .zip(self.price_completion)
                .map(|(prompt, completion)| Prices { prompt, completion }),
            ..ClientSettings::default()
        };
        Ok(Client::new(endpoint, settings, ResponseCache::new(self.cache_dir())))
    }

    /// The predictor of `mode` on the served model (scoring asks the server first whether it
    /// can serve the target) and the parameters that determine its results.
    pub fn predictor<'a>(
        &self,
        client: &'a Client,
        catalog: &'a Catalog,
        mode: &ProbeMode,
    ) -> anyhow::Result<(Box<dyn TaskPredictor + 'a>, serde_json::Value)> {
        let mut params = serde_json::json!({
            "backend": "openai",
            "base_url": client.endpoint().base_url,
            "model": client.endpoint().model,
            "mode": mode,
        });
        let predictor: Box<dyn TaskPredictor + 'a> = match mode {
            ProbeMode::Generate(settings) => {
                Box::new(RemoteGenerative::new(client, catalog, settings.clone()))
            }
            ProbeMode::Score(target) => {
                let settings = RemoteScoringSettings {
                    target: *target,
                    top_logprobs: self.top_logprobs,
                    prefill: self.prefill,
                };
                let template = self.template()?;
                params["scoring"] = serde_json::to_value(&settings)?;
                params["chat_template"] = self.chat_template.clone().into();
                Box::new(RemoteScoring::new(client, catalog, settings, template)?)
            }
        };
        Ok((predictor, params))
    }

    fn template(&self) -> anyhow::Result<Option<ChatTemplate>> {
        Ok(self.chat_template.as_deref().map(chat_template_named).transpose()?)
    }
}

/// One line of the progress bar: requests, requests per second, tokens, cost, retries.
pub fn progress(usage: &Usage, seconds: f64) -> String {
    let cost = usage.cost.map_or(String::new(), |c| format!(", cost {c:.4}"));
    format!(
        "{} requests ({:.1}/s), {} cached, {} retried, {} + {} tokens{cost}",
        usage.requests,
        usage.requests as f64 / seconds.max(1e-9),
        usage.cache_hits,
        usage.retries,
        usage.prompt_tokens,
        usage.completion_tokens
    )
}

/// Appends this invocation's accounting to `OUT/remote-usage.jsonl` (one line a run: requests,
/// cache hits, retries, tokens, cost, seconds; never the API key).
pub fn record_usage(out: &Path, usage: &Usage, seconds: f64) -> anyhow::Result<()> {
    let line = serde_json::json!({ "usage": usage, "seconds": seconds });
    let file = indievalue::files::JsonLines::new(out.join("remote-usage.jsonl"));
    if file.exists() {
        file.recover()?;
    } else {
        indievalue::files::create_dir_all(out)?;
        file.create_empty()?;
    }
    file.append(&[line])?;
    Ok(())
}
