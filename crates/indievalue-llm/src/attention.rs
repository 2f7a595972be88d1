//! Causal attention as one differentiable op on the CPU (f32): scores, mask, softmax and the
//! product with the values, forward and backward, without the `[heads, len, len]` intermediates
//! that composing candle's ops keeps for the backward pass.
//!
//! Queries are taken in blocks of [`QUERY_BLOCK`]; a block only meets the keys up to its last
//! query (the causal mask), so half of the score matrix is never computed. The forward pass
//! keeps one log-sum-exp per query; the backward pass recomputes each block's probabilities
//! from it (as flash attention does) and runs the four products of the gradients through the
//! backend's own matrix product. The mask is the model's: a query sees itself and the earlier
//! real tokens of its row.
//!
//! On other devices and dtypes the model composes candle's ops instead (their CUDA kernels
//! are fast there); this op's CUDA forward is therefore never asked for.

use crate::fused_cpu::exp_shifted;
use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Storage, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Queries per block.
const QUERY_BLOCK: usize = 128;

/// `softmax(q kᵀ + mask) v` for grouped queries `q` `[rows, kv_heads, group·len, d]` (already
/// scaled) and keys, values `[rows, kv_heads, len, d]`.
pub(crate) struct CausalAttention {
    /// Per row and position: a real token (row-major, `rows × len`).
    pub valid: Arc<Vec<bool>>,
    /// Query heads per key/value head.
    pub group: usize,
    /// Log-sum-exp of every query's scores, from the forward pass (`rows·kv_heads·group·len`).
    lse: Mutex<Option<Vec<f32>>>,
}

impl CausalAttention {
    pub(crate) fn new(valid: Arc<Vec<bool>>, group: usize) -> CausalAttention {
        CausalAttention {
            valid,
            group,
            lse: Mutex::new(None),
        }
    }
}

/// Sizes of one call.
#[derive(Clone, Copy)]
struct Dims {
    rows: usize,
    kv_heads: usize,
    group: usize,
    len: usize,
    d: usize,
}

impl Dims {
    fn of(q: &Layout, k: &Layout, group: usize) -> candle_core::Result<Dims> {
        let (rows, kv_heads, gn, d) = q.shape().dims4()?;
        let (r2, h2, len, d2) = k.shape().dims4()?;
        if rows != r2 || kv_heads != h2 || d != d2 || gn != group * len {
            candle_core::bail!(
                "causal attention: queries {:?}, keys {:?}",
                q.dims(),
                k.dims()
            );
        }
        if !q.is_contiguous() || !k.is_contiguous() {
            candle_core::bail!("causal attention: inputs must be contiguous");
        }
        Ok(Dims {
            rows,
            kv_heads,
            group,
            len,
            d,
        })
    }

    /// Offset of query `i` of head `g` of key/value head `h` in row `r`.
    fn q(&self, r: usize, h: usize, g: usize, i: usize) -> usize {
        (((r * self.kv_heads + h) * self.group + g) * self.len + i) * self.d
    }

    /// Offset of key `j` of key/value head `h` in row `r`.
    fn k(&self, r: usize, h: usize, j: usize) -> usize {
        ((r * self.kv_heads + h) * self.len + j) * self.d
    }

    /// Index of query `i`'s log-sum-exp.
    fn lse(&self, r: usize, h: usize, g: usize, i: usize) -> usize {
        ((r * self.kv_heads + h) * self.group + g) * self.len + i
    }
}

fn f32s(s: &CpuStorage) -> candle_core::Result<&[f32]> {
    match s {
        CpuStorage::F32(v) => Ok(v),
        _ => candle_core::bail!("causal attention runs in f32"),
    }
}

fn into_f32s(s: CpuStorage) -> candle_core::Result<Vec<f32>> {
    match s {
        CpuStorage::F32(v) => Ok(v),
        _ => candle_core::bail!("causal attention runs in f32"),
    }
}

