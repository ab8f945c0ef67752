//! The work model: what the runtime records, submits and reads back, counted as it happens
//! ([`GpuContext::work`]), and what that costs on reference GPUs — a prediction that needs no
//! GPU (*model, not measured*).
//!
//! Counted per dispatch: workgroups, invocations, and the bytes of the storage windows it binds
//! (read-only windows as bytes read, read-write windows as bytes written). That is the DRAM
//! traffic of a kernel that touches each bound byte once with perfect cache reuse of its
//! neighbourhoods: a *floor* for the kernel as bound, not for the algorithm. Kernels that re-read
//! taps from L2, spill registers or are compute-bound (median networks, projectors) cost more than
//! this model says; their lavapipe times are the proxy for instruction count.
//!
//! A kernel that skips work it bound (the watershed's settled blocks) counts what it touched on
//! the device and takes the rest back (`WorkCounts::untouched`), so its bytes are measured
//! touches, not whole windows.
//!
//! Modelled time on a GPU = bytes / bandwidth + dispatches · launch + submissions · submit +
//! read-backs · read-back latency ([`ReferenceGpu::modelled_seconds`]). The floor of a workload
//! is its unavoidable traffic (input and output once) over the bandwidth
//! ([`ReferenceGpu::floor_seconds`]).

use std::collections::BTreeMap;

/// Launch cost of one dispatch (pipeline bind, barrier between dependent dispatches): an
/// assumption typical of desktop and data-centre GPUs under Vulkan/Metal/D3D12.
pub const LAUNCH_SECONDS: f64 = 4e-6;
/// One queue submission with its fence wait on the host (an assumption).
pub const SUBMIT_SECONDS: f64 = 20e-6;
/// One host read-back (map, copy, unmap) beyond its submission (an assumption).
pub const READBACK_SECONDS: f64 = 20e-6;

/// Counts of one stretch of GPU work: take [`GpuContext::work`] before and after and subtract
/// with [`WorkCounts::since`].
///
/// [`GpuContext::work`]: crate::gpu::GpuContext::work
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkCounts {
    /// Compute dispatches recorded.
    pub dispatches: u64,
    /// Workgroups dispatched.
    pub workgroups: u64,
    /// Invocations dispatched (workgroups × workgroup size).
    pub invocations: u64,
    /// Bytes of read-only storage windows bound, summed over dispatches.
    pub bytes_read: u64,
    /// Bytes of read-write storage windows bound, summed over dispatches.
    pub bytes_written: u64,
    /// Buffer-to-buffer copies recorded on the device, and their bytes (read and written).
    pub copies: u64,
    /// Bytes of those copies.
    pub copy_bytes: u64,
    /// Queue submissions the host waited for (recordings, flushes, uploads, downloads).
    pub submissions: u64,
    /// Host read-backs (mapped reads of results: scalars, histograms, volumes).
    pub readbacks: u64,
    /// Bytes read back to the host.
    pub readback_bytes: u64,
    /// Per kernel name: dispatches, invocations and bytes bound.
    pub kernels: BTreeMap<&'static str, KernelCounts>,
}

/// One kernel's share of a [`WorkCounts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelCounts {
    /// Dispatches of the kernel.
    pub dispatches: u64,
    /// Invocations.
    pub invocations: u64,
    /// Bytes of its storage windows (read and written).
    pub bytes: u64,
}

impl WorkCounts {
    /// The work done between `earlier` (a snapshot of the same context) and this snapshot.
    pub fn since(&self, earlier: &WorkCounts) -> WorkCounts {
        let mut kernels = self.kernels.clone();
        for (name, before) in &earlier.kernels {
            if let Some(k) = kernels.get_mut(name) {
                k.dispatches -= before.dispatches;
                k.invocations -= before.invocations;
                k.bytes -= before.bytes;
            }
        }
        kernels.retain(|_, k| k.dispatches > 0);
        WorkCounts {
            dispatches: self.dispatches - earlier.dispatches,
            workgroups: self.workgroups - earlier.workgroups,
            invocations: self.invocations - earlier.invocations,
            bytes_read: self.bytes_read - earlier.bytes_read,
            bytes_written: self.bytes_written - earlier.bytes_written,
            copies: self.copies - earlier.copies,
            copy_bytes: self.copy_bytes - earlier.copy_bytes,
            submissions: self.submissions - earlier.submissions,
            readbacks: self.readbacks - earlier.readbacks,
            readback_bytes: self.readback_bytes - earlier.readback_bytes,
            kernels,
        }
    }

    /// Device-memory traffic of the model: bound windows once, copies read and written.
    pub fn device_bytes(&self) -> u64 {
        self.bytes_read + self.bytes_written + 2 * self.copy_bytes
    }

    /// Host synchronisations: submissions waited for and read-backs.
    pub fn host_syncs(&self) -> u64 {
        self.submissions + self.readbacks
    }

    /// Takes back bytes a kernel bound but, by its own count on the device, did not touch (the
    /// watershed skips the blocks whose neighbourhood settled): the model then holds the bytes
    /// the kernel touched, each once.
    pub(crate) fn untouched(&mut self, kernel: &'static str, read: u64, written: u64) {
        let k = self.kernels.entry(kernel).or_default();
        let (read, written) = (read.min(self.bytes_read), written.min(self.bytes_written));
        let taken = (read + written).min(k.bytes);
        k.bytes -= taken;
        self.bytes_read -= read;
        self.bytes_written -= written;
    }

    pub(crate) fn add_dispatch(
        &mut self,
        kernel: &'static str,
        workgroups: u64,
        invocations: u64,
        read: u64,
        written: u64,
    ) {
        self.dispatches += 1;
        self.workgroups += workgroups;
        self.invocations += invocations;
        self.bytes_read += read;
        self.bytes_written += written;
        let k = self.kernels.entry(kernel).or_default();
        k.dispatches += 1;
        k.invocations += invocations;
        k.bytes += read + written;
    }
}

