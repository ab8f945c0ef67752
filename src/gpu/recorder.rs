//! Records many dispatches and copies into one submission, with optional GPU timestamps.

use std::fmt;
use std::num::NonZeroU64;
use std::time::Duration;

use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{Binding, KernelSpec};
use crate::gpu::volume::{GpuVolume, read_mapped};

/// State kernels rewrite in place and the host may copy in or read back.
const STATE_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// Timestamp queries per query set (two per pass).
const QUERIES_PER_SET: u32 = 256;

/// GPU execution time of the passes of one submission, measured with timestamp queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KernelTime {
    /// Sum of the measured pass durations.
    Measured(Duration),
    /// The adapter does not support timestamp queries.
    NotAvailable,
}

impl KernelTime {
    /// The duration, if measured.
    pub fn duration(self) -> Option<Duration> {
        match self {
            KernelTime::Measured(d) => Some(d),
            KernelTime::NotAvailable => None,
        }
    }
}

impl fmt::Display for KernelTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelTime::Measured(d) => write!(f, "{:.3} ms", d.as_secs_f64() * 1e3),
            KernelTime::NotAvailable => {
                write!(f, "not available (adapter lacks timestamp queries)")
            }
        }
    }
}

/// A window of a buffer bound as one storage binding.
#[derive(Debug, Clone, Copy)]
pub struct BufferWindow<'a> {
    /// The buffer.
    pub buffer: &'a wgpu::Buffer,
    /// Offset in bytes (aligned to the adapter's storage offset alignment).
    pub offset: u64,
    /// Size in bytes (at most the adapter's storage binding limit).
    pub size: u64,
}

impl<'a> BufferWindow<'a> {
    /// The whole buffer.
    pub fn whole(buffer: &'a wgpu::Buffer) -> Self {
        BufferWindow {
            buffer,
            offset: 0,
            size: buffer.size(),
        }
    }
}

/// A small result on its way back to the host (see [`Recorder::read_back`]).
#[derive(Debug)]
pub struct Readback {
    buffer: wgpu::Buffer,
    size: u64,
}

impl Readback {
    /// The bytes, once the recording that copied them has been submitted.
    pub fn read(&self, ctx: &GpuContext) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.size as usize];
        if self.size > 0 {
            read_mapped(ctx, &self.buffer, self.size, &mut out)?;
        }
        ctx.count(|w| {
            w.readbacks += 1;
            w.readback_bytes += self.size;
        });
        Ok(out)
    }
}

/// Collects passes and copies for one submission. Kernels record into it; [`Recorder::submit`]
/// runs everything, waits, and reports kernel time. All recording happens inside the device's
/// error scopes, so mistakes surface as `Err` from `submit`.
///
/// It also pools intermediate volumes: a chain of kernels asks for its outputs with
/// [`Recorder::volume`] and hands back the ones it no longer needs with [`Recorder::recycle`],
/// so a long pipeline holds two or three volumes on the GPU, not one per step. Commands run in
/// recording order, so reusing a buffer later in the same submission is safe.
pub struct Recorder<'c> {
    ctx: &'c GpuContext,
    encoder: wgpu::CommandEncoder,
    query_sets: Vec<wgpu::QuerySet>,
    passes: u32,
    pool: Vec<GpuVolume>,
    /// Kernel time of the submissions already flushed.
    flushed: Option<Duration>,
    /// Holds the context for this thread from the first command to the last wait (GL only).
    _serial: Option<parking_lot::ReentrantMutexGuard<'c, ()>>,
}