/// A `[rows, cols]` view at `offset` with row stride `stride` (transposed: `[cols, rows]`).
fn view(rows: usize, cols: usize, stride: usize, offset: usize, transposed: bool) -> Layout {
    if transposed {
        Layout::new(Shape::from((cols, rows)), vec![1, stride], offset)
    } else {
        Layout::new(Shape::from((rows, cols)), vec![stride, 1], offset)
    }
}

/// `lhs [m, k] · rhs [k, n]` through the backend's product.
fn product(
    lhs: &CpuStorage,
    lhs_l: &Layout,
    rhs: &CpuStorage,
    rhs_l: &Layout,
) -> candle_core::Result<Vec<f32>> {
    let (m, k) = lhs_l.shape().dims2()?;
    let n = rhs_l.shape().dims2()?.1;
    into_f32s(lhs.matmul(rhs, (1, m, n, k), lhs_l, rhs_l)?)
}

/// Scores of queries `i0..i0+b` against keys `0..keys` into probabilities, in place; with
/// `lse` given (backward) they are `exp(s - lse)`, else the softmax, whose log-sum-exp is
/// written into `lse_out`.
fn probabilities(
    scores: &mut [f32],
    keys: usize,
    i0: usize,
    valid: &[bool],
    lse: Option<&[f32]>,
    lse_out: &mut [f32],
) {
    let padded = valid[..keys].iter().any(|v| !v);
    scores
        .par_chunks_mut(keys)
        .zip(lse_out.par_iter_mut())
        .enumerate()
        .for_each(|(row, (s, out))| {
            let i = i0 + row;
            // Query i sees keys 0..=i, less the padding before it.
            let (seen, unseen) = s.split_at_mut(i + 1);
            unseen.fill(0.0);
            if padded {
                for (j, x) in seen[..i].iter_mut().enumerate() {
                    if !valid[j] {
                        *x = f32::NEG_INFINITY;
                    }
                }
            }
            match lse {
                Some(l) => exp_shifted(seen, l[row]),
                None => {
                    let max = seen.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
                    exp_shifted(seen, max);
                    if padded {
                        zero_padding(seen, valid);
                    }
                    let sum: f32 = seen.iter().sum();
                    let inv = 1.0 / sum;
                    for x in seen.iter_mut() {
                        *x *= inv;
                    }
                    *out = max + sum.ln();
                }
            }
            if padded {
                zero_padding(seen, valid);
            }
        });
}

/// Zeroes the keys before the last that are padding.
fn zero_padding(seen: &mut [f32], valid: &[bool]) {
    let last = seen.len() - 1;
    for (x, &v) in seen[..last].iter_mut().zip(valid) {
        if !v {
            *x = 0.0;
        }
    }
}

fn cpu(s: &Storage) -> candle_core::Result<&CpuStorage> {
    match s {
        Storage::Cpu(c) => Ok(c),
        _ => candle_core::bail!("causal attention runs on the CPU"),
    }
}

