//! Parity with PyTorch + transformers + PEFT on the tiny Llama-3.1-shaped model: per-step
//! losses, gradient norms, learning rates and final weights of LoRA (4 steps, AdamW with weight
//! decay, warmup, clipping) and full fine-tuning (3 steps), from `fixtures/finetune` (made by
//! `scripts/make_trainer_parity_fixture.py`).

use indievalue_finetune::{
    LoraAdapter, StepLog, SupervisedExample, TrainConfig, Trainable, Trainer, read_safetensors,
};
use indievalue_llm::{
    Device, HookedWeight, Kernels, LoadOptions, LoadedModel, ModelSource, Tensor, TokenBatch,
    load_model_with,
};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Mutex;

fn fixture(path: &str) -> PathBuf {
    indievalue_testdata::fixtures_dir()
        .join("finetune")
        .join(path)
}

fn tiny_dir() -> PathBuf {
    indievalue_testdata::fixtures_dir().join("llm/tiny-llama31")
}

fn options() -> LoadOptions {
    LoadOptions {
        kernels: Kernels::Differentiable,
        ..LoadOptions::default()
    }
}

fn frozen() -> LoadedModel {
    load_model_with(&ModelSource::Directory(tiny_dir()), &options(), |_, t| {
        Ok(HookedWeight::Tensor(t))
    })
    .unwrap()
}

fn trainable() -> (LoadedModel, Vec<(String, candle_core::Var)>) {
    let vars = Mutex::new(Vec::new());
    let model = load_model_with(
        &ModelSource::Directory(tiny_dir()),
        &options(),
        |name, t| {
            let v = candle_core::Var::from_tensor(&t).unwrap();
            vars.lock().unwrap().push((name.to_owned(), v.clone()));
            Ok(HookedWeight::Var(v))
        },
    )
    .unwrap();
    (model, vars.into_inner().unwrap())
}

fn examples() -> Vec<SupervisedExample> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("examples.json")).unwrap()).unwrap();
    v["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| SupervisedExample {
            input_ids: serde_json::from_value(e["input_ids"].clone()).unwrap(),
            labels: serde_json::from_value(e["labels"].clone()).unwrap(),
        })
        .collect()
}

fn expected(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(path)).unwrap()).unwrap()
}

fn config_for(hyper: &Value) -> TrainConfig {
    config(hyper, 4, 4, 1)
}

fn config(hyper: &Value, steps: u64, batch: usize, accum: usize) -> TrainConfig {
    let mut c = TrainConfig {
        batch_size: batch,
        grad_accum: accum,
        max_steps: Some(steps),
        warmup_ratio: hyper["warmup_ratio"].as_f64().unwrap(),
        max_grad_norm: hyper["max_grad_norm"].as_f64(),
        shuffle: false,
        ..TrainConfig::default()
    };
    c.optimizer.lr = hyper["lr"].as_f64().unwrap();
    c.optimizer.weight_decay = hyper["weight_decay"].as_f64().unwrap();
    c
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    indievalue_llm::max_abs_difference(a, b).unwrap()
}

fn check_steps(logs: &[StepLog], want: &Value) {
    let want = want.as_array().unwrap();
    assert_eq!(logs.len(), want.len());
    for (got, w) in logs.iter().zip(want) {
        let (loss, norm, lr) = (
            w["loss"].as_f64().unwrap(),
            w["grad_norm"].as_f64().unwrap(),
            w["lr"].as_f64().unwrap(),
        );
        assert!(
            (got.loss - loss).abs() < 1e-5,
            "step {}: loss {} vs {loss}",
            got.step,
            got.loss
        );
        assert!(
            (got.grad_norm - norm).abs() < 1e-5,
            "step {}: norm {} vs {norm}",
            got.step,
            got.grad_norm
        );
        assert!(
            (got.lr - lr).abs() < 1e-12,
            "step {}: lr {} vs {lr}",
            got.step,
            got.lr
        );
    }
}

fn logits(model: &LoadedModel, ids: &[u32]) -> Tensor {
    model
        .model
        .forward_logits(&TokenBatch::single(ids))
        .unwrap()
        .squeeze(0)
        .unwrap()
}

