//! Low-rank branches on a model's projections (LoRA's arithmetic, nothing of its file format):
//! `y = x Wᵀ + scale · (dropout(x) Aᵀ) Bᵀ`, with `A` `[rank, in]` and `B` `[out, rank]`.

use crate::{Error, Result};
use candle_core::{DType, Tensor};
use indievalue_rng::Rng;
use std::sync::Mutex;

/// The seven projections of a decoder layer, by their Hugging Face module names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Projection {
    /// `self_attn.q_proj`.
    Q,
    /// `self_attn.k_proj`.
    K,
    /// `self_attn.v_proj`.
    V,
    /// `self_attn.o_proj`.
    O,
    /// `mlp.gate_proj`.
    Gate,
    /// `mlp.up_proj`.
    Up,
    /// `mlp.down_proj`.
    Down,
}

impl Projection {
    /// All seven, in layer order.
    pub const ALL: [Projection; 7] = [
        Projection::Q,
        Projection::K,
        Projection::V,
        Projection::O,
        Projection::Gate,
        Projection::Up,
        Projection::Down,
    ];

    /// The module's short name (`q_proj`, ..., `down_proj`), as PEFT's `target_modules` names it.
    pub fn name(self) -> &'static str {
        match self {
            Projection::Q => "q_proj",
            Projection::K => "k_proj",
            Projection::V => "v_proj",
            Projection::O => "o_proj",
            Projection::Gate => "gate_proj",
            Projection::Up => "up_proj",
            Projection::Down => "down_proj",
        }
    }

    /// The module's path inside a decoder layer (`self_attn.q_proj`, `mlp.down_proj`, ...).
    pub fn path(self) -> &'static str {
        match self {
            Projection::Q => "self_attn.q_proj",
            Projection::K => "self_attn.k_proj",
            Projection::V => "self_attn.v_proj",
            Projection::O => "self_attn.o_proj",
            Projection::Gate => "mlp.gate_proj",
            Projection::Up => "mlp.up_proj",
            Projection::Down => "mlp.down_proj",
        }
    }

    /// The projection of a short name.
    pub fn from_name(name: &str) -> Option<Projection> {
        Projection::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One low-rank branch: `scale · (dropout(x) Aᵀ) Bᵀ` added to a projection's output. `a` and `b`
/// are usually variables (what LoRA trains); `x` is cast to their dtype.
#[derive(Debug, Clone)]
pub struct LowRank {
    /// `[rank, in]`.
    pub a: Tensor,
    /// `[out, rank]`.
    pub b: Tensor,
    /// The factor on the branch (`alpha / rank`, or `alpha / sqrt(rank)` for rsLoRA).
    pub scale: f64,
    /// Dropout probability on the branch's input while training (see [`DropoutStream`]).
    pub dropout: f64,
}

impl LowRank {
    /// The branch's output for `x` (`[.., in]`), dropout drawn from `stream` when training.
    pub(crate) fn forward(&self, x: &Tensor, stream: Option<&DropoutStream>) -> Result<Tensor> {
        let run = || -> candle_core::Result<Tensor> {
            let mut x = x.to_dtype(self.a.dtype())?;
            if let (Some(stream), true) = (stream, self.dropout > 0.0) {
                let mask = stream.mask(x.dims(), self.dropout, self.a.dtype(), x.device())?;
                x = (x * mask)?;
            }
            let dims = x.dims().to_vec();
            let inner = dims[dims.len() - 1];
            let flat = x.reshape((dims.iter().product::<usize>() / inner.max(1), inner))?;
            // The scale goes on the rank-wide product: the same sum as scaling the output,
            // at a rank-wide cost instead of an output-wide one.
            let y = crate::linear::linear(
                &(crate::linear::linear(&flat, &self.a)? * self.scale)?,
                &self.b,
            )?;
            let mut shape = dims;
            let last = shape.len() - 1;
            shape[last] = self.b.dim(0)?;
            y.reshape(shape)
        };
        run().map_err(|source| Error::Candle {
            context: "low-rank branch".into(),
            source,
        })
    }

    /// The dense delta `scale · B A` (`[out, in]`), for merging into the base weight.
    pub fn delta(&self) -> Result<Tensor> {
        (|| self.b.matmul(&self.a)? * self.scale)().map_err(|source| Error::Candle {
            context: "low-rank delta".into(),
            source,
        })
    }
}

/// Where dropout masks come from while training: the project's seeded generator, so a run is
/// the same for the same seed (and a resumed run draws what the uninterrupted one drew, when the
/// caller reseeds per step). Masks keep an element with probability `1 - p` and scale kept
/// elements by `1 / (1 - p)`, as `torch.nn.Dropout` does.
#[derive(Debug)]
pub struct DropoutStream {
    rng: Mutex<Rng>,
}

impl DropoutStream {
    /// A stream drawing from `rng`.
    pub fn new(rng: Rng) -> DropoutStream {
        DropoutStream {
            rng: Mutex::new(rng),
        }
    }

    fn mask(
        &self,
        dims: &[usize],
        p: f64,
        dtype: DType,
        device: &candle_core::Device,
    ) -> candle_core::Result<Tensor> {
        let n: usize = dims.iter().product();
        let keep = (1.0 / (1.0 - p)) as f32;
        let mut rng = self
            .rng
            .lock()
            .map_err(|_| candle_core::Error::Msg("dropout stream poisoned".into()))?;
        let values: Vec<f32> = (0..n)
            .map(|_| if rng.unit() < p { 0.0 } else { keep })
            .collect();
        Tensor::from_vec(values, dims, device)?.to_dtype(dtype)
    }
}
