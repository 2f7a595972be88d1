//! The memory-saving pass (head in chunks, gradient checkpointing, frozen weights without
//! gradients) gives the gradients of one backward pass through the whole graph.

use indievalue_finetune::{
    LoraAdapter, PassOptions, SupervisedExample, forward_backward, summed_loss, summed_loss_no_grad,
};
use indievalue_llm::{
    DropoutStream, HookedWeight, Kernels, LoadOptions, LoadedModel, ModelSource, Projection,
    Tensor, Var, load_model_with,
};
use indievalue_rng::Rng;
use std::sync::Mutex;

fn tiny_dir() -> std::path::PathBuf {
    indievalue_testdata::fixtures_dir().join("llm/tiny-llama31")
}

fn options() -> LoadOptions {
    LoadOptions {
        kernels: Kernels::Differentiable,
        ..LoadOptions::default()
    }
}

/// The tiny model with every weight a variable (full fine-tuning) or none (LoRA).
fn model(full: bool) -> (LoadedModel, Vec<(String, Var)>) {
    let vars = Mutex::new(Vec::new());
    let model = load_model_with(
        &ModelSource::Directory(tiny_dir()),
        &options(),
        |name, t| {
            if !full {
                return Ok(HookedWeight::Tensor(t));
            }
            let v = Var::from_tensor(&t).unwrap();
            vars.lock().unwrap().push((name.to_owned(), v.clone()));
            Ok(HookedWeight::Var(v))
        },
    )
    .unwrap();
    (model, vars.into_inner().unwrap())
}

/// Three examples of unequal lengths (padding in the batch), supervised tails.
fn examples() -> Vec<SupervisedExample> {
    let mut rng = Rng::new(11);
    [(13, 5), (9, 2), (11, 7)]
        .iter()
        .map(|&(len, prompt)| {
            let ids: Vec<u32> = (0..len).map(|_| 3 + rng.below(250) as u32).collect();
            let labels = ids
                .iter()
                .enumerate()
                .map(|(i, &t)| if i < prompt { -100 } else { t as i64 })
                .collect();
            SupervisedExample {
                input_ids: ids,
                labels,
            }
        })
        .collect()
}

fn lora(model: &mut LoadedModel, dropout: f64) -> Vec<(String, Var)> {
    let adapter = LoraAdapter::load(
        &indievalue_testdata::fixtures_dir().join("finetune/lora/init_adapter"),
        &model.model,
    )
    .unwrap();
    let mut adapter = adapter;
    adapter.config.dropout = dropout;
    adapter.attach(&mut model.model).unwrap();
    adapter.named_vars()
}

const SCALE: f64 = 1.0 / 17.0;

/// Gradients of `SCALE ·` summed loss through the whole graph at once.
fn reference(model: &LoadedModel, vars: &[(String, Var)]) -> (f64, Vec<Tensor>) {
    let examples = examples();
    let refs: Vec<&SupervisedExample> = examples.iter().collect();
    let (sum, _) = summed_loss(&model.model, &refs, 1024).unwrap();
    let loss = f64::from(sum.to_scalar::<f32>().unwrap());
    let store = (sum * SCALE).unwrap().backward().unwrap();
    let grads = vars
        .iter()
        .map(|(n, v)| {
            store
                .get(v.as_tensor())
                .unwrap_or_else(|| panic!("{n} got no gradient"))
                .clone()
        })
        .collect();
    (loss, grads)
}

fn staged(
    model: &LoadedModel,
    vars: &[(String, Var)],
    options: PassOptions,
    dropout: Option<u64>,
) -> (f64, Vec<Tensor>) {
    let examples = examples();
    let refs: Vec<&SupervisedExample> = examples.iter().collect();
    let var_refs: Vec<&Var> = vars.iter().map(|(_, v)| v).collect();
    let mut grads = vec![None; vars.len()];
    let stream =
        |layer: usize| DropoutStream::new(Rng::derive(dropout.unwrap_or(0), &[layer as u64]));
    let (loss, n) = forward_backward(
        &model.model,
        &refs,
        &var_refs,
        &mut grads,
        SCALE,
        &options,
        dropout.map(|_| &stream as &dyn Fn(usize) -> DropoutStream),
    )
    .unwrap();
    assert_eq!(n, 8 + 7 + 4);
    let grads = grads
        .into_iter()
        .zip(vars)
        .map(|(g, (n, _))| g.unwrap_or_else(|| panic!("{n} got no gradient")))
        .collect();
    (loss, grads)
}

fn assert_same(what: &str, vars: &[(String, Var)], a: &[Tensor], b: &[Tensor], tol: f32) {
    let mut worst = 0f32;
    for ((name, _), (x, y)) in vars.iter().zip(a.iter().zip(b)) {
        let d = indievalue_llm::max_abs_difference(x, y).unwrap();
        assert!(d <= tol, "{what}: {name} differs by {d}");
        worst = worst.max(d);
    }
    eprintln!("{what}: largest difference {worst:e}");
}

