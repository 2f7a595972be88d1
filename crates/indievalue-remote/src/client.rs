//! The HTTP side: one client per endpoint, with bounded concurrency, retries, a response cache,
//! budgets and accounting.

use crate::cache::ResponseCache;
use crate::sse::{ChatAssembler, StreamStop, read_events};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the model is served: the base URL including `/v1` (as OpenAI's own clients take it),
/// the model name, and the environment variable holding the API key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Base URL including the version path, e.g. `https://api.openai.com/v1` or
    /// `http://127.0.0.1:8000/v1`.
    pub base_url: String,
    /// The served model's name.
    pub model: String,
    /// The environment variable the API key is read from (default `OPENAI_API_KEY`; unset means
    /// no `Authorization` header, as local servers need none). The key itself is never stored.
    pub api_key_env: String,
}

impl Endpoint {
    /// An endpoint reading its key from `OPENAI_API_KEY`.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Endpoint {
        Endpoint {
            base_url: base_url.into(),
            model: model.into(),
            api_key_env: "OPENAI_API_KEY".into(),
        }
    }

    /// The full URL of `path` (e.g. `chat/completions`).
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url.trim_end_matches('/'), path)
    }
}

/// Prices in currency units per million tokens, for the run's cost figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Per million prompt tokens.
    pub prompt: f64,
    /// Per million completion tokens.
    pub completion: f64,
}

/// How the client talks to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSettings {
    /// Requests in flight at once (default 4).
    pub concurrency: usize,
    /// The silence timeout (default 120 s): the longest wait for the next piece of a streamed
    /// answer (and for its first), so a long answer arriving steadily is never cut; for a plain
    /// request (scoring, capability probes) the whole exchange.
    pub timeout: Duration,
    /// The whole-request timeout (default 1,800 s): the longest a streamed generation, or a
    /// generation from a server that does not stream, may take from start to end. Running past
    /// it ends the request without a retry ([`Error::RequestTimeout`]).
    pub request_timeout: Duration,
    /// Attempts per request before giving up (default 6).
    pub max_attempts: u32,
    /// First backoff wait (default 0.5 s); doubled per failed attempt, with full jitter.
    pub backoff_base: Duration,
    /// Longest backoff wait, and longest `Retry-After` honoured (default 60 s).
    pub backoff_max: Duration,
    /// Most requests this client may send (cache hits are free); `None`: no limit.
    pub max_requests: Option<u64>,
    /// Most prompt + completion tokens this client may spend; `None`: no limit.
    pub max_tokens_total: Option<u64>,
    /// Prices, for the cost in [`Usage`].
    pub prices: Option<Prices>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            concurrency: 4,
            timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(1800),
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            max_requests: None,
            max_tokens_total: None,
            prices: None,
        }
    }
}

/// How generations travel to this client, as the capability probe found
/// ([`Client::streaming`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Streaming {
    /// Streamed, asking for the usage chunk (`stream_options: {"include_usage": true}`).
    WithUsage,
    /// Streamed without `stream_options`, which the server refused (usage counted where the
    /// server sends it anyway).
    WithoutUsage,
    /// Not streamed: the server refuses `stream: true`; plain requests, bounded by
    /// [`ClientSettings::request_timeout`].
    Plain,
}

/// What a client has done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Requests answered by the server (retries of one request count once).
    pub requests: u64,
    /// HTTP attempts that failed and were retried (429, 5xx, dropped or cut-off answers,
    /// timeouts).
    pub retries: u64,
    /// Requests answered from the cache, sending nothing.
    pub cache_hits: u64,
    /// Prompt tokens the server reported.
    pub prompt_tokens: u64,
    /// Completion tokens the server reported.
    pub completion_tokens: u64,
    /// Cost at the given prices, if any.
    pub cost: Option<f64>,
}

