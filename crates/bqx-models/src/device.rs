//! Compute-device selection for the networks.
//!
//! The device is chosen by cargo feature: `cpu` (the default, always available), `cuda` or
//! `metal`. The GPU paths are a few lines each and compile only with their feature; **they are
//! not built or exercised on the project's machines** (no CUDA toolkit, no macOS), and
//! bit-identical results are promised on the CPU only.

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which device a network trains and predicts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceChoice {
    /// The first GPU of a compiled-in backend (`cuda`, then `metal`) if present, else the CPU.
    #[default]
    Auto,
    /// The CPU (deterministic).
    Cpu,
    /// CUDA device 0 (needs the `cuda` feature).
    Cuda,
    /// Metal device 0 (needs the `metal` feature).
    Metal,
}

impl DeviceChoice {
    /// Resolves the choice to a candle device.
    pub(crate) fn device(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Auto => auto_device(),
            DeviceChoice::Cuda => cuda_device(),
            DeviceChoice::Metal => metal_device(),
        }
    }
}

/// Turns off candle's spin-barrier pool for element-wise CPU operations (sets
/// `CANDLE_NUM_THREADS=1` unless the user set it), keeping matrix products multi-threaded
/// (they use rayon's pool, sized by `RAYON_NUM_THREADS`).
///
/// Why: candle 0.11 splits every element-wise operation of ≥ 64 Ki elements over a pool of
/// threads that spin while they wait. Our networks run one per pair in parallel on rayon, so
/// those spinning threads compete with real work: on the 2-core machine, two trainings of the
/// multi-task network at once ran at about 3,600 samples/s each with the pool and 21,000
/// without it (`multitask_throughput 3500 280 10`, trunk 256 → 128; same losses bit for bit;
/// BENCHMARKS.md). Alone on an idle machine the pool costs nothing.
///
/// Call it first thing in `main`, before any thread is started (it changes the process
/// environment) and before the first network runs (candle reads the variable once).
#[allow(unsafe_code)] // std::env::set_var: sound before other threads exist (see above).
pub fn configure_cpu_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called at the start of `main`, before any other thread exists.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
}

/// A short name of the device the networks would use for `choice` (`"cpu"`, `"cuda:0"`…).
pub fn device_name(choice: DeviceChoice) -> Result<String> {
    Ok(match choice.device()? {
        Device::Cpu => "cpu".to_string(),
        d => format!("{:?}", d.location()),
    })
}

fn auto_device() -> Result<Device> {
    #[cfg(feature = "cuda")]
    {
        if let Ok(d) = Device::cuda_if_available(0) {
            if !d.is_cpu() {
                return Ok(d);
            }
        }
    }
    #[cfg(feature = "metal")]
    {
        if let Ok(d) = Device::metal_if_available(0) {
            if !d.is_cpu() {
                return Ok(d);
            }
        }
    }
    Ok(Device::Cpu)
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    Device::new_cuda(0).map_err(|e| Error::DeviceUnavailable(format!("cuda:0: {e}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device> {
    Err(Error::DeviceUnavailable(
        "built without the `cuda` feature".into(),
    ))
}

#[cfg(feature = "metal")]
fn metal_device() -> Result<Device> {
    Device::new_metal(0).map_err(|e| Error::DeviceUnavailable(format!("metal:0: {e}")))
}

#[cfg(not(feature = "metal"))]
fn metal_device() -> Result<Device> {
    Err(Error::DeviceUnavailable(
        "built without the `metal` feature".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(any(feature = "cuda", feature = "metal")))]
    #[test]
    fn cpu_build_uses_the_cpu() {
        assert_eq!(device_name(DeviceChoice::Auto).unwrap(), "cpu");
        assert_eq!(device_name(DeviceChoice::Cpu).unwrap(), "cpu");
        assert!(matches!(
            DeviceChoice::Cuda.device(),
            Err(Error::DeviceUnavailable(_))
        ));
        assert!(matches!(
            DeviceChoice::Metal.device(),
            Err(Error::DeviceUnavailable(_))
        ));
    }
}
