//! A small OpenAI-compatible server on loopback for tests: a deterministic fake model (label
//! log-probabilities and JSON answers from a hash of the prompt, vLLM-shaped or llama.cpp-shaped
//! prompt log-probabilities), streamed chat answers (server-sent events, `stream_options`
//! honoured, or refused on request) and injectable faults (429 with `Retry-After`, 500, dropped
//! connections, cut-off bodies and streams, slow answers and stalled streams, slow but steady
//! streams, refusals). It keeps connections alive between answers as real servers do, and
//! notices a "twin": a request arriving while an earlier request with the same body (stream
//! fields aside) still holds an open connection. It is not a model: it checks plumbing.

#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answers normally.
    None,
    /// 429 with this `Retry-After` value.
    RateLimited(&'static str),
    /// 500.
    ServerError,
    /// Closes the connection without answering.
    Drop,
    /// Sends the headers and half the body, then closes; a stream: half its pieces, without
    /// the finish or `[DONE]`, then closes.
    Truncate,
    /// Answers after this long (past the client's timeout); a stream: its first piece, then
    /// silence until the client closes the connection or this long has passed (then the rest).
    Slow(Duration),
    /// A stream whose answer comes in `pieces` pieces, one every `every` (a plain answer: after
    /// that long in all).
    Trickle { every: Duration, pieces: usize },
    /// Answers with this status and an error body.
    Status(u16),
}

/// A request being answered: its body (stream fields aside) and its connection.
struct InFlight {
    id: usize,
    body: String,
    connection: TcpStream,
}

/// Shared state of a fake server.
#[derive(Default)]
pub struct State {
    /// Requests received (every attempt).
    pub received: AtomicUsize,
    /// Every request body received, in order of arrival.
    pub bodies: Mutex<Vec<Value>>,
    /// Connections accepted.
    pub connections: AtomicUsize,
    /// Per request body (canonical, stream fields aside), the complete successful answers
    /// delivered.
    pub delivered: Mutex<HashMap<String, usize>>,
    /// Requests that arrived while an earlier request with the same body (stream fields aside)
    /// still held an open connection: an abandoned attempt running beside its retry.
    pub twins: AtomicUsize,
    /// Streams the client closed before their end (seen as the connection closing while the
    /// server waited or wrote).
    pub abandoned: AtomicUsize,
    /// Answers sent as streams.
    pub streamed: AtomicUsize,
    /// Every `Authorization` header seen.
    pub authorizations: Mutex<Vec<String>>,
    /// Whether `/v1/completions` returns prompt log-probabilities for `echo` (vLLM) or not
    /// (llama.cpp).
    pub echo_logprobs: AtomicBool,
    /// Whether `stream: true` is refused with a 400.
    pub refuse_stream: AtomicBool,
    /// Whether `stream_options` is refused with a 400.
    pub refuse_stream_options: AtomicBool,
    in_flight: Mutex<Vec<InFlight>>,
    next_id: AtomicUsize,
}

/// A fake OpenAI-compatible server on 127.0.0.1.
pub struct FakeServer {
    /// Its base URL (with `/v1`).
    pub base_url: String,
    /// Its state.
    pub state: Arc<State>,
}

type FaultPlan = Arc<dyn Fn(usize) -> Fault + Send + Sync>;

impl FakeServer {
    /// Starts a server whose `n`-th request (0-based) meets `faults(n)`.
    pub fn start(faults: impl Fn(usize) -> Fault + Send + Sync + 'static) -> FakeServer {
        Self::start_with(faults, |_| {})
    }

    /// As [`FakeServer::start`], with `setup` run on the state before the first request.
    pub fn start_with(
        faults: impl Fn(usize) -> Fault + Send + Sync + 'static,
        setup: impl FnOnce(&State),
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        state.echo_logprobs.store(true, Ordering::SeqCst);
        setup(&state);
        let plan: FaultPlan = Arc::new(faults);
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (state, plan) = (shared.clone(), plan.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &state, &*plan);
                });
            }
        });
        FakeServer { base_url, state }
    }

    /// Requests received so far.
    pub fn received(&self) -> usize {
        self.state.received.load(Ordering::SeqCst)
    }

    /// The most times one request body was answered completely.
    pub fn most_deliveries(&self) -> usize {
        self.state
            .delivered
            .lock()
            .unwrap()
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// Twins seen so far (see [`State::twins`]).
    pub fn twins(&self) -> usize {
        self.state.twins.load(Ordering::SeqCst)
    }
}

