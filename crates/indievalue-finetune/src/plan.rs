//! A memory plan: what one training run holds, by part, before it runs.
//!
//! The figures count the tensors this crate's training pass keeps, item by item (the model's
//! composed, differentiable kernels: every intermediate of a layer's forward pass stays alive
//! until its backward pass), so they follow the code rather than a rule of thumb:
//!
//! - **weights**: every weight in the compute dtype (tied embeddings once);
//! - **trainable**: LoRA's f32 factors, or for full fine-tuning in a 16-bit dtype the f32 master
//!   copies (in f32 the weights are their own masters);
//! - **gradients**: the f32 gradient of every trained parameter, summed over the step's
//!   micro-batches;
//! - **optimizer**: AdamW's two f32 moments per trained parameter;
//! - **activations** of one micro-batch: without checkpointing every layer's graph, with it the
//!   saved layer inputs plus one layer's graph; the head's chunk of logits with its log-softmax
//!   and their gradients; the backward pass's working set (the gradients of one layer's largest
//!   intermediates, attention scores first);
//! - **runtime**: the process itself (code, tokenizer, allocator), measured on the CPU.

use indievalue_llm::{DType, LlamaConfig, Projection};
use serde::Serialize;

/// What a run trains and how.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSpec {
    /// Tokens per example (the longest of a micro-batch).
    pub seq_len: usize,
    /// Examples per micro-batch.
    pub batch_size: usize,
    /// LoRA rank and adapted projections; `None`: full fine-tuning.
    pub lora: Option<(usize, Vec<Projection>)>,
    /// LoRA dropout on (a mask per adapted input).
    pub lora_dropout: bool,
    /// The dtype the model computes in.
    pub dtype: DType,
    /// Gradient checkpointing.
    pub checkpointing: bool,
    /// Supervised positions projected onto the vocabulary at a time.
    pub loss_chunk: usize,
    /// Supervised positions per micro-batch (`None`: every position).
    pub supervised: Option<usize>,
    /// Which kernels run (see [`TrainingKernels::for_device`]).
    pub kernels: TrainingKernels,
}

/// Which kernels a training pass runs, which decides what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TrainingKernels {
    /// The CPU's fused ops in f32 (attention, RMS norm, rotary embedding, cross-entropy): no
    /// `[heads, len, len]` tensor and no logits-sized intermediates kept.
    Fused,
    /// candle's composed ops (other devices and dtypes): attention scores, masked scores,
    /// shifted, exponentials and probabilities kept per layer, log-softmax in the head, and
    /// activation-sized gradients of the broadcast norm weights and rotary tables.
    Composed,
}

impl TrainingKernels {
    /// What the model uses on `device` in `dtype`.
    pub fn for_device(device: &indievalue_llm::Device, dtype: DType) -> TrainingKernels {
        if device.is_cpu() && dtype == DType::F32 {
            TrainingKernels::Fused
        } else {
            TrainingKernels::Composed
        }
    }
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    /// What it is.
    pub name: String,
    /// Bytes.
    pub bytes: u64,
}

/// The memory a run needs, by part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryPlan {
    /// Parameters of the model.
    pub parameters: u64,
    /// Parameters trained.
    pub trained_parameters: u64,
    /// Weights, trainable copies, gradients, optimizer state, the runtime.
    pub fixed: Vec<PlanItem>,
    /// Activations of one micro-batch, by part.
    pub activations: Vec<PlanItem>,
}

/// Bytes of the process itself (code, tokenizer, allocator, thread stacks): measured on the
/// CPU with SmolLM2 loaded and nothing run, the resident set less the weights (about 90 MB
/// with mimalloc).
pub const RUNTIME_BYTES: u64 = 96 << 20;

impl MemoryPlan {
    /// The total of the fixed parts.
    pub fn fixed_bytes(&self) -> u64 {
        self.fixed.iter().map(|i| i.bytes).sum()
    }

    /// The total of the activations.
    pub fn activation_bytes(&self) -> u64 {
        self.activations.iter().map(|i| i.bytes).sum()
    }

    /// Everything.
    pub fn total_bytes(&self) -> u64 {
        self.fixed_bytes() + self.activation_bytes()
    }

    /// Whether it fits in `bytes`.
    pub fn fits(&self, bytes: u64) -> bool {
        self.total_bytes() <= bytes
    }
}

fn dtype_bytes(d: DType) -> u64 {
    d.size_in_bytes() as u64
}

/// Input and output width of a projection.
fn widths(c: &LlamaConfig, p: Projection) -> (u64, u64) {
    let h = c.hidden_size as u64;
    let q = (c.num_attention_heads * c.head_dim) as u64;
    let kv = (c.num_key_value_heads * c.head_dim) as u64;
    let f = c.intermediate_size as u64;
    match p {
        Projection::Q => (h, q),
        Projection::K | Projection::V => (h, kv),
        Projection::O => (q, h),
        Projection::Gate | Projection::Up => (h, f),
        Projection::Down => (f, h),
    }
}

