//! RMS norm and rotary embedding as single differentiable ops on the CPU (f32).
//!
//! Composed from candle's primitives, each of them broadcasts its frozen operand (norm weight,
//! rotary table) to the activation's shape, and candle's backward pass then computes and keeps
//! an activation-sized gradient for that broadcast copy, per layer, until the pass ends; they
//! also take five or six passes over the activations where one does. These ops return the
//! input's gradient only (and the norm weight's when it is a variable), in one pass each way.
//!
//! The model uses them on the CPU in f32 with differentiable kernels, in the layer-by-layer
//! pass ([`crate::Llama::decoder_layer`]); elsewhere it composes candle's ops.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

fn contiguous_f32<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("{what} runs in f32");
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("{what}: input must be contiguous"),
    }
}

/// `e^x` to about one part in 10⁷ for `x` in `[-87, 88]` (clamped there), in plain arithmetic
/// the compiler vectorises: `e^x = 2^n · e^r`, `n = round(x / ln 2)`, `e^r` by its Taylor
/// polynomial of degree 7 on `|r| ≤ ln 2 / 2` (truncation below 6·10⁻⁹).
#[inline(always)]
pub(crate) fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding 1.5·2²³ rounds to the nearest integer in the mantissa's last place.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// `x ← e^(x - shift)` over a slice (`-inf` gives about 10⁻³⁸, not 0).
pub(crate) fn exp_shifted(xs: &mut [f32], shift: f32) {
    for x in xs.iter_mut() {
        *x = fast_exp(*x - shift);
    }
}

/// Rows of at least this many elements are worth a thread.
const PAR_ROWS: usize = 64;

/// `x / sqrt(mean(x²) + eps) · w` over the last dimension of `x`, weight `w` `[hidden]`.
pub(crate) struct RmsNorm {
    pub eps: f32,
}

impl CustomOp2 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s1, l1, "rms norm")?;
        let w = contiguous_f32(s2, l2, "rms norm")?;
        let h = w.len();
        if h == 0 || x.len() % h != 0 || l1.dims().last() != Some(&h) {
            candle_core::bail!("rms norm: input {:?}, weight {:?}", l1.dims(), l2.dims());
        }
        let mut out = vec![0f32; x.len()];
        let eps = self.eps;
        out.par_chunks_mut(h)
            .with_min_len(PAR_ROWS)
            .zip(x.par_chunks(h))
            .for_each(|(o, x)| {
                let ms = x.iter().map(|v| v * v).sum::<f32>() / h as f32;
                let r = 1.0 / (ms + eps).sqrt();
                for ((o, &x), &w) in o.iter_mut().zip(x).zip(w) {
                    *o = x * r * w;
                }
            });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let h = w.elem_count();
        let xs = x.flatten_all()?.to_vec1::<f32>()?;
        let ws = w.to_vec1::<f32>()?;
        let gs = grad.flatten_all()?.to_vec1::<f32>()?;
        let eps = self.eps;
        let mut dx = vec![0f32; xs.len()];
        dx.par_chunks_mut(h)
            .with_min_len(PAR_ROWS)
            .zip(xs.par_chunks(h).zip(gs.par_chunks(h)))
            .for_each(|(dx, (x, g))| {
                let ms = x.iter().map(|v| v * v).sum::<f32>() / h as f32;
                let r = 1.0 / (ms + eps).sqrt();
                // dx = r · (g·w - x̂ · mean(g·w·x̂)), x̂ = x·r.
                let dot = x
                    .iter()
                    .zip(g)
                    .zip(&ws)
                    .map(|((x, g), w)| g * w * x * r)
                    .sum::<f32>()
                    / h as f32;
                for (((d, &x), &g), &w) in dx.iter_mut().zip(x).zip(g).zip(&ws) {
                    *d = r * (g * w - x * r * dot);
                }
            });
        let dw = if w.is_variable() {
            let mut dw = vec![0f32; h];
            for (x, g) in xs.chunks(h).zip(gs.chunks(h)) {
                let ms = x.iter().map(|v| v * v).sum::<f32>() / h as f32;
                let r = 1.0 / (ms + eps).sqrt();
                for ((d, &x), &g) in dw.iter_mut().zip(x).zip(g) {
                    *d += g * x * r;
                }
            }
            Some(Tensor::from_vec(dw, w.shape(), w.device())?)
        } else {
            None
        };
        Ok((Some(Tensor::from_vec(dx, x.shape(), x.device())?), dw))
    }
}

/// Rotary tables of one batch: cos and sin `[rows, len, d/2]`.
#[derive(Debug)]
pub(crate) struct RotaryTables {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub rows: usize,
    pub len: usize,
    pub half: usize,
}

/// The rotary embedding of `x` `[rows, heads, len, d]` (rotate-half convention): first half
/// `x₁ cos − x₂ sin`, second half `x₂ cos + x₁ sin`.
pub(crate) struct Rotary {
    pub tables: Arc<RotaryTables>,
}

