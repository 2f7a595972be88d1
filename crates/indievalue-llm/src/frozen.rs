//! A projection by a frozen weight: `x · wᵀ` whose backward pass computes the gradient of `x`
//! only.
//!
//! candle's matrix product always builds both operands' gradients, so a frozen weight `w` (a
//! plain tensor, not a variable) still gets a full `[out, in]` gradient computed and held until
//! the backward pass ends: for LoRA that is the whole model's size in gradients nobody reads,
//! and a third of the backward pass's products. [`frozen_linear`] is a custom op whose forward
//! is the backend's own matrix product (CPU and CUDA) and whose backward returns `grad · w` for
//! `x` and nothing for `w`.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};

/// `x · wᵀ` for `x` `[m, in]` and `w` `[out, in]`, with no gradient for `w`.
struct FrozenMatmul;

fn product_dims(l1: &Layout, l2: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (m, k) = l1.shape().dims2()?;
    let (n, k2) = l2.shape().dims2()?;
    if k != k2 {
        candle_core::bail!("frozen projection: input width {k}, weight width {k2}");
    }
    Ok((m, n, k))
}

impl CustomOp2 for FrozenMatmul {
    fn name(&self) -> &'static str {
        "frozen-matmul"
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

    fn bwd(
        &self,
        _x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.matmul(w)?), None))
    }
}

/// `x · wᵀ` for `x` of shape `[.., in]` and a frozen `w` of shape `[out, in]`: the same numbers
/// as candle's matrix product (it runs the backend's own), but a backward pass computes and
/// keeps no gradient for `w`, only for `x`.
///
/// ```
/// use indievalue_llm::{frozen_linear, Device, Tensor, Var};
/// let w = Tensor::new(&[[1f32, 2.], [3., 4.], [5., 6.]], &Device::Cpu)?;
/// let x = Var::new(&[[1f32, -1.]], &Device::Cpu)?;
/// let y = frozen_linear(x.as_tensor(), &w)?;
/// assert_eq!(y.to_vec2::<f32>()?, [[-1., -1., -1.]]);
/// let grads = y.sum_all()?.backward()?;
/// assert_eq!(grads.get(x.as_tensor()).unwrap().to_vec2::<f32>()?, [[9., 12.]]);
/// assert!(grads.get(&w).is_none());
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn frozen_linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
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
    let y = flat.apply_op2(&w, FrozenMatmul)?;
    let mut shape = dims.to_vec();
    let last = shape.len() - 1;
    shape[last] = w.dim(0)?;
    y.reshape(shape)
}