/// A client of one OpenAI-compatible endpoint. Every response it gets is cached on disk first
/// (so a rerun, a resumed run or another run asking the same never sends it again); failures that
/// a retry can cure (429 with or without `Retry-After`, 408, 5xx, dropped connections, cut-off or
/// unparseable bodies, streams that fall silent or break off, timeouts) are retried with
/// exponential backoff and full jitter up to [`ClientSettings::max_attempts`]; 401, 403, 404 and
/// other refusals stop at once.
///
/// Generations ([`Client::chat_streamed`]) are streamed where the server streams, so the
/// silence timeout bounds the wait for each piece rather than the answer's length; an abandoned
/// attempt's connection is closed before the retry is sent (servers stop generating for a closed
/// connection), and the assembled answer is cached as a plain request's would be.
///
/// The API key is read once from the named environment variable and only ever sent in the
/// `Authorization` header: it is not part of the cache key, any file, or this type's `Debug`.
pub struct Client {
    endpoint: Endpoint,
    settings: ClientSettings,
    agent: ureq::Agent,
    stream_agent: ureq::Agent,
    api_key: Option<String>,
    cache: ResponseCache,
    started: AtomicU64,
    tokens: AtomicU64,
    usage: Mutex<Usage>,
    jitter: AtomicUsize,
    refused: Mutex<Option<(u16, String)>>,
    streaming: Mutex<Option<Streaming>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("settings", &self.settings)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("cache", &self.cache)
            .finish()
    }
}

/// How one attempt ended when it did not succeed.
enum Failure {
    /// Retry, after the server's `Retry-After` if it gave one.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// Stop.
    Fatal(Error),
}

/// How a request travels.
#[derive(Debug, Clone, Copy)]
enum Exchange {
    /// One answer, read whole within `timeout`; `whole`: running past it is the whole-request
    /// timeout (not retried) rather than a retried one.
    Plain { timeout: Duration, whole: bool },
    /// `stream: true` (and `stream_options.include_usage` with `usage`), read as server-sent
    /// events.
    Streamed { usage: bool },
}

/// The chat endpoint's path.
const CHAT: &str = "chat/completions";

