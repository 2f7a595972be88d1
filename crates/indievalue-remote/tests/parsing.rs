//! Tolerant parsing of answers in the shapes servers document: vLLM's completions with `echo`,
//! OpenAI's chat log-probabilities, llama.cpp's probability variant; label reading.

use indievalue_remote::response::{PromptLogprobs, chat_logprobs, message_content, token_usage};
use indievalue_remote::{label_position, label_probabilities};
use serde_json::json;

#[test]
fn vllm_echo_prompt_logprobs_are_read_and_summed_over_a_span() {
    // The shape of vLLM's /v1/completions with echo=true, logprobs=1 (its OpenAI-compatible
    // server docs): the first prompt token's log-probability is null.
    let answer = json!({
        "id": "cmpl-8d2", "object": "text_completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "text": "I like tea.", "finish_reason": "length",
            "logprobs": {
                "text_offset": [0, 1, 6, 10],
                "token_logprobs": [null, -2.5, -1.25, -0.5],
                "tokens": ["I", " like", " tea", "."],
                "top_logprobs": [null, {" like": -2.5}, {" tea": -1.25}, {".": -0.5}]
            }}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    });
    let lp = PromptLogprobs::of(&answer).unwrap();
    assert_eq!(lp.tokens.len(), 4);
    assert_eq!(lp.logprobs[0], None);
    // " tea" covers characters 6..10 of "I like tea": the scored statement "tea" is 7..10.
    assert_eq!(lp.span(7, 10), Ok(-1.25));
    assert_eq!(lp.span(2, 10), Ok(-3.75));
    // The first token has no log-probability: never scored as zero.
    assert!(lp.span(0, 3).unwrap_err().contains("no log-probability"));
    assert_eq!(token_usage(&answer), (3, 1));
    assert_eq!(message_content(&answer).as_deref(), Some("I like tea."));
}

#[test]
fn llama_cpp_completions_have_no_prompt_logprobs() {
    // llama.cpp's server answers echo with chat-shaped log-probabilities of the generated token.
    let answer = json!({"choices": [{"text": ".", "logprobs": {"content": [
        {"id": 13, "token": ".", "logprob": -0.5, "bytes": [46], "top_logprobs": []}]}}]});
    assert_eq!(PromptLogprobs::of(&answer), None);
    // Arrays of unequal length are not taken either.
    let bad = json!({"choices": [{"logprobs": {"tokens": ["a", "b"], "token_logprobs": [null],
        "text_offset": [0, 1]}}]});
    assert_eq!(PromptLogprobs::of(&bad), None);
}

#[test]
fn chat_logprobs_in_both_shapes_with_missing_fields_tolerated() {
    let openai = json!({"choices": [{"message": {"role": "assistant", "content": null},
    "logprobs": {"content": [
        {"token": " 2", "logprob": -0.1, "bytes": [32, 50],
         "top_logprobs": [{"token": " 2", "logprob": -0.1}, {"token": "2", "logprob": -3.0},
                          {"token": " 1", "logprob": -2.5}]},
        {"token": "<eot>", "logprob": -0.01}
    ]}}]});
    let tokens = chat_logprobs(&openai);
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].top.len(), 3);
    assert!(tokens[1].top.is_empty());
    assert_eq!(message_content(&openai), None);
    // llama.cpp with post_sampling_probs: `prob` and `top_probs`; a token given only as bytes.
    let probs = json!({"choices": [{"logprobs": {"content": [
        {"bytes": [32, 49], "prob": 0.5, "top_probs": [{"token": " 1", "prob": 0.5}, {"token": " 2", "prob": 0.25}]}
    ]}}]});
    let tokens = chat_logprobs(&probs);
    assert_eq!(tokens[0].token, " 1");
    assert!((tokens[0].top[1].1 - 0.25f64.ln()).abs() < 1e-12);
    assert!(chat_logprobs(&json!({"choices": []})).is_empty());
}

#[test]
fn labels_are_merged_across_tokens_and_absent_ones_share_the_leftover() {
    let top = vec![
        (" 1".to_owned(), 0.5f64.ln()),
        ("1".to_owned(), 0.1f64.ln()),
        (" 2".to_owned(), 0.2f64.ln()),
        (" 2".to_owned(), 0.2f64.ln()), // listed twice (llama-cpp-python adds the sampled token)
        (" I".to_owned(), 0.1f64.ln()),
    ];
    let (probs, absent) = label_probabilities(&top, 4);
    assert!((probs[0] - 0.6).abs() < 1e-9);
    assert!((probs[1] - 0.2).abs() < 1e-9);
    // 1 - (0.5 + 0.1 + 0.2 + 0.1) = 0.1 left, shared by labels 3 and 4.
    assert!((probs[2] - 0.05).abs() < 1e-9 && (probs[3] - 0.05).abs() < 1e-9);
    assert_eq!(absent, ["3", "4"]);
}

#[test]
fn the_label_is_read_after_the_prefill_or_after_a_generated_option() {
    let t = |token: &str| indievalue_remote::response::TokenLogprob {
        token: token.into(),
        logprob: -0.1,
        top: Vec::new(),
    };
    // The server continued "Option": the label comes first.
    assert_eq!(label_position(&[t(" 2"), t(":")]), Some((0, false)));
    // A new turn: "Option", " ", "3".
    assert_eq!(
        label_position(&[t("Option"), t(" "), t("3")]),
        Some((2, true))
    );
    assert_eq!(
        label_position(&[t("\n"), t("Option"), t(" 1")]),
        Some((2, true))
    );
    // Prose first: no position.
    assert_eq!(label_position(&[t("I"), t(" think")]), Some((0, false)));
    assert_eq!(
        label_position(&[t("Option"), t("al"), t(" 1")]),
        Some((1, true))
    );
    assert_eq!(label_position(&[]), None);
}