impl Rotary {
    /// Runs `f(table row, x row)` over every (row, head, position) of `x`, in parallel.
    fn apply(&self, x: &[f32], dims: &[usize], inverse: bool) -> candle_core::Result<Vec<f32>> {
        let t = &self.tables;
        let [rows, heads, len, d] = dims else {
            candle_core::bail!("rotary embedding: input {dims:?} is not [rows, heads, len, d]");
        };
        if *rows != t.rows || *len != t.len || *d != 2 * t.half {
            candle_core::bail!("rotary embedding: input {dims:?} does not fit the tables");
        }
        let (half, len, heads) = (t.half, *len, *heads);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(2 * half)
            .with_min_len(PAR_ROWS)
            .zip(x.par_chunks(2 * half))
            .enumerate()
            .for_each(|(i, (o, x))| {
                let (r, p) = (i / (heads * len), i % len);
                let at = (r * len + p) * half;
                let (cos, sin) = (&t.cos[at..at + half], &t.sin[at..at + half]);
                let (x1, x2) = x.split_at(half);
                let (o1, o2) = o.split_at_mut(half);
                for k in 0..half {
                    let (c, s) = (cos[k], if inverse { -sin[k] } else { sin[k] });
                    o1[k] = x1[k] * c - x2[k] * s;
                    o2[k] = x2[k] * c + x1[k] * s;
                }
            });
        Ok(out)
    }
}

impl CustomOp1 for Rotary {
    fn name(&self) -> &'static str {
        "rotary-embedding"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "rotary embedding")?;
        let out = self.apply(x, l.dims(), false)?;
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    /// The rotation's transpose is the rotation by the negated angle.
    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let g = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let out = self.apply(&g, x.dims(), true)?;
        Ok(Some(Tensor::from_vec(out, x.shape(), x.device())?))
    }
}

/// The summed cross-entropy of logits `[rows, vocab]` against one target per row, with its
/// backward pass `softmax − one-hot` in one pass; the forward keeps each row's log-sum-exp.
struct CrossEntropySum {
    targets: Vec<u32>,
    lse: Mutex<Option<Vec<f32>>>,
}

impl CustomOp1 for CrossEntropySum {
    fn name(&self) -> &'static str {
        "cross-entropy-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous_f32(s, l, "cross-entropy")?;
        let (rows, vocab) = l.shape().dims2()?;
        if rows != self.targets.len() || self.targets.iter().any(|&t| t as usize >= vocab) {
            candle_core::bail!(
                "cross-entropy: {rows} rows of {vocab} logits, targets {:?}",
                self.targets
            );
        }
        let mut lse = vec![0f32; rows];
        lse.par_iter_mut()
            .zip(x.par_chunks(vocab))
            .for_each(|(lse, x)| {
                let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                let mut buf = [0f32; 256];
                let mut sum = 0f32;
                for part in x.chunks(buf.len()) {
                    let e = &mut buf[..part.len()];
                    e.copy_from_slice(part);
                    exp_shifted(e, max);
                    sum += e.iter().sum::<f32>();
                }
                *lse = max + sum.ln();
            });
        let loss: f64 = lse
            .iter()
            .zip(x.chunks(vocab).zip(&self.targets))
            .map(|(&l, (x, &t))| f64::from(l - x[t as usize]))
            .sum();
        if let Ok(mut slot) = self.lse.lock() {
            *slot = Some(lse);
        }
        Ok((CpuStorage::F32(vec![loss as f32]), Shape::from(())))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let lse = self
            .lse
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .ok_or_else(|| candle_core::Error::Msg("cross-entropy: no forward pass".into()))?;
        let g = grad.to_scalar::<f32>()?;
        let (_, vocab) = x.dims2()?;
        let mut dx = x.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        dx.par_chunks_mut(vocab)
            .zip(lse.par_iter().zip(self.targets.par_iter()))
            .for_each(|(d, (&l, &t))| {
                exp_shifted(d, l);
                d[t as usize] -= 1.0;
                for v in d.iter_mut() {
                    *v *= g;
                }
            });
        Ok(Some(Tensor::from_vec(dx, x.shape(), x.device())?))
    }
}