impl Client {
    /// A client of `endpoint` caching responses in `cache`.
    pub fn new(endpoint: Endpoint, settings: ClientSettings, cache: ResponseCache) -> Client {
        let api_key = std::env::var(&endpoint.api_key_env)
            .ok()
            .filter(|k| !k.is_empty());
        // Plain requests: each bounded as a whole (a per-request deadline), connections pooled.
        let agent = ureq::AgentBuilder::new()
            .max_idle_connections_per_host(settings.concurrency.max(1))
            .build();
        // Streamed requests: every socket read bounded by the silence timeout and no deadline
        // (ureq lets a deadline override the read timeout). No connection is kept idle: ureq 2
        // clears a pooled connection's read timeout (a reused one could wait for headers
        // forever), and a response dropped before its end must close its connection, never
        // return it to a pool.
        let stream_agent = ureq::AgentBuilder::new()
            .timeout_read(settings.timeout)
            .timeout_write(settings.timeout)
            .max_idle_connections(0)
            .build();
        Client {
            endpoint,
            settings,
            agent,
            stream_agent,
            api_key,
            cache,
            started: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            usage: Mutex::new(Usage::default()),
            jitter: AtomicUsize::new(0),
            refused: Mutex::new(None),
            streaming: Mutex::new(None),
        }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The settings.
    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The response cache.
    pub fn cache(&self) -> &ResponseCache {
        &self.cache
    }

    /// What this client has done so far.
    pub fn usage(&self) -> Usage {
        self.usage.lock().map(|u| u.clone()).unwrap_or_default()
    }

    fn account(&self, f: impl FnOnce(&mut Usage)) {
        if let Ok(mut u) = self.usage.lock() {
            f(&mut u);
        }
    }

    /// POSTs `body` to `path` (e.g. `chat/completions`) and returns the parsed JSON answer: from
    /// the cache if this exact request was answered before, otherwise from the server (within
    /// the budgets, with retries, the whole exchange bounded by [`ClientSettings::timeout`]),
    /// stored in the cache before it is returned.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        let plain = Exchange::Plain {
            timeout: self.settings.timeout,
            whole: false,
        };
        Ok(self.send(path, body, plain, true)?.0)
    }

    /// POSTs the chat request `body` (no `stream` field) to `chat/completions` for a
    /// generation of any length: streamed where the server streams ([`Client::streaming`]), so
    /// [`ClientSettings::timeout`] bounds the silence between pieces and
    /// [`ClientSettings::request_timeout`] the whole request; plain otherwise, bounded by the
    /// whole-request timeout. The answer is the assembled `chat.completion` (content,
    /// `finish_reason`, usage), cached under the key of `body` itself, the key a plain request
    /// has: a streamed and a plain request for the same body are the same answer, and a replay
    /// from the cache is the same bytes either way.
    pub fn chat_streamed(&self, body: &serde_json::Value) -> Result<serde_json::Value> {
        let url = self.endpoint.url(CHAT);
        if let Some(response) = self.cache.get(&ResponseCache::key(&url, body), &url) {
            self.account(|u| u.cache_hits += 1);
            return Ok(response);
        }
        let exchange = match self.streaming()? {
            Streaming::WithUsage => Exchange::Streamed { usage: true },
            Streaming::WithoutUsage => Exchange::Streamed { usage: false },
            Streaming::Plain => Exchange::Plain {
                timeout: self.settings.request_timeout,
                whole: true,
            },
        };
        Ok(self.send(CHAT, body, exchange, true)?.0)
    }

    /// How this server takes generations: found once per endpoint by a one-token capability
    /// probe (streamed with `stream_options`; if refused with 400, 415, 422 or 501, streamed
    /// without; if refused again, plain; a server that answers a streamed request with a plain
    /// answer, plain) and remembered in the response cache, so later runs do not ask again. A
    /// probe that fails otherwise (another refusal, a spent budget, a server that is down) is
    /// an error and remembers nothing.
    pub fn streaming(&self) -> Result<Streaming> {
        let mut known = self
            .streaming
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = *known {
            return Ok(found);
        }
        let url = self.endpoint.url(CHAT);
        // No request has this body (it has no messages): the key names the finding.
        let record = ResponseCache::key(
            &url,
            &serde_json::json!({ "capability": "streaming", "model": self.endpoint.model }),
        );
        let remembered = self
            .cache
            .get(&record, &url)
            .and_then(|v| serde_json::from_value(v.get("streaming")?.clone()).ok());
        if let Some(found) = remembered {
            *known = Some(found);
            return Ok(found);
        }
        let body = serde_json::json!({
            "model": self.endpoint.model,
            "messages": [{ "role": "user", "content": "Say OK." }],
            "max_tokens": 1,
            "temperature": 0.0,
        });
        let streamed = |usage| match self.send(CHAT, &body, Exchange::Streamed { usage }, false) {
            Ok((_, true)) => Ok(Some(true)),
            // Answered with a plain answer: the server ignores `stream`.
            Ok((_, false)) => Ok(Some(false)),
            // How servers refuse a field they do not take.
            Err(Error::Refused {
                status: 400 | 415 | 422 | 501,
                ..
            }) => Ok(None),
            // Any other refusal (a wrong key, model or URL) is no answer about streaming: it
            // stops the run as a plain request's would.
            Err(e) => {
                self.remember_refusal(&e);
                Err(e)
            }
        };
        let found = match streamed(true)? {
            Some(true) => Streaming::WithUsage,
            Some(false) => Streaming::Plain,
            None => match streamed(false)? {
                Some(true) => Streaming::WithoutUsage,
                Some(false) => Streaming::Plain,
                None => {
                    // Refused twice: a plain request tells a server that does not stream from
                    // one that refuses everything (a wrong key or model), whose refusal stops.
                    self.post(CHAT, &body)?;
                    Streaming::Plain
                }
            },
        };
        self.cache
            .put(&record, &url, &serde_json::json!({ "streaming": found }))?;
        *known = Some(found);
        Ok(found)
    }

    /// Sends `body` to `path` as `exchange` says, with the budgets and retries, and stores the
    /// answer in the cache; with `cached`, answers from the cache when it can and remembers a
    /// refusal (which stops every later request); without (the capability probe's trials,
    /// which must reach the server and may be refused), neither. Returns the answer and
    /// whether it arrived streamed.
    fn send(
        &self,
        path: &str,
        body: &serde_json::Value,
        exchange: Exchange,
        cached: bool,
    ) -> Result<(serde_json::Value, bool)> {
        let url = self.endpoint.url(path);
        let key = ResponseCache::key(&url, body);
        if cached && let Some(response) = self.cache.get(&key, &url) {
            self.account(|u| u.cache_hits += 1);
            return Ok((response, false));
        }
        if let Some((status, message)) = self.refused.lock().ok().and_then(|r| r.clone()) {
            // After a refusal no new request is sent: the run stops.
            return Err(Error::Refused {
                url,
                status,
                message,
            });
        }
        if let Some(max) = self.settings.max_requests
            && self.started.fetch_add(1, Ordering::SeqCst) >= max
        {
            return Err(Error::Budget(format!("{max} requests (--max-requests)")));
        }
        if let Some(max) = self.settings.max_tokens_total
            && self.tokens.load(Ordering::SeqCst) >= max
        {
            return Err(Error::Budget(format!(
                "{max} tokens in all (--max-tokens-total)"
            )));
        }
        let text = match exchange {
            Exchange::Plain { .. } => body.to_string(),
            Exchange::Streamed { usage } => {
                let mut streamed = body.clone();
                streamed["stream"] = serde_json::json!(true);
                if usage {
                    streamed["stream_options"] = serde_json::json!({ "include_usage": true });
                }
                streamed.to_string()
            }
        };
        let mut last = String::new();
        for attempt in 0..self.settings.max_attempts.max(1) {
            // Every attempt's response is dropped before the next starts: a connection it left
            // open (a stream abandoned mid-way) is closed by then, so no retry runs beside it.
            match self.attempt(&url, &text, exchange) {
                Ok((response, streamed)) => {
                    self.cache.put(&key, &url, &response)?;
                    self.count(&response);
                    return Ok((response, streamed));
                }
                Err(Failure::Fatal(e)) => {
                    if cached {
                        self.remember_refusal(&e);
                    }
                    return Err(e);
                }
                Err(Failure::Retry { why, after }) => {
                    last = why;
                    if attempt + 1 == self.settings.max_attempts.max(1) {
                        break;
                    }
                    self.account(|u| u.retries += 1);
                    std::thread::sleep(after.map_or_else(
                        || self.backoff(attempt),
                        |a| a.min(self.settings.backoff_max),
                    ));
                }
            }
        }
        Err(Error::GaveUp {
            url,
            attempts: self.settings.max_attempts.max(1),
            last,
        })
    }

    /// Remembers a refusal, after which no new request is sent.
    fn remember_refusal(&self, e: &Error) {
        if let (
            Error::Refused {
                status, message, ..
            },
            Ok(mut refused),
        ) = (e, self.refused.lock())
        {
            *refused = Some((*status, message.clone()));
        }
    }

    /// Records a response's token usage.
    fn count(&self, response: &serde_json::Value) {
        let usage = response.get("usage");
        let field = |name: &str| {
            usage
                .and_then(|u| u.get(name))
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        let (prompt, completion) = (field("prompt_tokens"), field("completion_tokens"));
        self.tokens.fetch_add(prompt + completion, Ordering::SeqCst);
        let prices = self.settings.prices;
        self.account(|u| {
            u.requests += 1;
            u.prompt_tokens += prompt;
            u.completion_tokens += completion;
            u.cost = prices.map(|p| {
                (u.prompt_tokens as f64 * p.prompt + u.completion_tokens as f64 * p.completion)
                    / 1e6
            });
        });
    }

    /// The wait before attempt `attempt + 1`: full jitter over base x 2^attempt, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let cap = self.settings.backoff_max.as_secs_f64();
        let ceiling =
            (self.settings.backoff_base.as_secs_f64() * 2f64.powi(attempt as i32)).min(cap);
        let n = self.jitter.fetch_add(1, Ordering::Relaxed) as u64;
        let mut rng = indievalue_rng::Rng::derive(n, &[indievalue_rng::label("backoff")]);
        Duration::from_secs_f64(ceiling * (0.5 + 0.5 * rng.unit()))
    }

    /// One HTTP exchange: the answer and whether it arrived streamed. The response (and with
    /// it, the connection of an answer not read to its end) is dropped on return.
    fn attempt(
        &self,
        url: &str,
        body: &str,
        exchange: Exchange,
    ) -> std::result::Result<(serde_json::Value, bool), Failure> {
        let started = Instant::now();
        let mut request = match exchange {
            Exchange::Plain { timeout, .. } => self.agent.post(url).timeout(timeout),
            Exchange::Streamed { .. } => self
                .stream_agent
                .post(url)
                .set("Accept", "text/event-stream"),
        };
        request = request.set("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        let whole_timeout = |exchange| match exchange {
            Exchange::Plain {
                timeout,
                whole: true,
            } if started.elapsed() >= timeout => Some(Failure::Fatal(Error::RequestTimeout {
                url: url.to_owned(),
                seconds: timeout.as_secs_f64(),
            })),
            _ => None,
        };
        match request.send_string(body) {
            Ok(response) => {
                if matches!(exchange, Exchange::Streamed { .. })
                    && response.content_type() == "text/event-stream"
                {
                    return self.read_stream(url, response, started).map(|r| (r, true));
                }
                let text = response.into_string().map_err(|e| {
                    whole_timeout(exchange).unwrap_or_else(|| Failure::Retry {
                        why: format!("reading the answer: {e}"),
                        after: None,
                    })
                })?;
                serde_json::from_str(&text)
                    .map(|r| (r, false))
                    .map_err(|e| Failure::Retry {
                        why: format!("the answer is not JSON ({e}): {}", excerpt(&text)),
                        after: None,
                    })
            }
            Err(ureq::Error::Status(status, response)) => {
                let after = response.header("Retry-After").and_then(|v| {
                    parse_retry_after(v, SystemTime::now().duration_since(UNIX_EPOCH).ok()?)
                });
                let message = response.into_string().unwrap_or_default();
                let retry = matches!(status, 408 | 409 | 425 | 429 | 500..=599)
                    && !message.contains("insufficient_quota");
                if retry {
                    Err(Failure::Retry {
                        why: format!("HTTP {status}: {}", excerpt(&message)),
                        after,
                    })
                } else {
                    Err(Failure::Fatal(Error::Refused {
                        url: url.to_owned(),
                        status,
                        message: excerpt(&message),
                    }))
                }
            }
            Err(ureq::Error::Transport(e)) => {
                Err(whole_timeout(exchange).unwrap_or_else(|| Failure::Retry {
                    why: e.to_string(),
                    after: None,
                }))
            }
        }
    }

    /// Reads a streamed answer to its end and assembles it. Each read waits at most the silence
    /// timeout (the agent's read timeout); the whole-request timeout is checked as each line
    /// arrives. On any return the reader is dropped and, the answer not read to its end, the
    /// connection closed.
    fn read_stream(
        &self,
        url: &str,
        response: ureq::Response,
        started: Instant,
    ) -> std::result::Result<serde_json::Value, Failure> {
        let mut reader = std::io::BufReader::new(response.into_reader());
        let mut assembler = ChatAssembler::default();
        let limit = self.settings.request_timeout;
        let silence = self.settings.timeout.as_secs_f64();
        let read = read_events(&mut reader, &mut assembler, || {
            if started.elapsed() > limit {
                Err(())
            } else {
                Ok(())
            }
        });
        let retry = |why: String| Failure::Retry { why, after: None };
        let events = assembler.events;
        match read {
            Ok(()) if assembler.done || assembler.finished() => Ok(assembler.response()),
            Ok(()) => Err(retry(format!(
                "the stream ended after {events} chunks, before its end ([DONE])"
            ))),
            Err(StreamStop::Read(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                Err(retry(format!(
                    "the stream fell silent for {silence} s (--timeout) after {events} chunks"
                )))
            }
            Err(StreamStop::Read(e)) => Err(retry(format!(
                "the stream broke off after {events} chunks: {e}"
            ))),
            Err(StreamStop::Bad(why)) => Err(retry(why)),
            Err(StreamStop::Check(())) => Err(Failure::Fatal(Error::RequestTimeout {
                url: url.to_owned(),
                seconds: limit.as_secs_f64(),
            })),
        }
    }
}

/// The first 300 characters of a server's message.
fn excerpt(text: &str) -> String {
    let mut s: String = text.chars().take(300).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

/// The wait a `Retry-After` header asks for: integer seconds, or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`) relative to `now` (since the Unix epoch).
///
/// ```
/// use std::time::Duration;
/// use indievalue_remote::parse_retry_after;
/// let now = Duration::from_secs(1_445_412_470); // 2015-10-21 07:27:50 UTC
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: Duration) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days since the epoch of a civil date (proleptic Gregorian).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let at = days * 86_400 + h * 3600 + m * 60 + s;
    let wait = at - now.as_secs() as i64;
    Some(Duration::from_secs(wait.max(0) as u64))
}

/// Runs `f` on every item with at most `workers` at once, results in item order.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let workers = workers.clamp(1, items.len().max(1));
    if workers == 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    if let Ok(mut results) = results.lock() {
                        results[i] = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}