/// Whether the client still holds `connection` open: a peek that neither sees the end of the
/// stream nor fails. (Peeking consumes nothing, so it never disturbs the request's handler.)
fn still_open(connection: &TcpStream) -> bool {
    if connection
        .set_read_timeout(Some(Duration::from_millis(1)))
        .is_err()
    {
        return false;
    }
    match connection.peek(&mut [0u8; 1]) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}

/// One request read from a connection: its path and body; `None` when the client closed it.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    state: &State,
) -> std::io::Result<Option<(String, Value)>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line)? == 0 {
        return Ok(None);
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().unwrap_or(0),
                "authorization" => state
                    .authorizations
                    .lock()
                    .unwrap()
                    .push(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some((
        path,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )))
}

/// Serves the requests of one connection until either side closes it.
fn serve(
    stream: TcpStream,
    state: &State,
    plan: &(dyn Fn(usize) -> Fault + Send + Sync),
) -> std::io::Result<()> {
    state.connections.fetch_add(1, Ordering::SeqCst);
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        stream.set_read_timeout(None)?;
        let Some((path, request)) = read_request(&mut reader, state)? else {
            return Ok(());
        };
        let n = state.received.fetch_add(1, Ordering::SeqCst);
        state.bodies.lock().unwrap().push(request.clone());
        let mut plain = request.clone();
        if let Some(fields) = plain.as_object_mut() {
            fields.remove("stream");
            fields.remove("stream_options");
        }
        let body = plain.to_string();
        let id = state.next_id.fetch_add(1, Ordering::SeqCst);
        {
            let mut in_flight = state.in_flight.lock().unwrap();
            in_flight.retain(|f| still_open(&f.connection));
            if in_flight.iter().any(|f| f.body == body) {
                state.twins.fetch_add(1, Ordering::SeqCst);
            }
            in_flight.push(InFlight {
                id,
                body: body.clone(),
                connection: stream.try_clone()?,
            });
        }
        let fault = plan(n);
        let answered = answer_request(&stream, &path, &request, &body, fault, state);
        state.in_flight.lock().unwrap().retain(|f| f.id != id);
        if !answered? {
            return Ok(());
        }
    }
}