/// Parameters of the model (tied embeddings once).
pub fn parameter_count(c: &LlamaConfig) -> u64 {
    indievalue_llm::weight_shapes(c)
        .iter()
        .map(|(_, s)| s.iter().product::<usize>() as u64)
        .sum()
}

/// LoRA parameters: `r · (in + out)` per adapted projection per layer.
pub fn lora_parameter_count(c: &LlamaConfig, r: usize, targets: &[Projection]) -> u64 {
    let per_layer: u64 = targets
        .iter()
        .map(|&p| {
            let (i, o) = widths(c, p);
            r as u64 * (i + o)
        })
        .sum();
    per_layer * c.num_hidden_layers as u64
}

/// Bytes one decoder layer's forward graph keeps for `t` tokens in `rows` rows (see the
/// module's notes; `b` the compute dtype's bytes, LoRA branches computing in f32).
fn layer_graph_bytes(c: &LlamaConfig, spec: &PlanSpec, t: u64, rows: u64) -> u64 {
    let b = dtype_bytes(spec.dtype);
    let h = c.hidden_size as u64;
    let q = (c.num_attention_heads * c.head_dim) as u64;
    let kv = (c.num_key_value_heads * c.head_dim) as u64;
    let f = c.intermediate_size as u64;
    let len = t / rows.max(1);
    let scores = rows * c.num_attention_heads as u64 * len * len;
    let wide = b != 4;
    let fused = spec.kernels == TrainingKernels::Fused;
    // Fused: the output. rms_norm_slow: square, normalised, weighted (+ casts around an f32
    // core in 16 bits).
    let norm = t
        * h
        * match (fused, wide) {
            (true, _) => b,
            (false, true) => 4 + 4 + 4 + b + b,
            (false, false) => 12,
        };
    let projection = |p: Projection| -> u64 {
        let (i, o) = widths(c, p);
        let base = t * o * b;
        match &spec.lora {
            Some((r, targets)) if targets.contains(&p) => {
                let r = *r as u64;
                let cast_in = if wide { t * i * 4 } else { 0 };
                let dropout = if spec.lora_dropout { 2 * t * i * 4 } else { 0 };
                let cast_out = if wide { t * o * b } else { 0 };
                base + cast_in + dropout + 2 * t * r * 4 + t * o * 4 + cast_out + t * o * b
            }
            _ => base,
        }
    };
    let projections: u64 = Projection::ALL.iter().map(|&p| projection(p)).sum();
    // Head split (contiguous copies), rotary (fused: the output; composed: negated half,
    // joined, two products, sum), query scaling, attention output, merged heads.
    let heads = t * (q + 2 * kv) * b;
    let rotary = if fused {
        t * (q + kv) * b
    } else {
        t * (q + kv) * b * 9 / 2
    };
    let attention_out = 3 * t * q * b;
    // Composed: scores, masked scores, shifted, exponentials, probabilities.
    let attention = match spec.kernels {
        TrainingKernels::Composed => 5 * scores * b,
        TrainingKernels::Fused => 0,
    };
    let mlp = 2 * t * f * b;
    let residuals = 2 * t * h * b;
    // Composed: the backward pass keeps a gradient for each broadcast copy of the norm
    // weights and rotary tables (two each) until its gradient store is dropped.
    let leaf_gradients = if fused { 0 } else { 2 * t * (q + kv + h) * b };
    2 * norm
        + projections
        + heads
        + rotary
        + attention_out
        + attention
        + mlp
        + residuals
        + leaf_gradients
}