fn every_mode(full: bool) {
    let (mut model, mut vars) = model(full);
    if !full {
        vars = lora(&mut model, 0.0);
    }
    // The whole graph at once (candle's composed attention) against the staged pass (the
    // CPU's fused attention): the same gradients up to summation order.
    let (loss, want) = reference(&model, &vars);
    let plain = PassOptions {
        loss_chunk: 1024,
        checkpointing: false,
    };
    let (plain_loss, plain_grads) = staged(&model, &vars, plain, None);
    assert!(
        (plain_loss - loss).abs() < 1e-4,
        "loss {plain_loss} vs {loss}"
    );
    assert_same("staged vs whole graph", &vars, &plain_grads, &want, 2e-6);
    // Chunks and checkpointing change no gradient.
    for (chunk, checkpointing) in [(3, false), (1024, true), (3, true), (1, true)] {
        let options = PassOptions {
            loss_chunk: chunk,
            checkpointing,
        };
        let (got_loss, got) = staged(&model, &vars, options, None);
        assert!(
            (got_loss - plain_loss).abs() < 1e-6 * plain_loss.abs(),
            "loss {got_loss} vs {plain_loss} ({options:?})"
        );
        assert_same(&format!("{options:?}"), &vars, &got, &plain_grads, 1e-6);
    }
    let examples = examples();
    let refs: Vec<&SupervisedExample> = examples.iter().collect();
    let (no_grad, n) = summed_loss_no_grad(&model.model, &refs, 2).unwrap();
    assert_eq!(n, 19);
    assert!((no_grad - loss).abs() < 1e-4, "{no_grad} vs {loss}");
}

#[test]
fn lora_gradients_do_not_change_with_chunks_or_checkpointing() {
    every_mode(false);
}

#[test]
fn full_gradients_do_not_change_with_chunks_or_checkpointing() {
    every_mode(true);
}

#[test]
fn checkpointing_reruns_a_layer_with_the_dropout_it_drew() {
    let (mut model, _) = model(false);
    let vars = lora(&mut model, 0.3);
    let plain = PassOptions {
        loss_chunk: 4,
        checkpointing: false,
    };
    let rerun = PassOptions {
        loss_chunk: 4,
        checkpointing: true,
    };
    let (loss_a, a) = staged(&model, &vars, plain, Some(9));
    let (loss_b, b) = staged(&model, &vars, rerun, Some(9));
    assert!((loss_a - loss_b).abs() < 1e-6);
    assert_same("dropout 0.3", &vars, &a, &b, 1e-6);
    // And dropout is on: another seed gives other gradients.
    let (_, c) = staged(&model, &vars, plain, Some(10));
    let moved = indievalue_llm::max_abs_difference(&a[0], &c[0]).unwrap();
    assert!(moved > 1e-4, "dropout changes the gradients ({moved})");
}

/// Shapes of every frozen matrix of the model, as it is and transposed.
fn frozen_shapes(model: &LoadedModel) -> Vec<Vec<usize>> {
    let mut shapes = Vec::new();
    for (_, shape) in indievalue_llm::weight_shapes(model.model.config()) {
        if shape.len() == 2 {
            shapes.push(vec![shape[1], shape[0]]);
            shapes.push(shape);
        }
    }
    shapes
}

/// The gradients a backward pass kept for tensors that are not among `vars`, by shape.
fn untrained_gradients(
    store: &candle_core::backprop::GradStore,
    vars: &[(String, Var)],
) -> Vec<Vec<usize>> {
    let trained: std::collections::HashSet<_> =
        vars.iter().map(|(_, v)| v.as_tensor().id()).collect();
    store
        .get_ids()
        .filter(|id| !trained.contains(id))
        .filter_map(|id| store.get_id(*id))
        .map(|t| t.dims().to_vec())
        .collect()
}

/// A LoRA backward pass computes and keeps no gradient for any frozen weight (projections,
/// embedding, output matrix): what the gradient store holds beside the LoRA factors is
/// activation-, norm-, rotary- and mask-shaped. The same check on candle's own matrix product
/// finds the frozen weight's gradient, so the check can fail.
#[test]
fn a_lora_backward_pass_keeps_no_gradient_of_a_frozen_weight() {
    let (mut model, _) = model(false);
    let vars = lora(&mut model, 0.0);
    let examples = examples();
    let refs: Vec<&SupervisedExample> = examples.iter().collect();
    let (sum, _) = summed_loss(&model.model, &refs, 1024).unwrap();
    let store = sum.backward().unwrap();
    let layers = model.model.config().num_hidden_layers;
    for layer in 0..layers {
        for p in Projection::ALL {
            let w = model.model.projection_weight(layer, p).unwrap();
            assert!(
                store.get(&w).is_none(),
                "layer {layer} {p:?} got a gradient"
            );
        }
    }
    let frozen = frozen_shapes(&model);
    let kept = untrained_gradients(&store, &vars);
    assert!(!kept.is_empty());
    for dims in &kept {
        assert!(
            !frozen.contains(dims),
            "a weight-shaped gradient {dims:?} was kept"
        );
    }
    for (name, v) in &vars {
        assert!(store.get(v.as_tensor()).is_some(), "{name} got no gradient");
    }

    // candle's matrix product on a frozen weight keeps its (transposed) gradient.
    let w = model.model.projection_weight(0, Projection::Q).unwrap();
    let x = Var::from_tensor(&Tensor::ones((2, 64), candle_core::DType::F32, w.device()).unwrap())
        .unwrap();
    let plain = x.as_tensor().matmul(&w.t().unwrap()).unwrap();
    let kept = untrained_gradients(&plain.sum_all().unwrap().backward().unwrap(), &[]);
    assert!(kept.iter().any(|d| frozen.contains(d)), "{kept:?}");
}