/// Answers one request; `Ok(true)` when the connection stays open for the next.
fn answer_request(
    stream: &TcpStream,
    path: &str,
    request: &Value,
    body: &str,
    fault: Fault,
    state: &State,
) -> std::io::Result<bool> {
    let mut stream = stream;
    let wants_stream = request["stream"] == json!(true);
    let refused = wants_stream
        && (state.refuse_stream.load(Ordering::SeqCst)
            || (request.get("stream_options").is_some()
                && state.refuse_stream_options.load(Ordering::SeqCst)));
    let (status, answer) = match &fault {
        Fault::RateLimited(_) => (429, json!({"error": {"message": "slow down"}}).to_string()),
        Fault::ServerError => (500, json!({"error": {"message": "boom"}}).to_string()),
        Fault::Status(s) => (*s, json!({"error": {"message": "refused"}}).to_string()),
        Fault::Drop => return Ok(false),
        _ if refused => (
            400,
            json!({"error": {"message": "streaming is not supported"}}).to_string(),
        ),
        _ => (200, answer(path, request, state).to_string()),
    };
    if status == 200 && wants_stream {
        let answer: Value = serde_json::from_str(&answer).unwrap();
        return stream_answer(stream, request, &answer, body, fault, state);
    }
    match fault {
        Fault::Slow(d) => std::thread::sleep(d),
        Fault::Trickle { every, pieces } => std::thread::sleep(every * pieces as u32),
        _ => {}
    }
    let keep = status == 200 && fault != Fault::Truncate;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n",
        answer.len(),
        if keep { "keep-alive" } else { "close" }
    );
    if let Fault::RateLimited(after) = fault {
        head.push_str(&format!("Retry-After: {after}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if fault == Fault::Truncate {
        stream.write_all(&answer.as_bytes()[..answer.len() / 2])?;
        return Ok(false);
    }
    stream.write_all(answer.as_bytes())?;
    stream.flush()?;
    if status == 200 && !matches!(fault, Fault::Slow(_)) {
        *state
            .delivered
            .lock()
            .unwrap()
            .entry(body.to_owned())
            .or_default() += 1;
    }
    Ok(keep)
}

/// One server-sent event as one HTTP chunk.
fn write_event(mut stream: &TcpStream, data: &str) -> std::io::Result<()> {
    let event = format!("data: {data}\n\n");
    stream.write_all(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes())?;
    stream.flush()
}

/// A plain chat answer as a stream: a role chunk, the content in pieces, the finish, the usage
/// chunk if `stream_options.include_usage` asked for it, `[DONE]`.
fn stream_answer(
    mut stream: &TcpStream,
    request: &Value,
    answer: &Value,
    body: &str,
    fault: Fault,
    state: &State,
) -> std::io::Result<bool> {
    state.streamed.fetch_add(1, Ordering::SeqCst);
    let choice = &answer["choices"][0];
    let content: Vec<char> = choice["message"]["content"]
        .as_str()
        .unwrap_or("")
        .chars()
        .collect();
    let pieces = match fault {
        Fault::Trickle { pieces, .. } => pieces.max(1),
        _ => content.len().div_ceil(16).max(1),
    };
    let size = content.len().div_ceil(pieces).max(1);
    let chunk = |delta: Value, finish: Value| {
        let mut c = json!({"id": answer["id"], "object": "chat.completion.chunk", "model": answer["model"],
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if choice.get("logprobs").is_some() {
            c["choices"][0]["logprobs"] = choice["logprobs"].clone();
        }
        c.to_string()
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for piece in content.chunks(size) {
        let text: String = piece.iter().collect();
        events.push(chunk(json!({"content": text}), Value::Null));
    }
    let content_end = events.len();
    events.push(chunk(json!({}), choice["finish_reason"].clone()));
    if request["stream_options"]["include_usage"] == json!(true) {
        events.push(
            json!({"id": answer["id"], "object": "chat.completion.chunk", "model": answer["model"],
                "choices": [], "usage": answer["usage"]})
            .to_string(),
        );
    }
    events.push("[DONE]".into());
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
    )?;
    let abandoned = |e: std::io::Error| {
        state.abandoned.fetch_add(1, Ordering::SeqCst);
        e
    };
    for (i, event) in events.iter().enumerate() {
        match fault {
            Fault::Truncate if i == content_end.div_ceil(2) => return Ok(false),
            Fault::Slow(d) if i == 1 => {
                let started = Instant::now();
                while started.elapsed() < d {
                    if !still_open(stream) {
                        state.abandoned.fetch_add(1, Ordering::SeqCst);
                        return Ok(false);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            Fault::Trickle { every, .. } if i > 0 => std::thread::sleep(every),
            _ => {}
        }
        write_event(stream, event).map_err(abandoned)?;
    }
    stream
        .write_all(b"0\r\n\r\n")
        .and_then(|()| stream.flush())
        .map_err(abandoned)?;
    *state
        .delivered
        .lock()
        .unwrap()
        .entry(body.to_owned())
        .or_default() += 1;
    Ok(true)
}

/// FNV-1a of a text.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The fake model's answer.
fn answer(path: &str, request: &Value, state: &State) -> Value {
    let usage = |prompt: usize| json!({"prompt_tokens": prompt / 4, "completion_tokens": 3, "total_tokens": prompt / 4 + 3});
    if path.ends_with("/completions") && !path.ends_with("chat/completions") {
        let prompt = request["prompt"].as_str().unwrap_or("");
        if !state.echo_logprobs.load(Ordering::SeqCst) {
            // llama.cpp: echo ignored, chat-shaped log-probabilities of the generated token.
            return json!({"choices": [{"text": ".", "index": 0, "logprobs": {"content": [
                {"id": 13, "token": ".", "logprob": -0.5, "bytes": [46], "top_logprobs": []}]}}],
                "usage": usage(prompt.len())});
        }
        // vLLM's documented shape: prompt tokens (words with their leading space), the first
        // log-probability null, then the generated token.
        let mut tokens = Vec::new();
        let mut offsets = Vec::new();
        let mut start = 0;
        for (i, c) in prompt.char_indices() {
            if c == ' ' && i > start {
                tokens.push(prompt[start..i].to_owned());
                offsets.push(prompt[..start].chars().count());
                start = i;
            }
        }
        tokens.push(prompt[start..].to_owned());
        offsets.push(prompt[..start].chars().count());
        let mut logprobs: Vec<Value> = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i == 0 {
                    Value::Null
                } else {
                    json!(-((hash(t) % 50) as f64) / 10.0 - 0.1)
                }
            })
            .collect();
        tokens.push(".".into());
        offsets.push(prompt.chars().count());
        logprobs.push(json!(-0.3));
        let top: Vec<Value> = logprobs.iter().map(|_| Value::Null).collect();
        return json!({"id": "cmpl-1", "object": "text_completion", "model": request["model"],
            "choices": [{"index": 0, "text": format!("{prompt}."), "finish_reason": "length",
                "logprobs": {"tokens": tokens, "token_logprobs": logprobs, "text_offset": offsets, "top_logprobs": top}}],
            "usage": usage(prompt.len())});
    }
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let user = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .filter_map(|m| m["content"].as_str())
        .collect::<String>();
    let prefilled = messages.last().is_some_and(|m| m["role"] == "assistant");
    if request["logprobs"] == json!(true) {
        // Label scoring: a label distribution from the prompt's hash, " k" and "k" both listed.
        let h = hash(&user);
        let weights: Vec<f64> = (1..=5u64)
            .map(|k| 1.0 + ((h >> (k * 5)) % 23) as f64)
            .collect();
        let total: f64 = weights.iter().sum();
        let mut top = vec![];
        for (k, w) in (1..=5).zip(&weights) {
            // " k" carries 80 % of the mass, "k" 10 %, " I" 5 %, 5 % unlisted.
            top.push(
                json!({"token": format!(" {k}"), "logprob": (0.8 * w / total).ln(), "bytes": null}),
            );
            top.push(
                json!({"token": format!("{k}"), "logprob": (0.1 * w / total).ln(), "bytes": null}),
            );
        }
        top.push(json!({"token": " I", "logprob": 0.05f64.ln()}));
        let label = json!({"token": " 1", "logprob": -0.4, "top_logprobs": top});
        let content = if prefilled {
            vec![label]
        } else {
            vec![
                json!({"token": "Option", "logprob": -0.1, "top_logprobs": [{"token": "Option", "logprob": -0.1}]}),
                label,
            ]
        };
        return json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Option 1"},
            "finish_reason": "length", "logprobs": {"content": content}}], "usage": usage(user.len())});
    }
    // Generation: a choice for every group key the prompt names, from the prompt's hash.
    let mut groups = Vec::new();
    let mut rest = user.as_str();
    while let Some(i) = rest.find("(NSG") {
        let digits: String = rest[i + 4..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && !groups.contains(&digits) {
            groups.push(digits.clone());
        }
        rest = &rest[i + 4..];
    }
    let h = hash(&user) ^ hash(&request["temperature"].to_string());
    let answer: serde_json::Map<String, Value> = groups
        .iter()
        .enumerate()
        .map(|(j, g)| {
            (
                format!("NSG{g}"),
                json!({"choice": format!("NSG{g}_s{}", 1 + (h >> j) % 2)}),
            )
        })
        .collect();
    json!({"id": format!("chatcmpl-{:x}", h), "object": "chat.completion", "model": request["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": Value::Object(answer).to_string()},
        "finish_reason": "stop"}], "usage": usage(user.len())})
}
