//! The training path carries gradients: backpropagation equals central finite differences
//! (in f64) for every kind of parameter of a tiny model, untied and tied, on a padded batch.

use candle_nn::{VarBuilder, VarMap};
use indievalue_llm::{DType, Device, Kernels, Llama, LlamaConfig, RopeScaling, Tensor, TokenBatch};

fn config(tied: bool) -> LlamaConfig {
    LlamaConfig {
        hidden_size: 8,
        intermediate_size: 12,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 4,
        vocab_size: 11,
        rms_norm_eps: 1e-5,
        rope_theta: 10_000.0,
        rope_scaling: RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 4.0,
        },
        tie_word_embeddings: tied,
        max_position_embeddings: 64,
    }
}

fn loss(model: &Llama, batch: &TokenBatch, weights: &Tensor) -> Tensor {
    let logits = model.forward_logits(batch).unwrap();
    (logits * weights).unwrap().sum_all().unwrap()
}

fn check(tied: bool) {
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
    let model = Llama::from_var_builder(config(tied), &vb, Kernels::Differentiable, 0.5).unwrap();
    let batch = TokenBatch::right_padded(&[vec![1, 5, 7, 2, 9], vec![3, 10, 4]], 0).unwrap();
    let weights = Tensor::randn(0f64, 1.0, (2, 5, 11), &Device::Cpu).unwrap();
    let grads = loss(&model, &batch, &weights).backward().unwrap();
    let vars = varmap.data().lock().unwrap().clone();
    let kinds = [
        "model.embed_tokens.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.layers.0.self_attn.k_proj.weight",
        "model.layers.0.self_attn.v_proj.weight",
        "model.layers.0.self_attn.o_proj.weight",
        "model.layers.1.post_attention_layernorm.weight",
        "model.layers.1.mlp.gate_proj.weight",
        "model.layers.1.mlp.up_proj.weight",
        "model.layers.1.mlp.down_proj.weight",
        "model.norm.weight",
        "lm_head.weight",
    ];
    let mut checked = 0;
    for name in kinds {
        if tied && name == "lm_head.weight" {
            assert!(!vars.contains_key(name), "a tied model has no lm_head");
            continue;
        }
        let var = &vars[name];
        let grad = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient reached {name}"));
        let analytic = grad.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let original = var.as_tensor().copy().unwrap();
        let flat = original.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let n = flat.len();
        // First, last and a middle element (for the embedding: rows of used tokens).
        let picks = if name == "model.embed_tokens.weight" {
            vec![5 * 8 + 1, 10 * 8 + 7, 3 * 8]
        } else {
            vec![0, n / 2 + 1, n - 1]
        };
        for &i in &picks {
            let eps = 1e-5;
            let shifted = |delta: f64| {
                let mut v = flat.clone();
                v[i] += delta;
                var.set(&Tensor::from_vec(v, original.shape(), &Device::Cpu).unwrap())
                    .unwrap();
                loss(&model, &batch, &weights).to_scalar::<f64>().unwrap()
            };
            let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            var.set(&original).unwrap();
            let a = analytic[i];
            let err = (a - numeric).abs() / (1.0 + numeric.abs());
            assert!(
                err < 1e-6,
                "{name}[{i}] (tied {tied}): backprop {a}, finite differences {numeric}"
            );
            assert!(
                a.abs() > 1e-9,
                "{name}[{i}]: the gradient is zero; the check would be vacuous"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, if tied { 33 } else { 36 });
}

#[test]
fn gradients_match_finite_differences_untied() {
    check(false);
}

#[test]
fn gradients_match_finite_differences_tied() {
    check(true);
}