#[test]
fn a_peft_adapter_loads_in_ours_with_peft_logits() {
    let mut model = frozen();
    let references = read_safetensors(&fixture("lora/logits.safetensors"), &Device::Cpu).unwrap();
    let examples = examples();
    for (i, e) in examples.iter().enumerate() {
        let d = max_diff(
            &logits(&model, &e.input_ids),
            &references[&format!("base_logits_{i}")],
        );
        assert!(d < 1e-4, "base logits of example {i}: {d}");
    }
    let adapter = LoraAdapter::load(&fixture("lora/init_adapter"), &model.model).unwrap();
    adapter.attach(&mut model.model).unwrap();
    for (i, e) in examples.iter().enumerate() {
        let ours = logits(&model, &e.input_ids);
        let d = max_diff(&ours, &references[&format!("init_logits_{i}")]);
        assert!(d < 1e-4, "adapted logits of example {i}: {d}");
        let moved = max_diff(&ours, &references[&format!("base_logits_{i}")]);
        assert!(moved > 1e-3, "the adapter changes the logits ({moved})");
    }
}

/// Gradient checkpointing on and the loss projected 3 positions at a time.
fn memory_saving(mut c: TrainConfig) -> TrainConfig {
    c.gradient_checkpointing = true;
    c.loss_chunk = 3;
    c
}

fn lora_run(batch: usize, accum: usize) -> (Vec<StepLog>, LoraAdapter) {
    lora_run_with(batch, accum, |c| c)
}

fn lora_run_with(
    batch: usize,
    accum: usize,
    adjust: fn(TrainConfig) -> TrainConfig,
) -> (Vec<StepLog>, LoraAdapter) {
    let want = expected("lora/expected.json");
    let mut model = frozen();
    let adapter = LoraAdapter::load(&fixture("lora/init_adapter"), &model.model).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = adjust(config(&want["hyperparameters"], 4, batch, accum));
    let mut trainer =
        Trainer::new(&mut model.model, Trainable::Lora(adapter), cfg, dir.path()).unwrap();
    let mut logs = Vec::new();
    trainer
        .train(&examples(), &[], false, &mut |l, _| logs.push(l.clone()))
        .unwrap();
    let saved = dir.path().join("adapter");
    trainer
        .trainable()
        .save(&saved, "fixtures/llm/tiny-llama31", None)
        .unwrap();
    drop(trainer);
    (logs, LoraAdapter::load(&saved, &model.model).unwrap())
}