/// The plan of `spec` on a model of `config`.
pub fn plan(config: &LlamaConfig, spec: &PlanSpec) -> MemoryPlan {
    let c = config;
    let b = dtype_bytes(spec.dtype);
    let parameters = parameter_count(c);
    let trained = match &spec.lora {
        Some((r, targets)) => lora_parameter_count(c, *r, targets),
        None => parameters,
    };
    let mut fixed = vec![PlanItem {
        name: format!("weights ({:?})", spec.dtype),
        bytes: parameters * b,
    }];
    let trainable = match (&spec.lora, b) {
        (Some(_), _) => trained * 4,
        (None, 4) => 0,
        (None, _) => trained * 4,
    };
    fixed.push(PlanItem {
        name: if spec.lora.is_some() {
            "LoRA factors (f32)".into()
        } else {
            "f32 master weights".into()
        },
        bytes: trainable,
    });
    fixed.push(PlanItem {
        name: "gradients (f32)".into(),
        bytes: trained * 4,
    });
    fixed.push(PlanItem {
        name: "AdamW moments (f32)".into(),
        bytes: trained * 8,
    });
    // The optimizer's new weights and moments of one tensor (fused on the CPU) or its
    // intermediates (composed), while the old ones still exist.
    let largest = match &spec.lora {
        Some((r, targets)) => targets
            .iter()
            .map(|&p| {
                let (i, o) = widths(c, p);
                *r as u64 * i.max(o)
            })
            .max()
            .unwrap_or(0),
        None => indievalue_llm::weight_shapes(c)
            .iter()
            .map(|(_, s)| s.iter().product::<usize>() as u64)
            .max()
            .unwrap_or(0),
    };
    let optimizer_tensors = if spec.kernels == TrainingKernels::Fused {
        3
    } else {
        6
    };
    fixed.push(PlanItem {
        name: "optimizer step working set".into(),
        bytes: largest * 4 * optimizer_tensors,
    });
    fixed.push(PlanItem {
        name: "runtime".into(),
        bytes: RUNTIME_BYTES,
    });

    let rows = spec.batch_size.max(1) as u64;
    let t = rows * spec.seq_len as u64;
    let h = c.hidden_size as u64;
    let layers = c.num_hidden_layers as u64;
    let graph = layer_graph_bytes(c, spec, t, rows);
    let mut activations = Vec::new();
    if spec.checkpointing {
        activations.push(PlanItem {
            name: format!("saved inputs of {layers} layers"),
            bytes: layers * t * h * b,
        });
        activations.push(PlanItem {
            name: "one layer's graph, rerun".into(),
            bytes: graph,
        });
    } else {
        activations.push(PlanItem {
            name: format!("graphs of {layers} layers"),
            bytes: layers * graph,
        });
    }
    let supervised = spec.supervised.unwrap_or(spec.seq_len * spec.batch_size) as u64;
    let chunk = supervised.min(spec.loss_chunk.max(1) as u64);
    let v = c.vocab_size as u64;
    // Logits (in the compute dtype) and logits-sized f32 tensors at the chunk's peak. Fused
    // cross-entropy: about four (the f32 logits, their gradient, its copy, the zeros and sum
    // candle's backward pass builds; measured on the CPU: +398 MB for 448 more positions of
    // SmolLM2's 49,152 logits, 4.5 such tensors). Composed: about twelve (log-softmax's
    // shifted, exponentials and log-probabilities, the gathered gradient's scatter and the
    // zeros and sums around each; measured +1.04 GB, 11.8 tensors).
    let head_tensors = if spec.kernels == TrainingKernels::Fused {
        4
    } else {
        12
    };
    activations.push(PlanItem {
        name: format!("head: {chunk} positions x {v} logits"),
        bytes: chunk * v * (b + head_tensors * 4) + t * h * 4,
    });
    let len = spec.seq_len as u64;
    let scores = rows * c.num_attention_heads as u64 * len * len;
    let f = c.intermediate_size as u64;
    // The backward pass of one layer: the softmax's gradients (composed) or one query block's
    // (fused), the MLP's gradients, the layer's input and output gradients.
    let attention_working = match spec.kernels {
        TrainingKernels::Composed => 4 * scores * b,
        TrainingKernels::Fused => 3 * rows * 128 * len * 4,
    };
    activations.push(PlanItem {
        name: "backward working set".into(),
        bytes: attention_working + 4 * t * f * b + 2 * t * h * 4,
    });
    if spec.lora.is_none() && b != 4 {
        // Gradients arrive in the compute dtype before their f32 sum: one layer's with
        // checkpointing, every weight's without.
        let per_layer: u64 = Projection::ALL
            .iter()
            .map(|&p| {
                let (i, o) = widths(c, p);
                i * o
            })
            .sum();
        let pending = if spec.checkpointing {
            per_layer.max(v * h)
        } else {
            parameters
        };
        activations.push(PlanItem {
            name: format!("gradients in {:?} before their f32 sum", spec.dtype),
            bytes: pending * b,
        });
    }
    MemoryPlan {
        parameters,
        trained_parameters: trained,
        fixed,
        activations,
    }
}

impl std::fmt::Display for MemoryPlan {
    /// A table: every part in GiB, the fixed total, the activations' total and the sum.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "parameters {} ({} trained)",
            self.parameters, self.trained_parameters
        )?;
        for item in &self.fixed {
            writeln!(f, "  {:<44} {:>12}", item.name, gib(item.bytes))?;
        }
        writeln!(
            f,
            "  {:<44} {:>12}",
            "= weights, trained state, runtime",
            gib(self.fixed_bytes())
        )?;
        writeln!(f, "activations per micro-batch")?;
        for item in &self.activations {
            writeln!(f, "  {:<44} {:>12}", item.name, gib(item.bytes))?;
        }
        writeln!(
            f,
            "  {:<44} {:>12}",
            "= activations",
            gib(self.activation_bytes())
        )?;
        write!(f, "total {}", gib(self.total_bytes()))
    }
}

/// `bytes` in GiB with two decimals.
pub fn gib(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
}
