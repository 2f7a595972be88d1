//! A small OpenAI-compatible server on loopback for tests: a deterministic fake model (label
//! log-probabilities and JSON answers from a hash of the prompt, vLLM-shaped or llama.cpp-shaped
//! prompt log-probabilities) and injectable faults (429 with `Retry-After`, 500, dropped
//! connections, cut-off bodies, slow answers, refusals). It is not a model: it checks plumbing.

#![allow(clippy::unwrap_used, missing_docs)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    /// Sends the headers and half the body, then closes.
    Truncate,
    /// Answers after this long (past the client's timeout).
    Slow(Duration),
    /// Answers with this status and an error body.
    Status(u16),
}

/// Shared state of a fake server.
#[derive(Default)]
pub struct State {
    /// Requests received (every attempt).
    pub received: AtomicUsize,
    /// Per request body (canonical), the complete successful answers delivered.
    pub delivered: Mutex<HashMap<String, usize>>,
    /// Every `Authorization` header seen.
    pub authorizations: Mutex<Vec<String>>,
    /// Whether `/v1/completions` returns prompt log-probabilities for `echo` (vLLM) or not
    /// (llama.cpp).
    pub echo_logprobs: AtomicBool,
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
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        state.echo_logprobs.store(true, Ordering::SeqCst);
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
}

fn serve(
    stream: TcpStream,
    state: &State,
    plan: &(dyn Fn(usize) -> Fault + Send + Sync),
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
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
    let n = state.received.fetch_add(1, Ordering::SeqCst);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut stream = stream;
    let fault = plan(n);
    let (status, answer) = match &fault {
        Fault::RateLimited(_) => (429, json!({"error": {"message": "slow down"}}).to_string()),
        Fault::ServerError => (500, json!({"error": {"message": "boom"}}).to_string()),
        Fault::Status(s) => (*s, json!({"error": {"message": "refused"}}).to_string()),
        Fault::Drop => return Ok(()),
        _ => (200, answer(&path, &request, state).to_string()),
    };
    if let Fault::Slow(d) = fault {
        std::thread::sleep(d);
    }
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.len()
    );
    if let Fault::RateLimited(after) = fault {
        head.push_str(&format!("Retry-After: {after}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if fault == Fault::Truncate {
        stream.write_all(&answer.as_bytes()[..answer.len() / 2])?;
        return Ok(());
    }
    stream.write_all(answer.as_bytes())?;
    stream.flush()?;
    if status == 200 && !matches!(fault, Fault::Slow(_)) {
        *state
            .delivered
            .lock()
            .unwrap()
            .entry(request.to_string())
            .or_default() += 1;
    }
    Ok(())
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
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": Value::Object(answer).to_string()},
        "finish_reason": "stop"}], "usage": usage(user.len())})
}