impl<'c> Recorder<'c> {
    /// Starts an empty recording on `ctx`.
    pub fn new(ctx: &'c GpuContext) -> Self {
        let serial = ctx.serialize();
        let encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("hounsfield"),
        });
        Recorder {
            ctx,
            encoder,
            query_sets: Vec::new(),
            passes: 0,
            pool: Vec::new(),
            flushed: Some(Duration::ZERO),
            _serial: serial,
        }
    }

    /// A volume of `shape` for a kernel's output: a recycled one of the same size if the pool
    /// has it, else a new one. Its contents are undefined: the kernel must write every voxel.
    pub fn volume(&mut self, shape: [usize; 3]) -> Result<GpuVolume> {
        let len: usize = shape.iter().product();
        if let Some(i) = self.pool.iter().position(|v| v.len() == len) {
            let mut v = self.pool.swap_remove(i);
            v.reshape(shape);
            return Ok(v);
        }
        GpuVolume::zeros(self.ctx, shape)
    }

    /// A copy of `input` (recorded, like everything else).
    pub fn duplicate(&mut self, input: &GpuVolume) -> Result<GpuVolume> {
        let out = self.volume(input.shape())?;
        self.copy(&input.buffer, 0, &out.buffer, 0, input.byte_len());
        Ok(out)
    }

    /// Returns an intermediate volume to the pool for reuse by later kernels of this recording.
    pub fn recycle(&mut self, volume: GpuVolume) {
        self.pool.push(volume);
    }

    /// Submits what has been recorded so far and waits for it, then continues recording. For
    /// the rare step that must read a result back before it can record the next one (e.g. a
    /// threshold computed from a histogram); kernel times add up across flushes.
    pub fn flush(&mut self) -> Result<()> {
        let encoder = std::mem::replace(
            &mut self.encoder,
            self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("hounsfield"),
            }),
        );
        let query_sets = std::mem::take(&mut self.query_sets);
        let passes = std::mem::take(&mut self.passes);
        let time = finish(self.ctx, encoder, query_sets, passes)?;
        self.flushed = match (self.flushed, time.duration()) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        Ok(())
    }

    /// The context recorded on.
    pub fn context(&self) -> &'c GpuContext {
        self.ctx
    }

    /// Checks that one invocation of a kernel may run `iterations` loop iterations (all its
    /// loops together, an upper bound) on this adapter; otherwise an
    /// [`Error::AdapterLimit`] naming `what` and the way out (see
    /// [`AdapterSummary::loop_limit`](crate::gpu::AdapterSummary::loop_limit)).
    pub fn check_loop_budget(&self, what: &str, iterations: u64) -> Result<()> {
        match self.ctx.summary.loop_limit {
            Some(limit) if iterations > limit => Err(Error::AdapterLimit(format!(
                "{what} needs up to {iterations} loop iterations per shader invocation, and {} \
                 silently stops every invocation's loops after {limit}; run it on the CPU backend \
                 (or a hardware GPU)",
                self.ctx.summary.name
            ))),
            _ => Ok(()),
        }
    }

    /// The loop iterations one invocation may run on this adapter (`u64::MAX`: no limit).
    pub fn loop_limit(&self) -> u64 {
        self.ctx.summary.loop_limit.unwrap_or(u64::MAX)
    }

    /// An upper bound on the tries of one compare-exchange add (`shaders/recon/splat.wgsl`),
    /// for loop budgets on adapters that stop long loops (1 elsewhere, where it is not needed).
    ///
    /// A try fails only when another invocation's add to the same address lands between its
    /// read and its exchange. llvmpipe runs one SIMD batch per thread at a time and issues a
    /// batch's atomics lane after lane, so at most every lane of every thread can get in first:
    /// the batch's width (the "N bits" of its name, in f32 lanes) times its threads
    /// (`LP_NUM_THREADS`, else one per CPU). Measured with every voxel of a volume splatting
    /// onto the same four pixels on the 2-core VM (8 lanes, 2 threads): adds needed up to
    /// 13–16 tries, and capping them at 12 lost two thirds of the sums.
    pub fn compare_exchange_tries(&self) -> u64 {
        if self.ctx.summary.loop_limit.is_none() {
            return 1;
        }
        let name = &self.ctx.summary.name;
        let lanes = name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[1] == "bits")
            .and_then(|w| w[0].parse::<u64>().ok())
            .map_or(16, |bits| (bits / 32).max(1));
        let threads = std::env::var("LP_NUM_THREADS")
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64))
            .max(1);
        lanes * threads
    }

    /// A small uniform buffer holding `value` (a kernel's parameter block).
    pub fn uniform<T: bytemuck::Pod>(&self, value: &T) -> wgpu::Buffer {
        self.buffer_init(
            "hounsfield params",
            bytemuck::bytes_of(value),
            wgpu::BufferUsages::UNIFORM,
        )
    }

    /// A small read-only storage buffer holding `values` (filter weights, lookup tables).
    pub fn constants<T: bytemuck::Pod>(&self, values: &[T]) -> wgpu::Buffer {
        self.buffer_init(
            "hounsfield constants",
            bytemuck::cast_slice(values),
            wgpu::BufferUsages::STORAGE,
        )
    }

    /// Records `kernel` over `items` invocations (folded into a 2D grid of one-dimensional
    /// workgroups of the size its WGSL declares), with `bindings` (uniform or storage windows)
    /// at consecutive bindings from 0.
    pub fn dispatch_linear(&mut self, kernel: &KernelSpec, bindings: &[BufferWindow<'_>], items: u64) -> Result<()> {
        if items == 0 {
            return Ok(());
        }
        let compiled = self.ctx.pipeline(kernel)?;
        let [x, y, z] = compiled.reflection.workgroup;
        if y != 1 || z != 1 {
            return Err(Error::Gpu(format!(
                "internal: kernel '{}' has a {x}×{y}×{z} workgroup; linear dispatch needs one dimension",
                kernel.name
            )));
        }
        self.dispatch_folded(kernel, bindings, items.div_ceil(u64::from(x)))
    }

    /// Records `groups` workgroups of `kernel`, folded into a 2D grid when they exceed one
    /// dimension's limit (the shader computes its group as `wid.x + wid.y * num_workgroups.x`
    /// and ignores groups past its count).
    pub fn dispatch_folded(&mut self, kernel: &KernelSpec, bindings: &[BufferWindow<'_>], groups: u64) -> Result<()> {
        let max_dim = u64::from(self.ctx.limits.max_compute_workgroups_per_dimension);
        let gx = groups.min(max_dim);
        let gy = groups.div_ceil(gx.max(1));
        if gy > max_dim {
            return Err(Error::TooLarge(format!(
                "kernel '{}' needs {groups} workgroups, more than one dispatch can address",
                kernel.name
            )));
        }
        self.dispatch_groups(kernel, bindings, [gx as u32, gy as u32, 1])
    }

    /// Records `kernel` over a grid of `invocations = [x, y, z]` (2D/3D kernels: one
    /// invocation per output voxel or column), in as many workgroups of the size its WGSL
    /// declares as cover the grid; the shader ignores invocations past the grid.
    pub fn dispatch_grid(
        &mut self,
        kernel: &KernelSpec,
        bindings: &[BufferWindow<'_>],
        invocations: [usize; 3],
    ) -> Result<()> {
        let workgroup = self.ctx.pipeline(kernel)?.reflection.workgroup;
        let groups: [u32; 3] = std::array::from_fn(|a| {
            u32::try_from(invocations[a].div_ceil(workgroup[a].max(1) as usize)).unwrap_or(u32::MAX)
        });
        self.dispatch_groups(kernel, bindings, groups)
    }

    /// Records `kernel` over an explicit grid of workgroups, with `bindings` at consecutive
    /// bindings from 0. Prefer [`Recorder::dispatch_grid`], which reads the workgroup size from
    /// the kernel.
    pub fn dispatch_groups(
        &mut self,
        kernel: &KernelSpec,
        bindings: &[BufferWindow<'_>],
        groups: [u32; 3],
    ) -> Result<()> {
        if groups.contains(&0) {
            return Ok(());
        }
        let max_dim = self.ctx.limits.max_compute_workgroups_per_dimension;
        if groups.iter().any(|&g| g > max_dim) {
            return Err(Error::TooLarge(format!(
                "kernel '{}' needs {groups:?} workgroups; this adapter allows {max_dim} per dimension",
                kernel.name
            )));
        }
        let workgroups = groups.iter().map(|&g| u64::from(g)).product::<u64>();
        self.record_dispatch(kernel, bindings, workgroups, |pass| {
            pass.dispatch_workgroups(groups[0], groups[1], groups[2])
        })
    }

    /// Records `kernel` over the workgroups whose counts (x, y, z) are the three `u32` at byte
    /// `offset` of `args` when the GPU reaches the dispatch (a buffer from
    /// [`Recorder::indirect_init`], which earlier kernels may rewrite): work whose size only
    /// the GPU knows, such as a list a previous dispatch appended to. The kernel must keep each
    /// count within the adapter's `max_compute_workgroups_per_dimension` (the context skips
    /// wgpu's check of indirect arguments), and must not read `@builtin(num_workgroups)`,
    /// which D3D12 reports as 0 for such dispatches. The work model counts its bound windows
    /// as for any dispatch, and no workgroups (their number is not known when recorded).
    pub fn dispatch_indirect(
        &mut self,
        kernel: &KernelSpec,
        bindings: &[BufferWindow<'_>],
        args: &wgpu::Buffer,
        offset: u64,
    ) -> Result<()> {
        self.record_dispatch(kernel, bindings, 0, |pass| {
            pass.dispatch_workgroups_indirect(args, offset)
        })
    }

    /// A buffer holding `values` that kernels may rewrite and that can serve as the arguments
    /// of [`Recorder::dispatch_indirect`] (bound read-only in the same dispatch if need be).
    pub fn indirect_init<T: bytemuck::Pod>(&self, values: &[T]) -> wgpu::Buffer {
        self.buffer_init(
            "hounsfield indirect arguments",
            bytemuck::cast_slice(values),
            STATE_USAGE | wgpu::BufferUsages::INDIRECT,
        )
    }

    /// One compute pass of `kernel` with `bindings`, its dispatch recorded by `dispatch`, and
    /// its count in the work model (`workgroups` as known when recorded).
    fn record_dispatch(
        &mut self,
        kernel: &KernelSpec,
        bindings: &[BufferWindow<'_>],
        workgroups: u64,
        dispatch: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) -> Result<()> {
        if bindings.len() != kernel.bindings.len() {
            return Err(Error::Gpu(format!(
                "internal: kernel '{}' is given {} bindings; its declaration has {}",
                kernel.name,
                bindings.len(),
                kernel.bindings.len()
            )));
        }
        let compiled = self.ctx.pipeline(kernel)?;
        let pipeline = &compiled.pipeline;
        let entries: Vec<wgpu::BindGroupEntry<'_>> = bindings
            .iter()
            .enumerate()
            .map(|(i, w)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: w.buffer,
                    offset: w.offset,
                    size: NonZeroU64::new(w.size),
                }),
            })
            .collect();
        let bind_group = self.ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.name),
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let timestamp_writes = self.next_timestamp_slot();
        let mut pass = self.encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some(kernel.name),
            timestamp_writes: timestamp_writes
                .as_ref()
                .map(|(set, i)| wgpu::ComputePassTimestampWrites {
                    query_set: &self.query_sets[*set],
                    beginning_of_pass_write_index: Some(*i),
                    end_of_pass_write_index: Some(*i + 1),
                }),
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        dispatch(&mut pass);
        // The work model: every storage window bound counts once (read-only as read,
        // read-write as written).
        let (mut read, mut written) = (0u64, 0u64);
        for (declared, window) in kernel.bindings.iter().zip(bindings) {
            match declared {
                Binding::Read => read += window.size,
                Binding::ReadWrite => written += window.size,
                Binding::Uniform(_) => {}
            }
        }
        let size = compiled
            .reflection
            .workgroup
            .iter()
            .map(|&g| u64::from(g))
            .product::<u64>();
        self.ctx
            .count(|w| w.add_dispatch(kernel.name, workgroups, workgroups * size, read, written));
        Ok(())
    }

    /// A storage buffer holding `values` that kernels may rewrite and that can be read back
    /// (state a kernel iterates in place).
    pub fn storage_init<T: bytemuck::Pod>(&self, values: &[T]) -> wgpu::Buffer {
        self.buffer_init("hounsfield state", bytemuck::cast_slice(values), STATE_USAGE)
    }

    /// A buffer of `usage` holding `contents`.
    fn buffer_init(&self, label: &str, contents: &[u8], usage: wgpu::BufferUsages) -> wgpu::Buffer {
        self.ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage,
        })
    }

    /// A zero-filled storage buffer of `bytes` that can be read back (partial results, counts).
    pub fn scratch(&self, bytes: u64) -> wgpu::Buffer {
        self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("hounsfield scratch"),
            size: bytes.max(4),
            usage: STATE_USAGE,
            mapped_at_creation: false,
        })
    }

    /// Records a copy of `size` bytes of `src` into a host-readable buffer; read it with
    /// [`Readback::read`] after [`Recorder::submit`] or [`Recorder::flush`]. For small results
    /// (reductions, histograms); volumes come back with [`GpuVolume::download`].
    pub fn read_back(&mut self, src: &wgpu::Buffer, size: u64) -> Readback {
        self.read_back_from(src, 0, size)
    }

    /// [`Recorder::read_back`] of several (offset, size) pieces of `src` (multiples of 4), one
    /// after another in the bytes read: a strided plane of a buffer without a kernel to gather it.
    pub fn read_back_pieces(&mut self, src: &wgpu::Buffer, pieces: &[(u64, u64)]) -> Readback {
        let size: u64 = pieces.iter().map(|&(_, n)| n).sum();
        let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("hounsfield read-back"),
            size: size.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut at = 0;
        for &(offset, n) in pieces {
            self.encoder.copy_buffer_to_buffer(src, offset, &buffer, at, n);
            at += n;
        }
        Readback { buffer, size }
    }

    /// [`Recorder::read_back`] of `size` bytes of `src` from byte `offset` (a multiple of 4).
    pub fn read_back_from(&mut self, src: &wgpu::Buffer, offset: u64, size: u64) -> Readback {
        self.read_back_pieces(src, &[(offset, size)])
    }

    /// Tells the work model that `kernel` did not touch `read` bytes of its read-only windows
    /// and `written` bytes of its read-write windows, of those its dispatches bound (a count the
    /// kernel made on the device).
    pub fn untouched(&self, kernel: &KernelSpec, read: u64, written: u64) {
        self.ctx.count(|w| w.untouched(kernel.name, read, written));
    }

    /// Records a buffer-to-buffer copy.
    pub fn copy(&mut self, src: &wgpu::Buffer, src_offset: u64, dst: &wgpu::Buffer, dst_offset: u64, size: u64) {
        self.copy_unmodelled(src, src_offset, dst, dst_offset, size);
        self.ctx.count(|w| {
            w.copies += 1;
            w.copy_bytes += size;
        });
    }

    /// Records a copy that only a diagnostic needs (the watershed's snapshot of the last pass),
    /// which the work model does not price.
    pub(crate) fn copy_unmodelled(
        &mut self,
        src: &wgpu::Buffer,
        src_offset: u64,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        size: u64,
    ) {
        self.encoder
            .copy_buffer_to_buffer(src, src_offset, dst, dst_offset, size);
    }

    /// Allocates the query pair of the next pass, if timestamps are available.
    fn next_timestamp_slot(&mut self) -> Option<(usize, u32)> {
        if !self.ctx.summary.timestamps {
            return None;
        }
        let index_in_set = (self.passes * 2) % QUERIES_PER_SET;
        if index_in_set == 0 {
            self.query_sets
                .push(self.ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("hounsfield timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: QUERIES_PER_SET,
                }));
        }
        self.passes += 1;
        Some((self.query_sets.len() - 1, index_in_set))
    }

    /// Submits the recording without waiting for it: the host goes on — copying the next batch
    /// of data to the GPU, say — while the GPU runs it. Wait with [`Submitted::wait`] (a dropped
    /// submission still runs; later waits include it). No kernel time is measured.
    pub fn submit_without_waiting(self) -> Result<Submitted<'c>> {
        let Recorder {
            ctx, encoder, _serial, ..
        } = self;
        let index = ctx.scoped(|| Ok(ctx.queue.submit([encoder.finish()])))?;
        Ok(Submitted { ctx, index, _serial })
    }

    /// Submits everything recorded, waits for completion and returns the kernel time (of every
    /// submission, if the recording was flushed on the way).
    pub fn submit(self) -> Result<KernelTime> {
        let Recorder {
            ctx,
            encoder,
            query_sets,
            passes,
            flushed,
            pool: _,
            _serial,
        } = self;
        let time = finish(ctx, encoder, query_sets, passes)?;
        Ok(match (flushed, time) {
            (Some(a), KernelTime::Measured(b)) => KernelTime::Measured(a + b),
            _ => KernelTime::NotAvailable,
        })
    }
}