/// `-Σ_rows log softmax(logits)[row, target[row]]` for logits `[rows, vocab]`: a scalar that
/// carries gradients. On the CPU in f32 one fused op (no logits-sized intermediates kept);
/// elsewhere candle's log-softmax and gather.
///
/// ```
/// use indievalue_llm::{summed_cross_entropy, Device, Tensor};
/// let logits = Tensor::new(&[[0f32, 0.0], [2.0, 0.0]], &Device::Cpu)?;
/// let loss = summed_cross_entropy(&logits, &[1, 0])?.to_scalar::<f32>()?;
/// let want = 2f32.ln() + (1.0 + (-2f32).exp()).ln();
/// assert!((loss - want).abs() < 1e-6);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn summed_cross_entropy(logits: &Tensor, targets: &[u32]) -> candle_core::Result<Tensor> {
    if logits.device().is_cpu() && logits.dtype() == candle_core::DType::F32 {
        let op = CrossEntropySum {
            targets: targets.to_vec(),
            lse: Mutex::new(None),
        };
        return logits.contiguous()?.apply_op1(op);
    }
    let tgt = Tensor::new(targets, logits.device())?.unsqueeze(1)?;
    let log_probs = candle_nn::ops::log_softmax(logits, candle_core::D::Minus1)?;
    log_probs.gather(&tgt, 1)?.sum_all()?.neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Var};

    fn random(shape: &[usize], seed: u64) -> Var {
        let mut rng = indievalue_rng::Rng::new(seed);
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect();
        Var::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    fn grad_of(y: &Tensor, up: &Tensor, x: &Var) -> Tensor {
        let g = (y * up).unwrap().sum_all().unwrap().backward().unwrap();
        g.get(x.as_tensor()).unwrap().clone()
    }

    #[test]
    fn fused_cross_entropy_equals_log_softmax_and_gather() {
        let logits = random(&[5, 300], 7);
        let scaled = (logits.as_tensor() * 8.0).unwrap();
        let targets = [0u32, 299, 17, 17, 150];
        let fused = summed_cross_entropy(&scaled, &targets).unwrap();
        let tgt = Tensor::new(&targets, &Device::Cpu)
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        let composed = candle_nn::ops::log_softmax(&scaled, D::Minus1)
            .unwrap()
            .gather(&tgt, 1)
            .unwrap()
            .sum_all()
            .unwrap()
            .neg()
            .unwrap();
        let (a, b) = (
            fused.to_scalar::<f32>().unwrap(),
            composed.to_scalar::<f32>().unwrap(),
        );
        assert!((a - b).abs() < 1e-4 * b.abs(), "{a} vs {b}");
        let up = Tensor::new(0.5f32, &Device::Cpu).unwrap();
        let d = crate::max_abs_difference(
            &grad_of(&fused, &up, &logits),
            &grad_of(&composed, &up, &logits),
        );
        assert!(d.unwrap() < 1e-6);
    }

    #[test]
    fn fast_exp_is_within_two_parts_in_ten_million() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = fast_exp(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_37;
        }
        assert!(worst < 2e-7, "relative error {worst}");
        assert_eq!(fast_exp(0.0), 1.0);
    }

    #[test]
    fn fused_rms_norm_equals_the_composed_one() {
        let x = random(&[2, 70, 24], 1);
        let w = random(&[24], 2);
        let up = random(&[2, 70, 24], 3);
        let fused = x
            .as_tensor()
            .apply_op2(w.as_tensor(), RmsNorm { eps: 1e-5 })
            .unwrap();
        let composed = candle_nn::ops::rms_norm_slow(x.as_tensor(), w.as_tensor(), 1e-5).unwrap();
        assert!(crate::max_abs_difference(&fused, &composed).unwrap() < 1e-5);
        for v in [&x, &w] {
            let d =
                crate::max_abs_difference(&grad_of(&fused, &up, v), &grad_of(&composed, &up, v));
            assert!(d.unwrap() < 1e-5);
        }
        // A frozen weight gets no gradient.
        let frozen = w.as_tensor().detach();
        let y = x
            .as_tensor()
            .apply_op2(&frozen, RmsNorm { eps: 1e-5 })
            .unwrap();
        let store = y.sum_all().unwrap().backward().unwrap();
        assert!(store.get(&frozen).is_none());
        assert!(store.get(x.as_tensor()).is_some());
    }

    #[test]
    fn fused_rotary_embedding_equals_the_composed_one() {
        let (rows, heads, len, half) = (2, 3, 50, 4);
        let x = random(&[rows, heads, len, 2 * half], 4);
        let up = random(&[rows, heads, len, 2 * half], 5);
        let angles = random(&[rows, len, half], 6);
        let (cos, sin) = (angles.cos().unwrap(), angles.sin().unwrap());
        let tables = RotaryTables {
            cos: cos.flatten_all().unwrap().to_vec1().unwrap(),
            sin: sin.flatten_all().unwrap().to_vec1().unwrap(),
            rows,
            len,
            half,
        };
        let fused = x
            .as_tensor()
            .apply_op1(Rotary {
                tables: Arc::new(tables),
            })
            .unwrap();
        let c = Tensor::cat(&[&cos, &cos], D::Minus1)
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        let s = Tensor::cat(&[&sin, &sin], D::Minus1)
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        let x1 = x.as_tensor().narrow(D::Minus1, 0, half).unwrap();
        let x2 = x.as_tensor().narrow(D::Minus1, half, half).unwrap();
        let rotated = Tensor::cat(&[&x2.neg().unwrap(), &x1], D::Minus1).unwrap();
        let composed = (x.as_tensor().broadcast_mul(&c).unwrap()
            + rotated.broadcast_mul(&s).unwrap())
        .unwrap();
        assert!(crate::max_abs_difference(&fused, &composed).unwrap() < 1e-6);
        let d = crate::max_abs_difference(&grad_of(&fused, &up, &x), &grad_of(&composed, &up, &x));
        assert!(d.unwrap() < 1e-6);
    }
}
