//! Probing one person-setup (polar, 200 demonstrations, 39 probe groups; a synthetic person
//! on the real catalog) with SmolLM2-135M-Instruct in f32 (GGUF dequantized):
//!
//! - `score_shared_prefix`: the scoring predictor, labels of the C.1 prompt (one shared prefix,
//!   39 continuations);
//! - `score_statements`: the scoring predictor, statement cloze (the known statements as the
//!   shared prefix, one short row per option);
//! - `prefill_probing_prompt`: prefill of the task's Appendix B.1 prompt (what generative
//!   probing reads before it writes);
//! - `score_fresh_cache_3_of_39`: the scoring predictor with a fresh cache per question, on the
//!   first 3 probes only (a full task is 13 times that; 39 full prefills do not fit a bench);
//! - `generate_64_tokens`: B.1 prefill plus 64 greedy tokens.
//!
//! With `INDIEVALUE_BENCH_FULL_GENERATION=1`, one full generative probe of the task (greedy, up
//! to 2,048 new tokens) is timed once and printed before the criterion runs (minutes).
//!
//! ```text
//! bash scripts/fetch_models.sh
//! RAYON_NUM_THREADS=2 INDIEVALUE_META_DIR=$PWD/../shared/indievalue-meta cargo bench --bench probe_scoring
//! ```

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use indievalue::catalog::{Catalog, Granularity, meta_dir_from_env};
use indievalue::llm::{LoadOptions, ModelSource, TokenBatch, load_model};
use indievalue::probe::{GenerationSettings, GenerativePredictor, ScoreTarget, ScoringPredictor};
use indievalue::sampling::{
    AnswerMatrix, DemoMode, DemoSpec, ProbeSetup, TaskSpec, build_probe_tasks,
};
use indievalue::synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::model_cache_dir;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let meta = meta_dir_from_env().expect("set INDIEVALUE_META_DIR to the authors' metadata");
    let catalog = Catalog::load(meta).expect("catalog");
    let synth = SyntheticModel::new(
        &catalog,
        &SynthConfig {
            people: 50,
            seed: 1,
            ..Default::default()
        },
    )
    .expect("synthetic model");
    let people = synth.respondents(&catalog).expect("respondents");
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let spec = DemoSpec {
        mode: DemoMode::Fixed(200),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let rows: Vec<usize> = (0..people.len()).collect();
    let tasks = build_probe_tasks(
        &catalog,
        &people,
        &answers,
        &rows,
        &TaskSpec {
            setups: &setups[..1],
            demos: spec,
            probe_granularity: Granularity::Polar,
            seed: 1,
        },
    );
    let task = tasks
        .into_iter()
        .find(|t| t.demonstrations.len() == 200 && t.probes.len() == 39)
        .expect("a person with 200 demonstrations and 39 probes");
    let path = model_cache_dir().join("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(path.exists(), "run scripts/fetch_models.sh first");
    let model = load_model(&ModelSource::Gguf(path), &LoadOptions::default()).expect("SmolLM2");
    let scorer = ScoringPredictor::new(&model, &catalog);
    let mut cloze = ScoringPredictor::new(&model, &catalog);
    cloze.target = ScoreTarget::Statement;
    let generator = GenerativePredictor::new(
        &model,
        &catalog,
        GenerationSettings {
            retries: 0,
            ..Default::default()
        },
    );
    let prompt = generator.prompt_tokens(&task).expect("prompt");
    let scored = scorer.score(&task).expect("score");
    eprintln!(
        "task: person {}, B.1 prompt {} tokens; scoring: prefix {} + continuations {} tokens",
        task.person,
        prompt.len(),
        scored.prefix_tokens,
        scored.continuation_tokens
    );
    let scored = cloze.score(&task).expect("score statements");
    eprintln!(
        "statement scoring: prefix {} + continuations {} tokens",
        scored.prefix_tokens, scored.continuation_tokens
    );
    if std::env::var_os("INDIEVALUE_BENCH_FULL_GENERATION").is_some() {
        let start = Instant::now();
        let generated = generator.probe(&task).expect("generate");
        let a = &generated.attempts[0];
        eprintln!(
            "one full generative probe (greedy, limit 2048): {:.1} s, {} new tokens, limit hit {}, {}/39 groups valid",
            start.elapsed().as_secs_f64(),
            a.tokens,
            a.hit_limit,
            a.parsed.valid()
        );
    }

    let mut group = c.benchmark_group("probe_smollm2_f32");
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("score_shared_prefix", |b| {
        b.iter(|| scorer.score(&task).expect("score"))
    });
    group.bench_function("score_statements", |b| {
        b.iter(|| cloze.score(&task).expect("score statements"))
    });
    group.bench_function("prefill_probing_prompt", |b| {
        b.iter(|| {
            let m = &model.model;
            let mut cache = m.new_cache(1);
            let h = m
                .forward(&TokenBatch::single(&prompt), &mut cache)
                .expect("prefill");
            m.logits(&h.narrow(1, prompt.len() - 1, 1).expect("last"))
                .expect("logits")
        })
    });
    let mut three = task.clone();
    three.probes.truncate(3);
    group.bench_function("score_fresh_cache_3_of_39", |b| {
        b.iter(|| scorer.score_fresh(&three).expect("fresh"))
    });
    let short = GenerativePredictor::new(
        &model,
        &catalog,
        GenerationSettings {
            max_new_tokens: 64,
            retries: 0,
            ..Default::default()
        },
    );
    group.bench_function("generate_64_tokens", |b| {
        b.iter(|| short.probe(&task).expect("generate"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
