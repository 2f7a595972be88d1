//! The allocator of the examples that train: mimalloc, told to keep freed memory for reuse.
//!
//! Training frees and allocates the same tensor-sized blocks every step; when the allocator
//! returns them to the kernel, the kernel zeroes fresh pages for the next step (measured on
//! SmolLM2-135M LoRA at 1,024 tokens, 2 threads: 90 tokens/s with mimalloc's defaults, 125
//! with freed memory kept). The process then keeps its peak resident set until it ends.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, the same in mimalloc 2 and 3).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Never hand freed memory back to the kernel.
#[allow(unsafe_code)]
pub fn keep_freed_memory() {
    // SAFETY: mi_option_set only stores an integer option; any thread may call it at any time.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}
