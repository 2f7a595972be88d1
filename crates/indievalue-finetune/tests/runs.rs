//! Runs that never lose work (a killed run resumes to the uninterrupted run's exact weights; a
//! torn checkpoint is ignored) and typed errors for bad input.

use indievalue_finetune::{
    CHECKPOINT_MARKER, Error, LoraAdapter, LoraConfig, METRICS_FILE, MetricsLine,
    SupervisedExample, TrainConfig, Trainable, Trainer, newest_checkpoint, read_examples,
};
use indievalue_llm::{
    HookedWeight, Kernels, LoadOptions, LoadedModel, ModelSource, load_model_with,
};
use std::path::{Path, PathBuf};

fn tiny() -> LoadedModel {
    let dir = indievalue_testdata::fixtures_dir().join("llm/tiny-llama31");
    let options = LoadOptions {
        kernels: Kernels::Differentiable,
        ..LoadOptions::default()
    };
    load_model_with(&ModelSource::Directory(dir), &options, |_, t| {
        Ok(HookedWeight::Tensor(t))
    })
    .unwrap()
}

fn data() -> Vec<SupervisedExample> {
    (0..6u32)
        .map(|i| {
            let ids: Vec<u32> = (0..(5 + i)).map(|t| 3 + (t * 7 + i * 13) % 250).collect();
            let mut labels: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
            labels[..2].fill(-100);
            SupervisedExample {
                input_ids: ids,
                labels,
            }
        })
        .collect()
}

fn config() -> TrainConfig {
    let mut c = TrainConfig {
        batch_size: 2,
        max_steps: Some(6),
        warmup_ratio: 0.2,
        save_every: Some(2),
        seed: 3,
        ..TrainConfig::default()
    };
    c.optimizer.lr = 5e-3;
    c.optimizer.weight_decay = 0.01;
    c
}

/// Trains LoRA (dropout on, so the dropout streams are exercised) into `out`; with `kill_after`
/// the run dies (a panic out of the step callback) right after that step is logged.
fn run(out: &Path, kill_after: Option<u64>, resume: bool) -> Option<Vec<(String, Vec<f32>)>> {
    let mut model = tiny();
    let lora = LoraConfig {
        r: 4,
        alpha: 8.0,
        dropout: 0.1,
        ..LoraConfig::default()
    };
    let adapter = LoraAdapter::new(&model.model, lora, 11).unwrap();
    let mut trainer =
        Trainer::new(&mut model.model, Trainable::Lora(adapter), config(), out).unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        trainer
            .train(&data(), &data()[..2], resume, &mut |log, _| {
                if Some(log.step) == kill_after {
                    panic!("killed after step {}", log.step);
                }
            })
            .unwrap()
    }));
    result.ok()?;
    Some(
        trainer
            .params()
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    p.master
                        .as_tensor()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap(),
                )
            })
            .collect(),
    )
}

fn checkpoints(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint-")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_weights_bitwise() {
    let whole = tempfile::tempdir().unwrap();
    let uninterrupted = run(whole.path(), None, false).unwrap();
    assert_eq!(checkpoints(whole.path()).len(), 3, "steps 2, 4, 6");

    // Killed right after step 5 was logged: checkpoint-4 is complete; a checkpoint-5 was being
    // written (no marker) and the log ends in a torn line.
    let killed = tempfile::tempdir().unwrap();
    assert!(run(killed.path(), Some(5), false).is_none(), "the run died");
    assert_eq!(checkpoints(killed.path()).len(), 2, "checkpoints 2 and 4");
    let torn = killed.path().join("checkpoint-5");
    std::fs::create_dir_all(&torn).unwrap();
    std::fs::copy(
        killed.path().join("checkpoint-4/trainable.safetensors"),
        torn.join("trainable.safetensors"),
    )
    .unwrap();
    let log = killed.path().join(METRICS_FILE);
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, format!("{text}{{\"step\": 6, \"lo")).unwrap();
    let (step, dir) = newest_checkpoint(killed.path()).unwrap().unwrap();
    assert_eq!(
        (step, dir.file_name().unwrap().to_str().unwrap()),
        (4, "checkpoint-4"),
        "the torn checkpoint-5 is ignored"
    );

    let resumed = run(killed.path(), None, true).unwrap();
    assert_eq!(resumed, uninterrupted, "bitwise equal weights");
    assert!(
        killed
            .path()
            .join("checkpoint-6")
            .join(CHECKPOINT_MARKER)
            .exists()
    );
    let a = std::fs::read_to_string(whole.path().join(METRICS_FILE)).unwrap();
    let b = std::fs::read_to_string(killed.path().join(METRICS_FILE)).unwrap();
    let strip = |s: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("tokens_per_s");
                v.as_object_mut().unwrap().remove("peak_memory_bytes");
                v
            })
            .collect()
    };
    assert_eq!(
        strip(&a),
        strip(&b),
        "the step log is the uninterrupted run's (timings and memory apart)"
    );
    let lines: Vec<MetricsLine> = a
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        matches!(lines[0], MetricsLine::Eval(ref e) if e.step == 0),
        "held-out loss at step 0"
    );
}