impl CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        q: &CpuStorage,
        lq: &Layout,
        k: &CpuStorage,
        lk: &Layout,
        v: &CpuStorage,
        lv: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = Dims::of(lq, lk, self.group)?;
        if !lv.is_contiguous() || lv.shape() != lk.shape() {
            candle_core::bail!("causal attention: values {:?}", lv.dims());
        }
        let Dims { rows, d, len, .. } = dims;
        let (q0, k0, v0) = (lq.start_offset(), lk.start_offset(), lv.start_offset());
        let mut out = vec![0f32; lq.shape().elem_count()];
        let mut lse = vec![0f32; rows * dims.kv_heads * dims.group * len];
        for r in 0..rows {
            let valid = &self.valid[r * len..(r + 1) * len];
            for h in 0..dims.kv_heads {
                for g in 0..dims.group {
                    for i0 in (0..len).step_by(QUERY_BLOCK) {
                        let b = QUERY_BLOCK.min(len - i0);
                        let keys = i0 + b;
                        let mut p = product(
                            q,
                            &view(b, d, d, q0 + dims.q(r, h, g, i0), false),
                            k,
                            &view(keys, d, d, k0 + dims.k(r, h, 0), true),
                        )?;
                        let at = dims.lse(r, h, g, i0);
                        probabilities(&mut p, keys, i0, valid, None, &mut lse[at..at + b]);
                        let o = product(
                            &CpuStorage::F32(p),
                            &view(b, keys, keys, 0, false),
                            v,
                            &view(keys, d, d, v0 + dims.k(r, h, 0), false),
                        )?;
                        let at = dims.q(r, h, g, i0);
                        out[at..at + b * d].copy_from_slice(&o);
                    }
                }
            }
        }
        if let Ok(mut slot) = self.lse.lock() {
            *slot = Some(lse);
        }
        Ok((CpuStorage::F32(out), lq.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        out: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let lse = self
            .lse
            .lock()
            .ok()
            .and_then(|l| l.clone())
            .ok_or_else(|| candle_core::Error::Msg("causal attention: no forward pass".into()))?;
        let grad = grad.contiguous()?;
        let (sq, lq) = q.storage_and_layout();
        let (sk, lk) = k.storage_and_layout();
        let (sv, lv) = v.storage_and_layout();
        let (so, lo) = out.storage_and_layout();
        let (sg, lg) = grad.storage_and_layout();
        let (cq, ck, cv) = (cpu(&sq)?, cpu(&sk)?, cpu(&sv)?);
        let (co, cg) = (cpu(&so)?, cpu(&sg)?);
        let dims = Dims::of(lq, lk, self.group)?;
        let Dims { rows, d, len, .. } = dims;
        let (q0, k0, v0) = (lq.start_offset(), lk.start_offset(), lv.start_offset());
        let (o0, g0) = (lo.start_offset(), lg.start_offset());
        let (fo, fg) = (f32s(co)?, f32s(cg)?);
        let mut dq = vec![0f32; lq.shape().elem_count()];
        let mut dk = vec![0f32; lk.shape().elem_count()];
        let mut dv = vec![0f32; lk.shape().elem_count()];
        let mut scratch = vec![0f32; QUERY_BLOCK];
        for r in 0..rows {
            let valid = &self.valid[r * len..(r + 1) * len];
            for h in 0..dims.kv_heads {
                let kv_at = dims.k(r, h, 0);
                for g in 0..dims.group {
                    for i0 in (0..len).step_by(QUERY_BLOCK) {
                        let b = QUERY_BLOCK.min(len - i0);
                        let keys = i0 + b;
                        let qa = dims.q(r, h, g, i0);
                        let la = dims.lse(r, h, g, i0);
                        let mut p = product(
                            cq,
                            &view(b, d, d, q0 + qa, false),
                            ck,
                            &view(keys, d, d, k0 + kv_at, true),
                        )?;
                        probabilities(
                            &mut p,
                            keys,
                            i0,
                            valid,
                            Some(&lse[la..la + b]),
                            &mut scratch[..b],
                        );
                        // dP = dO Vᵀ, then dS = P (dP - rowsum(dO O)).
                        let mut ds = product(
                            cg,
                            &view(b, d, d, g0 + qa, false),
                            cv,
                            &view(keys, d, d, v0 + kv_at, true),
                        )?;
                        let go = &fg[g0 + qa..g0 + qa + b * d];
                        let oo = &fo[o0 + qa..o0 + qa + b * d];
                        ds.par_chunks_mut(keys)
                            .zip(p.par_chunks(keys))
                            .zip(go.par_chunks(d).zip(oo.par_chunks(d)))
                            .for_each(|((ds, p), (go, oo))| {
                                let dot: f32 = go.iter().zip(oo).map(|(a, b)| a * b).sum();
                                for (x, &pp) in ds.iter_mut().zip(p) {
                                    *x = pp * (*x - dot);
                                }
                            });
                        let p = CpuStorage::F32(p);
                        let ds = CpuStorage::F32(ds);
                        let block = view(b, keys, keys, 0, false);
                        let block_t = view(b, keys, keys, 0, true);
                        let dq_part =
                            product(&ds, &block, ck, &view(keys, d, d, k0 + kv_at, false))?;
                        dq[qa..qa + b * d].copy_from_slice(&dq_part);
                        let dk_part = product(&ds, &block_t, cq, &view(b, d, d, q0 + qa, false))?;
                        for (x, y) in dk[kv_at..kv_at + keys * d].iter_mut().zip(&dk_part) {
                            *x += y;
                        }
                        let dv_part = product(&p, &block_t, cg, &view(b, d, d, g0 + qa, false))?;
                        for (x, y) in dv[kv_at..kv_at + keys * d].iter_mut().zip(&dv_part) {
                            *x += y;
                        }
                    }
                }
            }
        }
        let device = q.device();
        Ok((
            Some(Tensor::from_vec(dq, q.shape(), device)?),
            Some(Tensor::from_vec(dk, k.shape(), device)?),
            Some(Tensor::from_vec(dv, v.shape(), device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{D, Device, Var};

    /// Whether query `i` of a row sees key `j` (the model's mask).
    fn visible(valid: &[bool], i: usize, j: usize) -> bool {
        j == i || (j < i && valid[j])
    }

    /// The composed reference: scores, the model's mask, softmax, values.
    fn composed(q: &Tensor, k: &Tensor, v: &Tensor, valid: &[bool], group: usize) -> Tensor {
        let (rows, kvh, gn, _) = q.dims4().unwrap();
        let n = gn / group;
        let mut mask = vec![0f32; rows * n * n];
        for r in 0..rows {
            for i in 0..n {
                for j in 0..n {
                    if !visible(&valid[r * n..(r + 1) * n], i, j) {
                        mask[(r * n + i) * n + j] = f32::NEG_INFINITY;
                    }
                }
            }
        }
        let mask = Tensor::from_vec(mask, (rows, 1, 1, n, n), &Device::Cpu).unwrap();
        let scores = q.matmul(&k.t().unwrap()).unwrap();
        let scores = scores
            .reshape((rows, kvh, group, n, n))
            .unwrap()
            .broadcast_add(&mask)
            .unwrap()
            .reshape((rows, kvh, gn, n))
            .unwrap();
        let probs = candle_nn::ops::softmax(&scores, D::Minus1).unwrap();
        probs.matmul(v).unwrap()
    }

    fn random(shape: &[usize], seed: u64) -> Var {
        let mut rng = indievalue_rng::Rng::new(seed);
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect();
        Var::from_vec(data, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn fused_causal_attention_equals_composed_ops_forward_and_backward() {
        // Two rows, the second padded; 300 positions cross query blocks.
        let (rows, kvh, group, n, d) = (2, 2, 3, 300, 8);
        let mut valid = vec![true; rows * n];
        for v in valid[n + 250..].iter_mut() {
            *v = false;
        }
        let q = random(&[rows, kvh, group * n, d], 1);
        let k = random(&[rows, kvh, n, d], 2);
        let v = random(&[rows, kvh, n, d], 3);
        let upstream = random(&[rows, kvh, group * n, d], 4);
        let op = CausalAttention::new(Arc::new(valid.clone()), group);
        let fused = q.apply_op3(&k, &v, op).unwrap();
        let want = composed(&q, &k, &v, &valid, group);
        let d_out = crate::max_abs_difference(&fused, &want).unwrap();
        assert!(d_out < 1e-5, "outputs differ by {d_out}");
        let grads_fused = (fused * upstream.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let grads_want = (want * upstream.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        for (name, x) in [("q", &q), ("k", &k), ("v", &v)] {
            let a = grads_fused.get(x.as_tensor()).unwrap();
            let b = grads_want.get(x.as_tensor()).unwrap();
            let diff = crate::max_abs_difference(a, b).unwrap();
            assert!(diff < 1e-5, "gradient of {name} differs by {diff}");
        }
    }
}
