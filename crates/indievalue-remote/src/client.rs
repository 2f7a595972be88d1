//! The HTTP side: one client per endpoint, with bounded concurrency, retries, a response cache,
//! budgets and accounting.

use crate::cache::ResponseCache;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
    /// Per-request timeout, whole exchange (default 120 s).
    pub timeout: Duration,
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
            max_attempts: 6,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(60),
            max_requests: None,
            max_tokens_total: None,
            prices: None,
        }
    }
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
/// unparseable bodies, timeouts) are retried with exponential backoff and full jitter up to
/// [`ClientSettings::max_attempts`]; 401, 403, 404 and other refusals stop at once.
///
/// The API key is read once from the named environment variable and only ever sent in the
/// `Authorization` header: it is not part of the cache key, any file, or this type's `Debug`.
pub struct Client {
    endpoint: Endpoint,
    settings: ClientSettings,
    agent: ureq::Agent,
    api_key: Option<String>,
    cache: ResponseCache,
    started: AtomicU64,
    tokens: AtomicU64,
    usage: Mutex<Usage>,
    jitter: AtomicUsize,
    refused: Mutex<Option<(u16, String)>>,
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

impl Client {
    /// A client of `endpoint` caching responses in `cache`.
    pub fn new(endpoint: Endpoint, settings: ClientSettings, cache: ResponseCache) -> Client {
        let api_key = std::env::var(&endpoint.api_key_env)
            .ok()
            .filter(|k| !k.is_empty());
        let agent = ureq::AgentBuilder::new()
            .timeout(settings.timeout)
            .max_idle_connections_per_host(settings.concurrency.max(1))
            .build();
        Client {
            endpoint,
            settings,
            agent,
            api_key,
            cache,
            started: AtomicU64::new(0),
            tokens: AtomicU64::new(0),
            usage: Mutex::new(Usage::default()),
            jitter: AtomicUsize::new(0),
            refused: Mutex::new(None),
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
    /// the budgets, with retries), stored in the cache before it is returned.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        let url = self.endpoint.url(path);
        let key = ResponseCache::key(&url, body);
        if let Some(response) = self.cache.get(&key, &url) {
            self.account(|u| u.cache_hits += 1);
            return Ok(response);
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
        let text = body.to_string();
        let mut last = String::new();
        for attempt in 0..self.settings.max_attempts.max(1) {
            match self.attempt(&url, &text) {
                Ok(response) => {
                    self.cache.put(&key, &url, &response)?;
                    self.count(&response);
                    return Ok(response);
                }
                Err(Failure::Fatal(e)) => {
                    if let (
                        Error::Refused {
                            status, message, ..
                        },
                        Ok(mut refused),
                    ) = (&e, self.refused.lock())
                    {
                        *refused = Some((*status, message.clone()));
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

    /// One HTTP exchange.
    fn attempt(&self, url: &str, body: &str) -> std::result::Result<serde_json::Value, Failure> {
        let mut request = self.agent.post(url).set("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.set("Authorization", &format!("Bearer {key}"));
        }
        match request.send_string(body) {
            Ok(response) => {
                let text = response.into_string().map_err(|e| Failure::Retry {
                    why: format!("reading the answer: {e}"),
                    after: None,
                })?;
                serde_json::from_str(&text).map_err(|e| Failure::Retry {
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
            Err(ureq::Error::Transport(e)) => Err(Failure::Retry {
                why: e.to_string(),
                after: None,
            }),
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
