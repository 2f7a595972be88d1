//! The high-water mark of a CUDA device's memory pool: candle allocates through cudarc's
//! stream-ordered allocator, which draws from the device's current pool, so the pool's
//! `USED_MEM_HIGH` attribute is the most memory a run had in use (reset when training starts).

// The driver's pool attributes have no safe wrapper in cudarc.
#![allow(unsafe_code)]

use cudarc::driver::{result, sys};

fn pool(device: &candle_core::CudaDevice) -> Option<sys::CUmemoryPool> {
    let stream = device.cuda_stream();
    let context = stream.context();
    context.bind_to_thread().ok()?;
    // SAFETY: the device handle comes from a live context bound to this thread.
    unsafe { result::device::get_mem_pool(context.cu_device()) }.ok()
}

const USED_HIGH: sys::CUmemPool_attribute = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH;

/// Resets the pool's high-water mark; `false` where the pool cannot be read.
pub(crate) fn reset_peak(device: &candle_core::CudaDevice) -> bool {
    let Some(pool) = pool(device) else {
        return false;
    };
    let mut zero: u64 = 0;
    // SAFETY: the pool is the device's; USED_MEM_HIGH takes a cuuint64_t, and 0 resets it.
    unsafe { result::mem_pool::set_attribute(pool, USED_HIGH, (&mut zero as *mut u64).cast()) }
        .is_ok()
}

/// The pool's high-water mark in bytes, after the device finished the work queued so far.
pub(crate) fn peak(device: &candle_core::CudaDevice) -> Option<u64> {
    let stream = device.cuda_stream();
    stream.synchronize().ok()?;
    let pool = pool(device)?;
    let mut value: u64 = 0;
    // SAFETY: the pool is the device's; USED_MEM_HIGH writes a cuuint64_t into `value`.
    unsafe { result::mem_pool::get_attribute(pool, USED_HIGH, (&mut value as *mut u64).cast()) }
        .ok()?;
    Some(value)
}
