//! The memory plan: Llama-3.1-8B's figures (the question users ask: does LoRA at 4,096 tokens
//! fit one 80 GB card), and on SmolLM2 the plan against a measured step.

use indievalue_finetune::memory::{process_peak_rss, reset_process_peak};
use indievalue_finetune::plan::{
    MemoryPlan, PlanSpec, TrainingKernels, lora_parameter_count, parameter_count, plan,
};
use indievalue_finetune::{
    LoraAdapter, LoraConfig, PassOptions, SupervisedExample, forward_backward, load_for_training,
};
use indievalue_llm::{DType, LlamaConfig, LoadOptions, ModelSource, Projection, Var};

const GIB: u64 = 1 << 30;

fn llama31_8b() -> LlamaConfig {
    LlamaConfig::from_file(indievalue_testdata::fixtures_dir().join("configs/llama-3.1-8b.json"))
        .unwrap()
}

fn spec(lora: bool, checkpointing: bool) -> PlanSpec {
    PlanSpec {
        seq_len: 4096,
        batch_size: 1,
        lora: lora.then(|| (16, Projection::ALL.to_vec())),
        lora_dropout: false,
        dtype: DType::BF16,
        checkpointing,
        loss_chunk: 128,
        supervised: None,
        kernels: TrainingKernels::Composed,
    }
}

#[test]
fn llama_3_1_8b_lora_at_4096_tokens_fits_one_80_gb_card_only_with_checkpointing() {
    let c = llama31_8b();
    assert_eq!(parameter_count(&c), 8_030_261_248);
    assert_eq!(
        lora_parameter_count(&c, 16, &Projection::ALL),
        41_943_040,
        "PEFT's count for r 16 on all seven modules"
    );
    let lora: MemoryPlan = plan(&c, &spec(true, true));
    assert_eq!(lora.trained_parameters, 41_943_040);
    assert!(lora.fits(80 * GIB), "{lora}");
    assert!(!plan(&c, &spec(true, false)).fits(80 * GIB));
    // Full fine-tuning: bf16 weights, f32 masters, gradients and two moments are 18 bytes a
    // parameter before any activation; no single 80 GB card holds that.
    let full = plan(&c, &spec(false, true));
    assert!(full.fixed_bytes() >= 18 * 8_030_261_248);
    assert!(!full.fits(80 * GIB));
    assert!(full.total_bytes() > plan(&c, &spec(false, false)).total_bytes() / 3);
}

/// One LoRA step with checkpointing on SmolLM2 at 1,024 tokens: the plan is within 20 % of
/// the resident-set peak it measures (the other test of this binary allocates nothing large).
#[test]
fn the_plan_predicts_a_measured_smollm2_step_within_20_percent() {
    let source = ModelSource::Gguf(indievalue_testdata::smollm2_gguf());
    let (mut loaded, _) = load_for_training(&source, &LoadOptions::default(), false).unwrap();
    let model = &mut loaded.model;
    let adapter = LoraAdapter::new(model, LoraConfig::default(), 0).unwrap();
    adapter.attach(model).unwrap();
    let vars: Vec<(String, Var)> = adapter.named_vars();
    let ids: Vec<u32> = (0..1024u32).map(|i| 100 + (i * 7919) % 48_000).collect();
    let labels = ids
        .iter()
        .enumerate()
        .map(|(i, &t)| if i < 512 { -100 } else { i64::from(t) })
        .collect();
    let example = SupervisedExample {
        input_ids: ids,
        labels,
    };
    let options = PassOptions {
        loss_chunk: 128,
        checkpointing: true,
    };
    let var_refs: Vec<&Var> = vars.iter().map(|(_, v)| v).collect();
    let mut grads = vec![None; vars.len()];
    assert!(reset_process_peak());
    forward_backward(
        model,
        &[&example],
        &var_refs,
        &mut grads,
        1.0 / 512.0,
        &options,
        None,
    )
    .unwrap();
    let measured = process_peak_rss().unwrap();
    let planned = plan(
        model.config(),
        &PlanSpec {
            seq_len: 1024,
            batch_size: 1,
            lora: Some((16, Projection::ALL.to_vec())),
            lora_dropout: false,
            dtype: DType::F32,
            checkpointing: true,
            loss_chunk: 128,
            supervised: Some(512),
            kernels: TrainingKernels::Fused,
        },
    );
    // The step has no optimizer update and the adapter's moments do not exist yet.
    let without_optimizer = planned.total_bytes()
        - planned
            .fixed
            .iter()
            .filter(|i| i.name.starts_with("AdamW") || i.name.starts_with("optimizer"))
            .map(|i| i.bytes)
            .sum::<u64>();
    let ratio = without_optimizer as f64 / measured as f64;
    eprintln!("planned {without_optimizer} bytes, measured {measured}: {ratio:.3}");
    assert!(
        (0.8..=1.2).contains(&ratio),
        "plan/measured {ratio:.3}\n{planned}"
    );
}
