//! The optimizer arithmetic as PyTorch and the Hugging Face Trainer compute it: AdamW
//! (`torch.optim.AdamW`, single-tensor path), gradient clipping by global L2 norm
//! (`clip_grad_norm_`), and the linear schedule with warmup (`get_linear_schedule_with_warmup`).

use crate::{Error, Result};
use candle_core::{CpuStorage, DType, Storage, Tensor, Var};
use rayon::prelude::*;

fn candle(context: &'static str) -> impl FnOnce(candle_core::Error) -> Error {
    move |source| Error::Tensor { context, source }
}

/// AdamW's hyper-parameters (torch defaults but the learning rate and weight decay).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamWConfig {
    /// Peak learning rate.
    pub lr: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε, added after the square root.
    pub eps: f64,
    /// Decoupled weight decay (on parameters that take it).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    /// lr 1e-4, betas (0.9, 0.999), eps 1e-8, no weight decay (the Trainer's defaults but lr).
    fn default() -> Self {
        AdamWConfig {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// One trained parameter: the f32 master the optimizer updates, whether weight decay applies,
/// and the f32 moments.
#[derive(Debug)]
pub struct Param {
    /// The parameter's name (Hugging Face or PEFT key).
    pub name: String,
    /// The f32 master weight.
    pub master: Var,
    /// The variable the model computes with, when it is not the master (a bf16 copy).
    pub compute: Option<Var>,
    /// Whether weight decay applies (not to biases and norm weights).
    pub decay: bool,
    /// First moment (f32).
    pub m: Tensor,
    /// Second moment (f32).
    pub v: Tensor,
}

impl Param {
    /// A parameter computing with `var`: its own master when `var` is f32, else an f32 copy.
    pub fn new(name: impl Into<String>, var: Var, decay: bool) -> Result<Param> {
        let (master, compute) = if var.dtype() == DType::F32 {
            (var, None)
        } else {
            let f = var.to_dtype(DType::F32).map_err(candle("f32 master"))?;
            (
                Var::from_tensor(&f).map_err(candle("f32 master"))?,
                Some(var),
            )
        };
        let zeros = master.zeros_like().map_err(candle("moments"))?;
        Ok(Param {
            name: name.into(),
            m: zeros.clone(),
            v: zeros,
            master,
            compute,
            decay,
        })
    }

    /// The variable whose gradient the backward pass gives.
    pub fn grad_var(&self) -> &Var {
        self.compute.as_ref().unwrap_or(&self.master)
    }
}

/// Whether the Hugging Face Trainer decays a parameter of this name: not biases, not norm
/// weights (names matching `bias`, `layernorm`, `rmsnorm`, `norm` as a path element, `_norm`).
pub fn decays(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let norm_element = lower.split('.').any(|part| part == "norm");
    !(lower.contains("bias")
        || lower.contains("layernorm")
        || lower.contains("rmsnorm")
        || lower.contains("_norm")
        || norm_element)
}

/// Runs `f` on the elements of a contiguous f32 tensor on the CPU (`None` for any other).
fn with_cpu_f32<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> Option<R> {
    let (storage, layout) = t.storage_and_layout();
    let (start, end) = layout.contiguous_offsets()?;
    match &*storage {
        Storage::Cpu(CpuStorage::F32(v)) => Some(f(&v[start..end])),
        _ => None,
    }
}

/// Elements per parallel task of the CPU's optimizer loops.
const CHUNK: usize = 1 << 16;

/// The sum of squares of a gradient, in f64.
fn squares(g: &Tensor) -> Result<f64> {
    let fast = with_cpu_f32(g, |v| {
        v.par_chunks(CHUNK)
            .map(|c| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>())
            .sum::<f64>()
    });
    match fast {
        Some(s) => Ok(s),
        None => g
            .sqr()
            .and_then(|s| s.sum_all())
            .and_then(|s| s.to_dtype(DType::F64))
            .and_then(|s| s.to_scalar::<f64>())
            .map_err(candle("gradient norm")),
    }
}

/// The global L2 norm of `grads` (f32) and the factor torch's `clip_grad_norm_` multiplies
/// them by: `min(1, max_norm / (norm + 1e-6))`.
pub fn clip_factor(grads: &[Tensor], max_norm: f64) -> Result<(f64, f64)> {
    let mut total = 0f64;
    for g in grads {
        total += squares(g)?;
    }
    let norm = total.sqrt();
    Ok((norm, (max_norm / (norm + 1e-6)).min(1.0)))
}

/// torch's AdamW step on every parameter, with gradients `grads · grad_scale` (f32, one per
/// parameter; `grad_scale` is the clipping factor, 1 without clipping) at learning rate `lr`
/// and step number `step` (1-based, after incrementing):
/// `p *= 1 - lr·wd; m += (1-β1)(g - m); v = β2 v + (1-β2) g²;
/// p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)`.
///
/// On the CPU each parameter is updated in one parallel pass over its weights, gradient and
/// moments; elsewhere with candle's ops.
pub fn adamw_step(
    params: &mut [Param],
    grads: &[Tensor],
    config: &AdamWConfig,
    lr: f64,
    step: u64,
    grad_scale: f64,
) -> Result<()> {
    let bc1 = 1.0 - config.beta1.powi(step as i32);
    let bc2_sqrt = (1.0 - config.beta2.powi(step as i32)).sqrt();
    let step_size = lr / bc1;
    for (p, g) in params.iter_mut().zip(grads) {
        let decay = if p.decay {
            1.0 - lr * config.weight_decay
        } else {
            1.0
        };
        let k = Coefficients {
            decay: decay as f32,
            scale: grad_scale as f32,
            b2: config.beta2 as f32,
            one_minus_b1: (1.0 - config.beta1) as f32,
            one_minus_b2: (1.0 - config.beta2) as f32,
            bc2_sqrt: bc2_sqrt as f32,
            eps: config.eps as f32,
            step_size: step_size as f32,
        };
        let (w, m, v) = match cpu_update(p, g, &k)? {
            Some(updated) => updated,
            None => {
                let update = || -> candle_core::Result<(Tensor, Tensor, Tensor)> {
                    let g = (g * grad_scale)?;
                    let mut w = p.master.as_tensor().clone();
                    if p.decay && config.weight_decay != 0.0 {
                        w = (w * decay)?;
                    }
                    let m = (&p.m + ((&g - &p.m)? * (1.0 - config.beta1))?)?;
                    let v = ((&p.v * config.beta2)? + (g.sqr()? * (1.0 - config.beta2))?)?;
                    let denom = ((v.sqrt()? / bc2_sqrt)? + config.eps)?;
                    let w = (w - ((&m / denom)? * step_size)?)?;
                    Ok((w, m, v))
                };
                update().map_err(candle("AdamW step"))?
            }
        };
        p.master.set(&w).map_err(candle("AdamW step"))?;
        if let Some(c) = &p.compute {
            c.set(&w.to_dtype(c.dtype()).map_err(candle("compute copy"))?)
                .map_err(candle("compute copy"))?;
        }
        p.m = m;
        p.v = v;
    }
    Ok(())
}

/// One AdamW update's constants, in f32 as torch applies them to f32 tensors.
struct Coefficients {
    decay: f32,
    scale: f32,
    b2: f32,
    one_minus_b1: f32,
    one_minus_b2: f32,
    bc2_sqrt: f32,
    eps: f32,
    step_size: f32,
}

/// The CPU's one-pass update of a parameter, when weights, gradient and moments are all
/// contiguous f32 on the CPU.
fn cpu_update(p: &Param, g: &Tensor, k: &Coefficients) -> Result<Option<(Tensor, Tensor, Tensor)>> {
    let n = p.master.elem_count();
    let (mut w2, mut m2, mut v2) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
    let done = with_cpu_f32(p.master.as_tensor(), |w| {
        with_cpu_f32(g, |g| {
            with_cpu_f32(&p.m, |m| {
                with_cpu_f32(&p.v, |v| {
                    w2.par_chunks_mut(CHUNK)
                        .zip(m2.par_chunks_mut(CHUNK))
                        .zip(v2.par_chunks_mut(CHUNK))
                        .enumerate()
                        .for_each(|(c, ((w2, m2), v2))| {
                            let at = c * CHUNK;
                            let range = at..at + w2.len();
                            let (w, g, m, v) = (
                                &w[range.clone()],
                                &g[range.clone()],
                                &m[range.clone()],
                                &v[range],
                            );
                            for i in 0..w2.len() {
                                let gi = g[i] * k.scale;
                                let mi = m[i] + (gi - m[i]) * k.one_minus_b1;
                                let vi = v[i] * k.b2 + gi * gi * k.one_minus_b2;
                                let denom = vi.sqrt() / k.bc2_sqrt + k.eps;
                                w2[i] = w[i] * k.decay - mi / denom * k.step_size;
                                m2[i] = mi;
                                v2[i] = vi;
                            }
                        });
                })
            })
        })
    });
    if !matches!(done, Some(Some(Some(Some(()))))) {
        return Ok(None);
    }
    let device = p.master.device();
    let shape = p.master.shape();
    let tensor = |v: Vec<f32>| Tensor::from_vec(v, shape, device).map_err(candle("AdamW step"));
    Ok(Some((tensor(w2)?, tensor(m2)?, tensor(v2)?)))
}

/// The linear schedule with warmup as a factor on the peak learning rate for update `s`
/// (0-based): `s < W ? s / max(1, W) : max(0, (T - s) / max(1, T - W))`. With `W > 0` the first
/// update uses learning rate 0, as in transformers.
pub fn linear_schedule(step: u64, warmup: u64, total: u64) -> f64 {
    if step < warmup {
        step as f64 / warmup.max(1) as f64
    } else {
        (total.saturating_sub(step) as f64 / total.saturating_sub(warmup).max(1) as f64).max(0.0)
    }
}

/// Warmup steps for a ratio: `ceil(ratio · total)`.
pub fn warmup_steps(ratio: f64, total: u64) -> u64 {
    (ratio * total as f64).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_and_decay_names_follow_transformers() {
        assert_eq!(linear_schedule(0, 2, 4), 0.0);
        assert_eq!(linear_schedule(1, 2, 4), 0.5);
        assert_eq!(linear_schedule(2, 2, 4), 1.0);
        assert_eq!(linear_schedule(3, 2, 4), 0.5);
        assert_eq!(linear_schedule(0, 0, 4), 1.0);
        assert_eq!(warmup_steps(0.03, 100), 3);
        assert_eq!(warmup_steps(0.3, 4), 2);
        assert!(decays("model.layers.0.self_attn.q_proj.weight"));
        assert!(!decays("model.layers.0.input_layernorm.weight"));
        assert!(!decays("model.norm.weight"));
        assert!(!decays("model.layers.1.post_attention_layernorm.weight"));
        assert!(decays("lm_head.weight"));
    }
}
