//! A projection `x · wᵀ` whose backward pass computes the weight's gradient only when the
//! weight is a variable.
//!
//! candle's matrix product always builds both operands' gradients, so a frozen weight `w` (a
//! plain tensor, not a variable) still gets a full `[out, in]` gradient computed and held until
//! the backward pass ends: for LoRA that is the whole model's size in gradients nobody reads,
//! and a third of the backward pass's products. [`linear`] is a custom op whose forward
//! is the backend's own matrix product (CPU and CUDA) and whose backward returns `grad · w` for
//! `x` and nothing for a frozen `w`. For a trained `w` it returns `gradᵀ · x`, directly in
//! `w`'s own `[out, in]` layout (candle's product through `wᵀ` gives the transposed gradient,
//! which its backward pass then adds element by element through strides).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

/// `x · wᵀ` for `x` `[m, in]` and `w` `[out, in]`.
struct LinearOp;

fn product_dims(l1: &Layout, l2: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (m, k) = l1.shape().dims2()?;
    let (n, k2) = l2.shape().dims2()?;
    if k != k2 {
        candle_core::bail!("projection: input width {k}, weight width {k2}");
    }
    Ok((m, n, k))
}

impl CustomOp2 for LinearOp {
    fn name(&self) -> &'static str {
        "projection"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (m, n, k) = product_dims(l1, l2)?;
        let out = s1.matmul(s2, (1, m, n, k), l1, &l2.transpose(0, 1)?)?;
        Ok((out, Shape::from((m, n))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        let (m, n, k) = product_dims(l1, l2)?;
        let out = s1.matmul(s2, (1, m, n, k), l1, &l2.transpose(0, 1)?)?;
        Ok((out, Shape::from((m, n))))
    }

    /// `x`'s gradient `grad · w`; `w`'s, `gradᵀ · x` (contiguous, `[out, in]`), only when `w` is
    /// a variable.
    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dw = if w.is_variable() {
            Some(grad.t()?.matmul(x)?.detach())
        } else {
            None
        };
        // Detached: gradients must not hold the forward graph (x and w may carry one).
        Ok((Some(grad.matmul(w)?.detach()), dw))
    }
}

/// `x · wᵀ` for `x` of shape `[.., in]` and `w` of shape `[out, in]`: the same numbers as
/// candle's matrix product (it runs the backend's own). A backward pass computes `x`'s gradient
/// and, only when `w` is a variable, `w`'s: a frozen weight gets none computed or kept.
///
/// ```
/// use indievalue_llm::{linear, Device, Tensor, Var};
/// let w = Tensor::new(&[[1f32, 2.], [3., 4.], [5., 6.]], &Device::Cpu)?;
/// let x = Var::new(&[[1f32, -1.]], &Device::Cpu)?;
/// let y = linear(x.as_tensor(), &w)?;
/// assert_eq!(y.to_vec2::<f32>()?, [[-1., -1., -1.]]);
/// let grads = y.sum_all()?.backward()?;
/// assert_eq!(grads.get(x.as_tensor()).unwrap().to_vec2::<f32>()?, [[9., 12.]]);
/// assert!(grads.get(&w).is_none());
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims();
    let inner = dims[dims.len() - 1];
    let outer: usize = dims[..dims.len() - 1].iter().product();
    let flat = x.reshape((outer, inner))?;
    let flat = if flat.is_contiguous() {
        flat
    } else {
        flat.contiguous()?
    };
    let w = if w.is_contiguous() {
        w.clone()
    } else {
        w.contiguous()?
    };
    let y = flat.apply_op2(&w, LinearOp)?;
    let mut shape = dims.to_vec();
    let last = shape.len() - 1;
    shape[last] = w.dim(0)?;
    y.reshape(shape)
}
