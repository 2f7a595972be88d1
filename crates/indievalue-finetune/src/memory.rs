//! Measured peak memory of a training run: on the CPU the process's resident set high-water
//! mark (`VmHWM` of `/proc/self/status`, reset through `/proc/self/clear_refs` when a run
//! starts); on CUDA the high-water mark of the device's default memory pool (what candle's
//! stream-ordered allocations draw from).

use indievalue_llm::Device;

/// Where a run's peak memory is read from.
#[derive(Debug)]
pub struct PeakMemory {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Process,
    #[cfg(feature = "cuda")]
    Cuda(candle_core::CudaDevice),
    Unavailable,
}

impl PeakMemory {
    /// Starts measuring on `device`: resets the high-water mark, so [`PeakMemory::peak`] is the
    /// most in use from now on (on the CPU: the resident set, weights already loaded included).
    pub fn start(device: &Device) -> PeakMemory {
        let source = match device {
            Device::Cpu => {
                if reset_process_peak() {
                    Source::Process
                } else {
                    Source::Unavailable
                }
            }
            #[cfg(feature = "cuda")]
            Device::Cuda(d) => {
                if crate::cuda_memory::reset_peak(d) {
                    Source::Cuda(d.clone())
                } else {
                    Source::Unavailable
                }
            }
            #[allow(unreachable_patterns)]
            _ => Source::Unavailable,
        };
        PeakMemory { source }
    }

    /// The peak in bytes since [`PeakMemory::start`], where it can be read.
    pub fn peak(&self) -> Option<u64> {
        match &self.source {
            Source::Process => process_peak_rss(),
            #[cfg(feature = "cuda")]
            Source::Cuda(d) => crate::cuda_memory::peak(d),
            Source::Unavailable => None,
        }
    }
}

fn status_field(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    let kib: u64 = line[name.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// This process's resident set high-water mark in bytes (Linux; `None` elsewhere).
pub fn process_peak_rss() -> Option<u64> {
    status_field("VmHWM:")
}

/// This process's resident set now, in bytes (Linux; `None` elsewhere).
pub fn process_rss() -> Option<u64> {
    status_field("VmRSS:")
}

/// Resets the resident set high-water mark to the current resident set (Linux 4.0 and later);
/// `false` where it cannot.
pub fn reset_process_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}