/// A GPU the model predicts for, with the published figures it uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceGpu {
    /// Short name.
    pub name: &'static str,
    /// Peak device-memory bandwidth, GB/s (10⁹ bytes per second).
    pub bandwidth_gbps: f64,
    /// Peak FP32 throughput (vector, not matrix units), TFLOP/s.
    pub fp32_tflops: f64,
    /// Where the figures come from.
    pub source: &'static str,
}

/// The reference GPUs of the model (vendors' published peak figures).
pub const REFERENCE_GPUS: &[ReferenceGpu] = &[
    ReferenceGpu {
        name: "NVIDIA H200 SXM",
        bandwidth_gbps: 4800.0,
        fp32_tflops: 67.0,
        source: "NVIDIA H200 Tensor Core GPU datasheet (HBM3e 4.8 TB/s, FP32 67 TFLOPS)",
    },
    ReferenceGpu {
        name: "NVIDIA H100 SXM",
        bandwidth_gbps: 3350.0,
        fp32_tflops: 67.0,
        source: "NVIDIA H100 Tensor Core GPU datasheet (HBM3 3.35 TB/s, FP32 67 TFLOPS)",
    },
    ReferenceGpu {
        name: "NVIDIA A100 80GB SXM",
        bandwidth_gbps: 2039.0,
        fp32_tflops: 19.5,
        source: "NVIDIA A100 Tensor Core GPU datasheet (HBM2e 2,039 GB/s, FP32 19.5 TFLOPS)",
    },
    ReferenceGpu {
        name: "NVIDIA RTX 4090",
        bandwidth_gbps: 1008.0,
        fp32_tflops: 82.6,
        source: "NVIDIA Ada Lovelace architecture whitepaper (GDDR6X 1,008 GB/s, FP32 82.6 TFLOPS)",
    },
    ReferenceGpu {
        name: "AMD Instinct MI300X",
        bandwidth_gbps: 5300.0,
        fp32_tflops: 81.7,
        source: "AMD Instinct MI300X data sheet (HBM3 5.3 TB/s, FP32 vector 81.7 TFLOPS)",
    },
    ReferenceGpu {
        name: "Apple M3 Max (40-core GPU)",
        bandwidth_gbps: 400.0,
        fp32_tflops: 14.2,
        source: "Apple M3 Max announcement (400 GB/s unified memory); FP32 derived: 40 cores × 128 lanes × 2 FLOP × 1.38 GHz",
    },
];

impl ReferenceGpu {
    /// Modelled seconds of `work` on this GPU (see the module docs).
    pub fn modelled_seconds(&self, work: &WorkCounts) -> f64 {
        work.device_bytes() as f64 / (self.bandwidth_gbps * 1e9)
            + work.dispatches as f64 * LAUNCH_SECONDS
            + work.submissions as f64 * SUBMIT_SECONDS
            + work.readbacks as f64 * READBACK_SECONDS
    }

    /// The floor of a workload that must move `bytes` (its input and output once) and do
    /// `flops` floating-point operations: the slower of the two at peak, plus one submission.
    pub fn floor_seconds(&self, bytes: u64, flops: u64) -> f64 {
        (bytes as f64 / (self.bandwidth_gbps * 1e9)).max(flops as f64 / (self.fp32_tflops * 1e12)) + SUBMIT_SECONDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_adds_traffic_launches_and_synchronisations() {
        let mut w = WorkCounts::default();
        w.add_dispatch("a", 10, 640, 4_000_000, 2_000_000);
        w.add_dispatch("b", 5, 320, 1_000_000, 1_000_000);
        w.submissions = 2;
        w.readbacks = 1;
        w.copies = 1;
        w.copy_bytes = 500_000;
        assert_eq!(w.device_bytes(), 9_000_000);
        assert_eq!(w.host_syncs(), 3);
        let gpu = ReferenceGpu {
            name: "test",
            bandwidth_gbps: 1000.0,
            fp32_tflops: 10.0,
            source: "",
        };
        let want = 9e6 / 1e12 + 2.0 * LAUNCH_SECONDS + 2.0 * SUBMIT_SECONDS + READBACK_SECONDS;
        assert!((gpu.modelled_seconds(&w) - want).abs() < 1e-15);
        // Memory-bound and compute-bound floors.
        assert!((gpu.floor_seconds(2_000_000_000, 0) - (2e-3 + SUBMIT_SECONDS)).abs() < 1e-12);
        assert!((gpu.floor_seconds(0, 10_000_000_000_000) - (1.0 + SUBMIT_SECONDS)).abs() < 1e-12);
    }

    #[test]
    fn differences_of_snapshots_are_the_work_between_them() {
        let mut a = WorkCounts::default();
        a.add_dispatch("k", 1, 64, 100, 50);
        let mut b = a.clone();
        b.add_dispatch("k", 2, 128, 200, 100);
        b.add_dispatch("m", 1, 64, 10, 10);
        b.submissions += 1;
        let d = b.since(&a);
        assert_eq!((d.dispatches, d.workgroups, d.invocations), (2, 3, 192));
        assert_eq!((d.bytes_read, d.bytes_written, d.submissions), (210, 110, 1));
        assert_eq!(
            d.kernels["k"],
            KernelCounts {
                dispatches: 1,
                invocations: 128,
                bytes: 300
            }
        );
        assert_eq!(d.kernels["m"].dispatches, 1);
        assert_eq!(REFERENCE_GPUS[0].name, "NVIDIA H200 SXM");
    }
}
