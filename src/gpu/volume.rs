//! Volumes resident on the GPU: explicit upload and download, so kernels can be chained without
//! a host round trip.

use ndarray::{Array3, ArrayView3};
use wgpu::util::DeviceExt;

use crate::error::{Error, Result};
use crate::gpu::context::{GPU_WAIT_TIMEOUT, GpuContext};
use crate::volume::check_shape;

/// Transfers move at most this many bytes at a time, bounding staging memory.
const TRANSFER_CHUNK: u64 = 64 << 20;

/// A `(z, y, x)` f32 volume in one GPU storage buffer.
///
/// It may exceed the adapter's storage *binding* limit (kernels then run slab by slab); it must
/// fit the adapter's *buffer* limit ([`crate::gpu::AdapterSummary::max_buffer_size`]).
#[derive(Debug)]
pub struct GpuVolume {
    pub(crate) buffer: wgpu::Buffer,
    shape: [usize; 3],
    /// [`GpuContext`]'s id of the device that holds it.
    context: u64,
}

impl GpuVolume {
    /// Shape `[nz, ny, nx]`.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// Gives a pooled buffer of the same number of voxels a new shape (see `Recorder::volume`).
    pub(crate) fn reshape(&mut self, shape: [usize; 3]) {
        debug_assert_eq!(shape.iter().product::<usize>(), self.len());
        self.shape = shape;
    }

    /// Number of voxels.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Always false: volumes have at least one voxel.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The underlying buffer, for recording custom kernels with [`crate::gpu::Recorder`].
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// Size in bytes.
    pub fn byte_len(&self) -> u64 {
        self.len() as u64 * 4
    }

    /// An uninitialised (zero-filled) volume of `shape` on the GPU.
    pub fn zeros(ctx: &GpuContext, shape: [usize; 3]) -> Result<Self> {
        let bytes = checked_bytes(ctx, shape)?;
        let buffer = ctx.scoped(|| {
            Ok(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("hounsfield volume"),
                size: bytes,
                usage: volume_usage(),
                mapped_at_creation: false,
            }))
        })?;
        Ok(GpuVolume {
            buffer,
            shape,
            context: ctx.id,
        })
    }

    /// An error unless the volume lives on `ctx`'s device: a volume of another context would
    /// be read as whatever that device holds under the same id.
    pub(crate) fn check_context(&self, ctx: &GpuContext) -> Result<()> {
        if self.context == ctx.id {
            Ok(())
        } else {
            Err(Error::Gpu(
                "this GPU volume belongs to another GPU context (device): download it and upload it to this context"
                    .into(),
            ))
        }
    }

    /// Copies `data` to a new GPU volume.
    pub fn upload(ctx: &GpuContext, data: ArrayView3<'_, f32>) -> Result<Self> {
        let shape = [data.shape()[0], data.shape()[1], data.shape()[2]];
        checked_bytes(ctx, shape)?;
        let data = data.as_standard_layout();
        let floats = data
            .as_slice()
            .ok_or_else(|| Error::Gpu("standard-layout array is not contiguous".into()))?;
        let bytes: &[u8] = bytemuck::cast_slice(floats);
        if bytes.len() as u64 <= TRANSFER_CHUNK {
            let buffer = ctx.scoped(|| {
                Ok(ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some("hounsfield volume"),
                    contents: bytes,
                    usage: volume_usage(),
                }))
            })?;
            return Ok(GpuVolume {
                buffer,
                shape,
                context: ctx.id,
            });
        }
        let volume = GpuVolume::zeros(ctx, shape)?;
        for (i, chunk) in bytes.chunks(TRANSFER_CHUNK as usize).enumerate() {
            ctx.scoped(|| {
                ctx.queue.write_buffer(&volume.buffer, i as u64 * TRANSFER_CHUNK, chunk);
                Ok(())
            })?;
            // Submitting per chunk lets wgpu recycle the staging memory.
            let idx = ctx.queue.submit([]);
            ctx.wait(idx)?;
        }
        Ok(volume)
    }

    /// Copies the volume back to the host.
    pub fn download(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        self.download_as(ctx)
    }

    /// Copies the volume's 32-bit words back as `u32` (kernels that store integers in a
    /// volume's buffer: labels).
    pub fn download_u32(&self, ctx: &GpuContext) -> Result<Array3<u32>> {
        self.download_as(ctx)
    }

    fn download_as<T: bytemuck::Pod + Default>(&self, ctx: &GpuContext) -> Result<Array3<T>> {
        self.check_context(ctx)?;
        let total = self.byte_len();
        let chunk = total.min(TRANSFER_CHUNK);
        let pieces = total.div_ceil(chunk.max(1));
        // Two staging buffers: the GPU copies piece i + 1 into one while the host copies piece i
        // out of the other.
        let staging = (0..pieces.min(2))
            .map(|_| {
                ctx.scoped(|| {
                    Ok(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("hounsfield download"),
                        size: chunk,
                        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    }))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let piece = |i: u64| (i * chunk, chunk.min(total - i * chunk));
        let copy_piece = |i: u64| {
            let (offset, size) = piece(i);
            ctx.scoped(|| {
                let mut encoder = ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("download"),
                });
                encoder.copy_buffer_to_buffer(&self.buffer, offset, &staging[(i % 2) as usize], 0, size);
                Ok(ctx.queue.submit([encoder.finish()]))
            })
        };
        let mut out: Vec<T> = vec![T::default(); self.len()];
        let out_bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
        let mut in_flight = if pieces > 0 { Some(copy_piece(0)?) } else { None };
        for i in 0..pieces {
            let copied = in_flight.take().expect("piece i was submitted");
            ctx.wait(copied.clone())?;
            if i + 1 < pieces {
                in_flight = Some(copy_piece(i + 1)?);
            }
            let (offset, size) = piece(i);
            ctx.count(|w| {
                w.submissions += 1;
                w.readbacks += 1;
                w.readback_bytes += size;
            });
            read_mapped_after(
                ctx,
                &staging[(i % 2) as usize],
                size,
                &mut out_bytes[offset as usize..(offset + size) as usize],
                Some(copied),
            )?;
        }
        Array3::from_shape_vec(self.shape, out).map_err(|e| Error::Gpu(e.to_string()))
    }
}