/// A submission the host has not waited for yet ([`Recorder::submit_without_waiting`]).
pub struct Submitted<'c> {
    ctx: &'c GpuContext,
    index: wgpu::SubmissionIndex,
    _serial: Option<parking_lot::ReentrantMutexGuard<'c, ()>>,
}

impl Submitted<'_> {
    /// Waits until the GPU has run the submission (and everything submitted before it).
    pub fn wait(self) -> Result<()> {
        self.ctx.wait(self.index)?;
        self.ctx.count(|w| w.submissions += 1);
        Ok(())
    }
}

/// Submits `encoder` with its timestamp queries resolved, waits, and sums the pass durations.
fn finish(
    ctx: &GpuContext,
    mut encoder: wgpu::CommandEncoder,
    query_sets: Vec<wgpu::QuerySet>,
    passes: u32,
) -> Result<KernelTime> {
    let readback = ctx.scoped(|| {
        let readback = if passes > 0 && ctx.summary.timestamps {
            let bytes = u64::from(QUERIES_PER_SET) * 8;
            let resolve = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp resolve"),
                size: bytes * query_sets.len() as u64,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let read = ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp read"),
                size: bytes * query_sets.len() as u64,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let total_queries = passes * 2;
            for (i, set) in query_sets.iter().enumerate() {
                let used = (total_queries - i as u32 * QUERIES_PER_SET).min(QUERIES_PER_SET);
                encoder.resolve_query_set(set, 0..used, &resolve, i as u64 * bytes);
            }
            encoder.copy_buffer_to_buffer(&resolve, 0, &read, 0, resolve.size());
            Some(read)
        } else {
            None
        };
        let idx = ctx.queue.submit([encoder.finish()]);
        ctx.count(|w| w.submissions += 1);
        Ok((idx, readback))
    })?;
    let (idx, readback) = readback;
    ctx.wait(idx)?;
    let Some(read) = readback else {
        return Ok(KernelTime::NotAvailable);
    };
    let mut raw = vec![0u8; read.size() as usize];
    read_mapped(ctx, &read, read.size(), &mut raw)?;
    let ticks: &[u64] = bytemuck::cast_slice(&raw);
    let period_ns = f64::from(ctx.queue.get_timestamp_period());
    let total_ticks: u64 = ticks[..(passes * 2) as usize]
        .chunks_exact(2)
        .map(|pair| pair[1].saturating_sub(pair[0]))
        .sum();
    Ok(KernelTime::Measured(Duration::from_nanos(
        (total_ticks as f64 * period_ns) as u64,
    )))
}