#[test]
fn bad_examples_are_typed_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let ok = r#"{"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}"#;
    let cases = [
        (
            "malformed.jsonl",
            format!("{ok}\n{{\"input_ids\": [1, 2"),
            2,
            "not an example",
        ),
        (
            "role.jsonl",
            format!("{ok}\n{ok}\n{{\"messages\": [{{\"role\": \"robot\", \"content\": \"x\"}}]}}"),
            3,
            "text examples need a tokenizer",
        ),
        (
            "none.jsonl",
            r#"{"input_ids": [1, 2], "labels": [-100, -100]}"#.to_string(),
            1,
            "no supervised token",
        ),
        (
            "lengths.jsonl",
            r#"{"input_ids": [1, 2], "labels": [-100]}"#.to_string(),
            1,
            "labels",
        ),
    ];
    for (name, text, line, what) in cases {
        let p = write(name, &text);
        match read_examples(&p, None, 4096) {
            Err(Error::Example {
                path,
                line: l,
                message,
            }) => {
                assert_eq!((path, l), (p.clone(), line), "{name}");
                assert!(message.contains(what), "{name}: {message}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let long = write(
        "long.jsonl",
        &format!("{ok}\n{{\"input_ids\": [1, 2, 3, 4, 5], \"labels\": [-100, 2, 3, 4, 5]}}"),
    );
    let loaded = read_examples(&long, None, 3).unwrap();
    assert_eq!((loaded.examples.len(), loaded.skipped_too_long), (1, 1));
}

#[test]
fn messages_are_supervised_on_assistant_turns_only_and_roles_are_checked() {
    let tok = indievalue_llm::TextTokenizer::from_file(
        indievalue_testdata::model_cache_dir().join("llama3/tokenizer.json"),
    )
    .unwrap();
    let template = indievalue_llm::ChatTemplate::llama3_fallback();
    let f = indievalue_finetune::Formatter {
        tokenizer: &tok,
        chat_template: &template,
        eos: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("chat.jsonl");
    let line = r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Option 2: I vote"}], "person": 7}"#;
    std::fs::write(&p, format!("{line}\n")).unwrap();
    let e = read_examples(&p, Some(&f), 4096)
        .unwrap()
        .examples
        .remove(0);
    let supervised: Vec<u32> = e
        .labels
        .iter()
        .filter(|&&l| l != -100)
        .map(|&l| l as u32)
        .collect();
    assert_eq!(
        tok.decode(&supervised).unwrap(),
        "Option 2: I vote<|eot_id|>"
    );
    let whole = template
        .render(
            &[
                indievalue_llm::ChatMessage::system("Be brief."),
                indievalue_llm::ChatMessage::user("Hi"),
                indievalue_llm::ChatMessage::assistant("Option 2: I vote"),
            ],
            false,
        )
        .unwrap();
    assert_eq!(
        e.input_ids,
        tok.encode(&whole).unwrap(),
        "the tokens of the rendered chat"
    );
    std::fs::write(
        &p,
        "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n",
    )
    .unwrap();
    match read_examples(&p, Some(&f), 4096) {
        Err(Error::Example {
            line: 1, message, ..
        }) => assert!(message.contains("robot"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn adapters_that_do_not_fit_the_model_are_refused() {
    let model = tiny();
    let dir = tempfile::tempdir().unwrap();
    let adapter = LoraAdapter::new(
        &model.model,
        LoraConfig {
            r: 2,
            ..LoraConfig::default()
        },
        1,
    )
    .unwrap();
    adapter.save(dir.path(), "tiny").unwrap();
    // Another model shape: a config whose hidden size differs.
    let wrong = tempfile::tempdir().unwrap();
    let src = indievalue_testdata::fixtures_dir().join("finetune/lora/init_adapter");
    for f in ["adapter_config.json", "adapter_model.safetensors"] {
        std::fs::copy(src.join(f), wrong.path().join(f)).unwrap();
    }
    let config_path = wrong.path().join("adapter_config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    config["r"] = 8.into();
    std::fs::write(&config_path, config.to_string()).unwrap();
    match LoraAdapter::load(wrong.path(), &model.model) {
        Err(Error::Adapter { message, .. }) => assert!(message.contains("shape"), "{message}"),
        other => panic!("{other:?}"),
    }
    config["r"] = 4.into();
    config["target_modules"] = serde_json::json!(["q_proj", "v_proj"]);
    std::fs::write(&config_path, config.to_string()).unwrap();
    match LoraAdapter::load(wrong.path(), &model.model) {
        Err(Error::Adapter { message, .. }) => {
            assert!(
                message.contains("does not belong to the configured LoRA modules"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    config["target_modules"] = serde_json::json!(["q_proj", "attn_proj"]);
    std::fs::write(&config_path, config.to_string()).unwrap();
    assert!(matches!(
        LoraAdapter::load(wrong.path(), &model.model),
        Err(Error::Adapter { .. })
    ));
    // Our own adapter round-trips.
    let back = LoraAdapter::load(dir.path(), &model.model).unwrap();
    assert_eq!(back.named_vars().len(), adapter.named_vars().len());
}