/// Maps the first `size` bytes of a MAP_READ buffer, copies them to `dst` and unmaps.
pub(crate) fn read_mapped(ctx: &GpuContext, buffer: &wgpu::Buffer, size: u64, dst: &mut [u8]) -> Result<()> {
    read_mapped_after(ctx, buffer, size, dst, None)
}

/// [`read_mapped`] for a buffer whose last write is `written` (waits for that submission only,
/// so later ones keep running: the download's pipeline), or for everything submitted (`None`).
fn read_mapped_after(
    ctx: &GpuContext,
    buffer: &wgpu::Buffer,
    size: u64,
    dst: &mut [u8],
    written: Option<wgpu::SubmissionIndex>,
) -> Result<()> {
    let _serial = ctx.serialize();
    let (tx, rx) = std::sync::mpsc::channel();
    let slice = buffer.slice(..size);
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    ctx.device
        .poll(wgpu::PollType::Wait {
            submission_index: written,
            timeout: Some(GPU_WAIT_TIMEOUT),
        })
        .map_err(|e| match e {
            wgpu::PollError::Timeout => Error::Gpu("mapping a read-back buffer timed out".into()),
            other => Error::DeviceLost(other.to_string()),
        })?;
    // The poll above ran the callback when the buffer was ready; a bounded wait all the same,
    // so that a mapping that never resolves is an error, not a hang.
    rx.recv_timeout(GPU_WAIT_TIMEOUT)
        .map_err(|e| match e {
            std::sync::mpsc::RecvTimeoutError::Timeout => Error::Gpu("mapping a read-back buffer timed out".into()),
            std::sync::mpsc::RecvTimeoutError::Disconnected => Error::Gpu("buffer mapping was abandoned".into()),
        })?
        .map_err(|e| Error::Gpu(format!("mapping a read-back buffer failed: {e}")))?;
    {
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::Gpu(format!("reading a mapped buffer failed: {e}")))?;
        copy_in_parallel(dst, &view);
    }
    buffer.unmap();
    Ok(())
}

/// `dst.copy_from_slice(src)` on all cores for large copies. A read-back usually lands in a
/// fresh host array, whose first touch costs a page fault per 4 KiB page: on the first H200
/// machine (a microVM) one thread managed ~1.3 GB/s that way, so a 256 MiB download took
/// ~200 ms; spread over the cores, the faults and the copy run side by side.
fn copy_in_parallel(dst: &mut [u8], src: &[u8]) {
    use rayon::prelude::*;
    const PIECE: usize = 1 << 20;
    if dst.len() <= 4 * PIECE {
        dst.copy_from_slice(src);
        return;
    }
    dst.par_chunks_mut(PIECE)
        .zip(src.par_chunks(PIECE))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

fn volume_usage() -> wgpu::BufferUsages {
    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST
}

/// Byte size of a volume of `shape`, or an error that says which limit it breaks.
fn checked_bytes(ctx: &GpuContext, shape: [usize; 3]) -> Result<u64> {
    check_shape(&shape)?;
    if shape.iter().any(|&n| n > i32::MAX as usize) {
        return Err(Error::TooLarge(format!(
            "shape {shape:?}: GPU kernels index each axis with 32-bit integers"
        )));
    }
    let bytes = shape
        .iter()
        .try_fold(4u64, |acc, &n| acc.checked_mul(n as u64))
        .ok_or_else(|| Error::TooLarge(format!("shape {shape:?} overflows a 64-bit byte count")))?;
    let max = ctx.adapter().max_buffer_size;
    if bytes > max {
        return Err(Error::TooLarge(format!(
            "volume {shape:?} needs {:.1} MiB but adapter '{}' allows buffers of at most {:.1} MiB; \
             crop or downsample it, or use the CPU backend",
            bytes as f64 / 1048576.0,
            ctx.adapter().name,
            max as f64 / 1048576.0
        )));
    }
    Ok(bytes)
}