fn assert_adapters_close(got: &LoraAdapter, want_dir: &str, tol: f32) {
    let want = read_safetensors(
        &fixture(want_dir).join("adapter_model.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(got.named_vars().len(), want.len());
    for (name, var) in got.named_vars() {
        let d = max_diff(var.as_tensor(), &want[&name]);
        assert!(d < tol, "{name}: {d}");
    }
}

#[test]
fn lora_steps_equal_pytorch_and_peft() {
    let want = expected("lora/expected.json");
    let (logs, adapter) = lora_run(4, 1);
    check_steps(&logs, &want["steps"]);
    assert_adapters_close(&adapter, "lora/final_adapter", 1e-5);
}

#[test]
fn lora_steps_equal_pytorch_with_checkpointing_and_chunked_loss() {
    let want = expected("lora/expected.json");
    let (logs, adapter) = lora_run_with(2, 2, memory_saving);
    check_steps(&logs, &want["steps"]);
    assert_adapters_close(&adapter, "lora/final_adapter", 1e-5);
}

#[test]
fn gradient_accumulation_gives_the_one_batch_result() {
    // Micro-batches [0, 1] and [2, 3]: 13 and 10 supervised targets.
    let want = expected("lora/expected.json");
    let (logs, adapter) = lora_run(2, 2);
    check_steps(&logs, &want["steps"]);
    assert_adapters_close(&adapter, "lora/final_adapter", 1e-5);
}

#[test]
fn full_fine_tuning_equals_pytorch() {
    full_run(|c| c);
}

#[test]
fn full_fine_tuning_equals_pytorch_with_checkpointing_and_chunked_loss() {
    full_run(memory_saving);
}

fn full_run(adjust: fn(TrainConfig) -> TrainConfig) {
    let want = expected("full/expected.json");
    let (mut model, vars) = trainable();
    let dir = tempfile::tempdir().unwrap();
    let cfg = adjust(config(&want["hyperparameters"], 3, 4, 1));
    let mut trainer = Trainer::new(
        &mut model.model,
        Trainable::Full(vars.clone()),
        cfg,
        dir.path(),
    )
    .unwrap();
    let decayed: Vec<&str> = trainer
        .params()
        .iter()
        .filter(|p| p.decay)
        .map(|p| p.name.as_str())
        .collect();
    let mut want_decayed: Vec<&str> = want["weight_decay_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut got = decayed.clone();
    got.sort_unstable();
    want_decayed.sort_unstable();
    assert_eq!(got, want_decayed);
    let mut logs = Vec::new();
    trainer
        .train(&examples(), &[], false, &mut |l, _| logs.push(l.clone()))
        .unwrap();
    check_steps(&logs, &want["steps"]);
    let final_weights = read_safetensors(&fixture("full/final.safetensors"), &Device::Cpu).unwrap();
    for (name, var) in &vars {
        let d = max_diff(var.as_tensor(), &final_weights[name]);
        assert!(d < 1e-5, "{name}: {d}");
    }
}

/// Our adapter in Python PEFT: a LoRA run from a fresh adapter (B zeros, A from our seeded
/// kaiming-uniform) writes `fixtures/finetune/ours/`; `scripts/make_trainer_parity_fixture.py
/// --ours fixtures/finetune/ours` loaded it with `PeftModel.from_pretrained` (checking that PEFT
/// applied every tensor and that its logits move) and wrote `peft_logits.safetensors`. The test
/// checks that our code still writes those exact bytes and that our logits are PEFT's.
/// `INDIEVALUE_WRITE_FIXTURES=1` rewrites the adapter (then rerun the script).
#[test]
fn our_adapter_loads_in_peft_with_our_logits() {
    let want = expected("lora/expected.json");
    let mut model = frozen();
    let config = indievalue_finetune::LoraConfig {
        r: 4,
        alpha: 8.0,
        ..indievalue_finetune::LoraConfig::default()
    };
    let adapter = LoraAdapter::new(&model.model, config, 5).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config_for(&want["hyperparameters"]);
    cfg.max_steps = Some(4);
    let mut trainer =
        Trainer::new(&mut model.model, Trainable::Lora(adapter), cfg, dir.path()).unwrap();
    trainer
        .train(&examples(), &[], false, &mut |_, _| {})
        .unwrap();
    let written = dir.path().join("ours");
    trainer
        .trainable()
        .save(&written, "fixtures/llm/tiny-llama31", None)
        .unwrap();
    drop(trainer);
    let committed = fixture("ours");
    if std::env::var_os("INDIEVALUE_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(&committed).unwrap();
        for f in ["adapter_config.json", "adapter_model.safetensors"] {
            std::fs::copy(written.join(f), committed.join(f)).unwrap();
        }
    }
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        assert!(
            std::fs::read(written.join(f)).unwrap() == std::fs::read(committed.join(f)).unwrap(),
            "{f}: the committed adapter is not what our code writes"
        );
    }
    let peft = read_safetensors(&committed.join("peft_logits.safetensors"), &Device::Cpu).unwrap();
    for (i, e) in examples().iter().enumerate() {
        let ours = logits(&model, &e.input_ids);
        let d = max_diff(&ours, &peft[&format!("peft_logits_{i}")]);
        assert!(d < 1e-4, "example {i}: ours vs PEFT {d}");
        let moved = max_diff(
            &peft[&format!("peft_logits_{i}")],
            &peft[&format!("base_logits_{i}")],
        );
        assert!(moved > 1e-3, "PEFT applied the adapter ({moved})");
    }
}

#[test]
fn an_adapter_merged_at_load_gives_peft_logits_with_fused_kernels() {
    let references = read_safetensors(&fixture("lora/logits.safetensors"), &Device::Cpu).unwrap();
    let model = indievalue_finetune::load_with_adapter(
        &ModelSource::Directory(tiny_dir()),
        &LoadOptions::default(),
        &fixture("lora/init_adapter"),
    )
    .unwrap();
    assert_eq!(model.model.kernels(), Kernels::Fused);
    for (i, e) in examples().iter().enumerate() {
        let d = max_diff(
            &logits(&model, &e.input_ids),
            &references[&format!("init_logits_{i}")],
        );
        assert!(d < 1e-4, "example {i}: {d}");
    }
}
