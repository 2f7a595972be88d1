#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use indievalue::llm::{LoadOptions, ModelSource, TokenBatch, load_model, model_cache_dir};
fn main() {
    let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    let loaded = load_model(&ModelSource::Gguf(path), &LoadOptions::default()).unwrap();
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let reps: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let ids: Vec<u32> = (0..n as u32).map(|i| 100 + (i * 7919) % 40000).collect();
    let t0 = std::time::Instant::now();
    for _ in 0..reps {
        let mut cache = loaded.model.new_cache(1);
        let h = loaded
            .model
            .forward(&TokenBatch::single(&ids), &mut cache)
            .unwrap();
        let _ = loaded
            .model
            .logits(&h.narrow(1, n - 1, 1).unwrap())
            .unwrap();
    }
    let s = t0.elapsed().as_secs_f64() / reps as f64;
    println!("{n}: {s:.3} s per prefill, {:.0} tok/s", n as f64 / s);
}
