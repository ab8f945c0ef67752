//! The classic watershed on the GPU (`shaders/segment/watershed_relax.wgsl`): a minimax flood
//! by relaxation instead of a priority queue.
//!
//! Every free sample repeatedly takes, among its reached neighbours, the one with the smallest
//! (cost, steps along its plateau, label) and becomes (max(height, cost), steps, label); markers
//! start at (height, 0, label). The fixed point gives every sample its minimax cost from the
//! markers (the height at which the CPU flood reaches it), and its label is that of a
//! neighbour the CPU flood releases first — the CPU's own choice — except where neighbours of
//! *different labels* tie on cost: the CPU then follows arrival order, the GPU the neighbour
//! fewer plateau steps from where the flood entered that height, then the smaller label. So
//! the two agree label for label on images whose floods never meet at equal cost (no plateaus
//! between basins), and the tie rule above holds otherwise. Heights are flooded as float32:
//! float64 heights closer than float32 resolves are equal heights here.
//!
//! The relaxation runs block by block (8 × 8 × 8 samples for volumes, 16 × 16 for images): a
//! workgroup relaxes its block in workgroup memory until it settles, so a flood front crosses a
//! block per pass rather than a sample per dispatch. A pass runs only the blocks asked for in
//! it: the first pass lists the blocks of the markers' footprints, and a block whose changed
//! samples may improve a neighbour outside it lists that neighbour's block for the next pass
//! (the fixed point is unique: the order of the updates cannot change it). A pass is one
//! indirect dispatch per slab pair whose workgroup count the previous pass wrote, so it costs
//! what it relaxes: a block runs about once per front that reaches it, blocks no front reaches
//! (outside the mask) never, and a pass after the fixed point only its launch. Passes alternate
//! the order of their lists.
//!
//! The state takes 8 bytes a sample (the cost, and the plateau steps and label packed in one
//! word) while the labels take at most 16 bits, leaving the steps at least 16; 12 bytes
//! otherwise, or when a flood's steps outgrow their bits (it then runs again in the wide
//! layout). A slice keeps each word of its samples together (plane after plane), so reads and
//! writes of neighbouring samples are contiguous and only the label words come back (4 bytes a
//! sample instead of 8 or 12). Volumes larger than one storage binding run by z-slabs, two to a
//! dispatch per pass, whose windows overlap by a slice either side in one buffer (in several,
//! with those slices copied after every pass, where the adapter's buffers are smaller than the
//! state); images run within one binding. After a batch of passes (32, then 16 at a time) one
//! small read-back asks whether the next pass lists any block, how many blocks each pass
//! relaxed (the work model counts what those touched, not the whole windows bound) and whether
//! the steps overflowed.
//!
//! How many passes a flood takes depends on what a block sees of the blocks run before it in
//! the same pass: a block that starts after its neighbour finished reads the neighbour's update.
//! Blocks run only in passes that list them, so a front crosses about a block a pass on any
//! adapter, a little more where workgroups run one after another (software adapters).
//! [`BlockVisibility::LastPass`] gives exactly the regime of GPUs running all of a pass's
//! blocks at once (each slice keeps a copy of its states from before the pass, from which
//! blocks load their halo), so a software adapter can count, and the tests can check, a large
//! GPU's behaviour.

use ndarray::{ArrayD, ArrayViewD, Dimension, IxDyn};
use rayon::prelude::*;

use super::watershed::WatershedOptions;
use crate::error::{Error, Result};
use crate::gpu::{Binding, BufferWindow, Constant, Constants, GpuContext, KernelSpec, Recorder, uniform};

crate::wgsl_constants!(pub(crate) WATERSHED_CONSTANTS: u32 {
    WATERSHED_FIXED = FIXED,
    WATERSHED_OUTSIDE = OUTSIDE,
    WATERSHED_UNREACHED = UNREACHED,
    WATERSHED_FLAG_SHIFT = FLAG_SHIFT,
    WATERSHED_LABEL_MASK = LABEL_MASK,
});

/// State flags: a marker, a sample outside the mask; the cost of an unreached sample (+inf).
const FIXED: u32 = 1;
const OUTSIDE: u32 = 2;
const UNREACHED: u32 = 0x7f80_0000;

/// Passes recorded before the first convergence check, and between later ones. An idle pass
/// costs only its launch (its lists are empty), a check a submission and a read-back, about
/// ten launches. A front crosses about a block a pass on a GPU running a pass's blocks at once:
/// the first batch lets it cross 32 blocks (256 samples), and later checks come every 16
/// passes, wasting at most 16 idle launches.
const FIRST_BATCH: usize = 32;
const LATER_BATCH: usize = 16;
/// The longest batch (the work buffer's per-pass counters).
const MAX_BATCH: usize = FIRST_BATCH;

/// How a kernel tiles the samples into blocks: a workgroup's block (x, y, z) and the samples
/// each invocation holds along z.
///
/// A volume's block is a cube where the slabs allow: a front crosses a block per pass where
/// blocks run at once (a real GPU), so the pass count follows the blocks' shortest edge. 8³ in
/// 256 invocations (WebGPU's default limit), its halo 16,000 bytes of workgroup memory (within
/// the default 16 KiB). Simulated with every block of a pass seeing only the last pass's
/// states, the harness's 512 × 512 × 256 watershed took 44 passes with 8³ blocks against 81 with
/// 8 × 8 × 4, for the same samples relaxed. Slabs too small for eight slices take 8 × 8 × 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tiling {
    Cube,
    Thin,
    Image,
}

impl Tiling {
    const fn block(self) -> [u32; 3] {
        match self {
            Tiling::Cube => [8, 8, 8],
            Tiling::Thin => [8, 8, 4],
            Tiling::Image => [16, 16, 1],
        }
    }

    const fn layers(self) -> u32 {
        match self {
            Tiling::Cube => 2,
            Tiling::Thin | Tiling::Image => 1,
        }
    }

    /// Ghost slices either side of a slab.
    const fn ghost(self) -> usize {
        match self {
            Tiling::Image => 0,
            Tiling::Cube | Tiling::Thin => 1,
        }
    }

    fn kernel(self) -> &'static KernelSpec {
        match self {
            Tiling::Cube => &RELAX_CUBE,
            Tiling::Thin => &RELAX_THIN,
            Tiling::Image => &RELAX_IMAGE,
        }
    }

    /// The shader's constants for this tiling.
    const fn constants(self) -> Constants {
        match self {
            Tiling::Cube => CUBE_BLOCK,
            Tiling::Thin => THIN_BLOCK,
            Tiling::Image => IMAGE_BLOCK,
        }
    }
}

macro_rules! tiling_constants {
    ($name:ident, $tiling:expr) => {
        const $name: Constants = &[
            ("WS_TILE_X", Constant::U32($tiling.block()[0])),
            ("WS_TILE_Y", Constant::U32($tiling.block()[1])),
            ("WS_TILE_Z", Constant::U32($tiling.block()[2])),
            ("WS_LAYERS", Constant::U32($tiling.layers())),
            ("WS_HALO_Z", Constant::U32($tiling.ghost() as u32)),
        ];
    };
}
tiling_constants!(CUBE_BLOCK, Tiling::Cube);
tiling_constants!(THIN_BLOCK, Tiling::Thin);
tiling_constants!(IMAGE_BLOCK, Tiling::Image);

/// Relaxation steps a block may take in one pass before it is relaxed again next pass.
const MAX_BLOCK_STEPS: u32 = 64;

/// Twin of `Params` in `watershed_relax.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct WatershedParams {
    nx: u32,
    ny: u32,
    nz: u32,
    /// The slab's first slice.
    z0: u32,
    neighbours: u32,
    /// Blocks of the volume along x, y, z.
    blocks: [u32; 3],
    /// Blocks of the slab along z.
    slab_blocks_z: u32,
    /// The word offset of the slab's window in the bound window.
    state_offset: u32,
    /// [`Layout::label_bits`].
    label_bits: u32,
    /// 0, or the words from a sample's state to its copy from before the pass
    /// ([`BlockVisibility::LastPass`]).
    snapshot_words: u32,
    /// Workgroups along x of every dispatch (lists fold into x · y workgroups).
    fold_x: u32,
    /// Blocks along z of a slab pair.
    pair_bz: u32,
    /// Where the work buffer holds the requests and the lists ([`WorkBuffer`]).
    requests_at: u32,
    lists_at: u32,
    steps: [[i32; 4]; 26],
}

/// Twin of `Pass` in `watershed_relax.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PassParams {
    number: u32,
    max_steps: u32,
    /// The words of this pass's schedule and the next one's in their buffers.
    now_slot: u32,
    next_slot: u32,
    /// The work buffer's counter of the blocks this pass relaxes.
    relaxed_counter: u32,
    _pad: [u32; 3],
}

/// The relaxation kernel for one block shape.
macro_rules! relax_kernel {
    ($name:literal, $block:expr) => {
        KernelSpec {
            name: $name,
            sources: &[include_str!("../../shaders/segment/watershed_relax.wgsl")],
            entry: "relax",
            bindings: &[
                uniform::<WatershedParams>(),
                uniform::<PassParams>(),
                Binding::Read,
                Binding::ReadWrite,
                Binding::ReadWrite,
                Binding::Read,
                uniform::<WatershedParams>(),
                Binding::Read,
                Binding::ReadWrite,
                Binding::ReadWrite,
            ],
            constants: &[WATERSHED_CONSTANTS, $block],
        }
    };
}

pub(crate) static RELAX_CUBE: KernelSpec = relax_kernel!("segment/watershed_relax_cube", Tiling::Cube.constants());
pub(crate) static RELAX_THIN: KernelSpec = relax_kernel!("segment/watershed_relax_thin", Tiling::Thin.constants());
pub(crate) static RELAX_IMAGE: KernelSpec = relax_kernel!("segment/watershed_relax_image", Tiling::Image.constants());

/// The kernels of this file, for `src/kernels.rs`.
#[cfg(test)]
pub(crate) const KERNELS: [&KernelSpec; 3] = [&RELAX_CUBE, &RELAX_THIN, &RELAX_IMAGE];

/// [`super::watershed`] on the GPU for 2D and 3D images: the classic flood (no compactness, no
/// watershed lines) with a centred 3 × … × 3 footprint. Equal to the CPU where no two labels
/// meet at equal cost; see the module docs for the tie rule. Volumes run by z-slabs when their
/// state (8 bytes a sample, 12 for 2¹⁶ labels or more or for plateaus whose steps outgrow the
/// packed layout) exceeds one storage binding: a slab of four slices, a slice either
/// side and the window's alignment must fit (`Error::TooLarge` otherwise), and an image must
/// fit whole.
pub fn watershed_on_gpu<M: Copy + Ord + Default + Send + Sync>(
    ctx: &GpuContext,
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
) -> Result<ArrayD<M>> {
    watershed_on_gpu_traced(ctx, image, markers, options).map(|(labels, _)| labels)
}

/// [`watershed_on_gpu`], and how the flood reached its fixed point (its block and the blocks
/// relaxed in each pass; after a rerun in the wide layout, that run's).
pub fn watershed_on_gpu_traced<M: Copy + Ord + Default + Send + Sync>(
    ctx: &GpuContext,
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
) -> Result<(ArrayD<M>, GpuFloodTrace)> {
    watershed_on_gpu_traced_with(ctx, image, markers, options, BlockVisibility::AsScheduled)
}

/// What a block of a pass sees of its neighbours' updates in that pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockVisibility {
    /// Whatever the adapter's scheduling gives: a block that starts after its neighbour
    /// finished reads its update (a front crosses about a block a pass, a little more where
    /// workgroups run one after another).
    #[default]
    AsScheduled,
    /// Only the states from before the pass, as if every block of a pass ran at once: the
    /// regime of a large GPU, reproduced on any adapter (neither the states after each pass
    /// nor the blocks each pass relaxes depend on scheduling). A diagnostic: each pass also
    /// copies the state once (copies the work model does not count), and the state takes twice
    /// the memory.
    LastPass,
}

/// [`watershed_on_gpu_traced`] with a choice of what blocks see of each other within a pass:
/// the same labels either way (the fixed point is unique), reached in different passes. For
/// measuring and testing, on a software adapter, how the flood behaves on a parallel GPU.
pub fn watershed_on_gpu_traced_with<M: Copy + Ord + Default + Send + Sync>(
    ctx: &GpuContext,
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
    visibility: BlockVisibility,
) -> Result<(ArrayD<M>, GpuFloodTrace)> {
    flood_on_gpu(ctx, image, markers, options, None, visibility).map(|(labels, _, trace)| (labels, trace))
}

/// [`watershed_on_gpu`] in a given first layout (`None`: packed when the labels leave the
/// steps at least 16 bits); returns the labels, the layout that flooded them and its trace.
fn flood_on_gpu<M: Copy + Ord + Default + Send + Sync>(
    ctx: &GpuContext,
    image: ArrayViewD<'_, f64>,
    markers: ArrayViewD<'_, M>,
    options: &WatershedOptions<'_>,
    first: Option<Layout>,
    visibility: BlockVisibility,
) -> Result<(ArrayD<M>, Layout, GpuFloodTrace)> {
    let dims = image.shape().to_vec();
    let shape = super::volume_shape(&dims, "watershed")?;
    super::watershed::check_shapes(&dims, markers.shape(), options)?;
    if options.compactness != 0.0 || options.watershed_line {
        return Err(Error::param(
            "backend",
            "the GPU floods the classic watershed only (compactness 0, no watershed lines): use the CPU",
        ));
    }
    let steps = footprint_steps(&dims, shape, options)?;
    let n = image.len();
    if n == 0 {
        let trace = GpuFloodTrace {
            block: [0; 3],
            relaxed_per_pass: Vec::new(),
        };
        return Ok((ArrayD::from_elem(IxDyn(&dims), M::default()), Layout::Wide, trace));
    }
    let [nz, ny, nx] = shape;
    let image = image.as_standard_layout();
    let image = image.as_slice().expect("standard layout");
    if image.par_iter().any(|v| v.is_nan()) {
        return Err(Error::param(
            "image",
            "NaN heights: the GPU flood orders heights as numbers; use the CPU watershed (scikit-image's NaN order)",
        ));
    }
    let markers = markers.as_standard_layout();
    let markers = markers.as_slice().expect("standard layout");
    let mask = options.mask.as_ref().map(|m| m.as_standard_layout());
    let mask = mask.as_ref().map(|m| m.as_slice().expect("standard layout"));
    let inside = |i: usize| mask.is_none_or(|m| m[i]);
    let labels = super::watershed_flood::distinct_labels(markers, &inside);
    let heights: Vec<f32> = image.par_iter().map(|&v| v as f32).collect();
    if labels.len() >= LABEL_MASK as usize {
        return Err(Error::TooLarge(format!(
            "the GPU watershed numbers at most {} distinct markers; these markers hold {}: use the CPU watershed",
            LABEL_MASK - 1,
            labels.len()
        )));
    }
    // (cost, steps, label rank, flags).
    let state_of = |i: usize| match (inside(i), markers[i]) {
        (false, _) => OUTSIDE_STATE,
        (true, m) if m == M::default() => [UNREACHED, 0, 0, 0],
        (true, m) => {
            let rank = 1 + labels.binary_search(&m).expect("collected") as u32;
            [heights[i].to_bits(), 0, rank, FIXED]
        }
    };
    let mut p = WatershedParams {
        nx: nx as u32,
        ny: ny as u32,
        nz: nz as u32,
        z0: 0,
        neighbours: steps.len() as u32,
        blocks: [0; 3],
        slab_blocks_z: 0,
        state_offset: 0,
        label_bits: 0,
        snapshot_words: 0,
        fold_x: 1,
        pair_bz: 0,
        requests_at: 0,
        lists_at: 0,
        steps: [[0; 4]; 26],
    };
    p.steps[..steps.len()].copy_from_slice(&steps);
    let markers_at = |i: usize| inside(i) && markers[i] != M::default();
    // Ranks 1 ..= labels.len(); the packed layout leaves the steps the other bits.
    let label_bits = (usize::BITS - labels.len().leading_zeros()).max(1);
    let mut layout = first.unwrap_or(if label_bits <= 16 {
        Layout::Packed { label_bits }
    } else {
        Layout::Wide
    });
    let copies = match visibility {
        BlockVisibility::AsScheduled => 1,
        BlockVisibility::LastPass => 2,
    };
    let flood = loop {
        let sample_bytes = copies * layout.bytes();
        let slabs = if nz == 1 {
            (Tiling::Image, slab_depth(ctx, shape, sample_bytes, Tiling::Image)?)
        } else {
            match slab_depth(ctx, shape, sample_bytes, Tiling::Cube) {
                Ok(depth) => (Tiling::Cube, depth),
                Err(_) => (Tiling::Thin, slab_depth(ctx, shape, sample_bytes, Tiling::Thin)?),
            }
        };
        match relax(ctx, &p, slabs, (layout, visibility), &heights, &markers_at, &state_of)? {
            Some(flood) => break flood,
            // Steps outgrew the packed layout: the wide one holds any.
            None => layout = Layout::Wide,
        }
    };
    let table: Vec<M> = std::iter::once(M::default()).chain(labels).collect();
    let out: Vec<M> = flood.ranks.par_iter().map(|&r| table[r as usize]).collect();
    let labels = ArrayD::from_shape_vec(IxDyn(&dims), out).map_err(|e| Error::InvalidShape(e.to_string()))?;
    Ok((labels, layout, flood.trace))
}

/// How the state buffer holds a sample's (cost, steps, label rank, flags); twin of
/// `load_state` and `store_state` in `watershed_relax.wgsl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Three words: cost, steps, and the label rank with the flags in its top two bits.
    Wide,
    /// Two words: cost (all ones outside the mask), and steps << label_bits | label rank, the
    /// steps field all ones for a marker.
    Packed { label_bits: u32 },
}

impl Layout {
    fn words(self) -> usize {
        match self {
            Layout::Wide => 3,
            Layout::Packed { .. } => 2,
        }
    }

    fn bytes(self) -> u64 {
        4 * self.words() as u64
    }

    fn label_bits(self) -> u32 {
        match self {
            Layout::Wide => 0,
            Layout::Packed { label_bits } => label_bits,
        }
    }

    /// The words of `state` (cost, steps, label rank, flags) into `words` ([`Layout::words`]).
    fn encode(self, [cost, steps, label, flags]: [u32; 4], words: &mut [u32]) {
        match self {
            Layout::Wide => words.copy_from_slice(&[cost, steps, label | flags << FLAG_SHIFT]),
            Layout::Packed { label_bits } => words.copy_from_slice(&if flags & OUTSIDE != 0 {
                [u32::MAX, 0]
            } else if flags & FIXED != 0 {
                [cost, u32::MAX << label_bits | label]
            } else {
                [cost, steps << label_bits | label]
            }),
        }
    }

    /// Which of a sample's words holds its label rank.
    fn label_word(self) -> usize {
        self.words() - 1
    }

    /// The label rank in a sample's [`Layout::label_word`] (0 outside the mask, whose packed
    /// label word is 0).
    fn rank(self, word: u32) -> u32 {
        match self {
            Layout::Wide => word & LABEL_MASK,
            Layout::Packed { label_bits } => word & ((1 << label_bits) - 1),
        }
    }
}

/// The state of a sample outside the mask (and of ghost slices past the volume's ends).
const OUTSIDE_STATE: [u32; 4] = [UNREACHED, 0, 0, OUTSIDE];

/// The label rank's bits in the wide layout's third word.
const LABEL_MASK: u32 = (1 << FLAG_SHIFT) - 1;

/// Where the wide layout's flags start in its third word.
const FLAG_SHIFT: u32 = 30;

/// Slices per z-slab: the whole volume when its state and two padding slices fit one storage
/// binding, else the most whole blocks' depths whose state, a slice either side and the window's
/// alignment do (images: the whole image or nothing).
fn slab_depth(ctx: &GpuContext, shape: [usize; 3], sample_bytes: u64, tiling: Tiling) -> Result<usize> {
    let [nz, ny, nx] = shape;
    let plane = sample_bytes * (ny * nx) as u64;
    let binding = ctx.max_storage_binding();
    let (ghosts, depth) = (2 * tiling.ghost() as u64, u64::from(tiling.block()[2]));
    if plane * (nz as u64 + ghosts) <= binding {
        return Ok(nz);
    }
    let align = ctx.storage_offset_alignment();
    let slab = (binding.saturating_sub(align) / plane).saturating_sub(ghosts) / depth * depth;
    if slab == 0 || nz == 1 {
        return Err(Error::TooLarge(format!(
            "the GPU watershed keeps {sample_bytes} bytes a sample: {} of {ny} × {nx} samples and {ghosts} neighbouring slices need {} bytes in one storage binding, and this adapter binds {binding}: use the CPU watershed",
            if nz > 1 {
                format!("a slab of {depth} slices")
            } else {
                "an image".to_string()
            },
            plane * (depth + ghosts) + if nz > 1 { align } else { 0 },
        )));
    }
    Ok(slab as usize)
}

/// The footprint's points other than the centre as (dx, dy, dz, flat) steps of the volume.
fn footprint_steps(dims: &[usize], shape: [usize; 3], options: &WatershedOptions<'_>) -> Result<Vec<[i32; 4]>> {
    let ndim = dims.len();
    let footprint = super::watershed::footprint_of(options, ndim)?;
    if footprint.ndim() != ndim || footprint.shape().iter().any(|&s| s != 3) {
        return Err(Error::param(
            "connectivity",
            format!(
                "the GPU flood takes a 3 × … × 3 footprint of the image's {ndim} axes; got shape {:?}",
                footprint.shape()
            ),
        ));
    }
    if options.offset.as_ref().is_some_and(|o| o.iter().any(|&c| c != 1)) {
        return Err(Error::param("offset", "the GPU flood takes centred footprints only"));
    }
    let [_, ny, nx] = shape;
    Ok(footprint
        .indexed_iter()
        .filter(|&(ref index, &on)| on && index.slice().iter().any(|&c| c != 1))
        .map(|(index, _)| {
            let d: Vec<i32> = index.slice().iter().map(|&c| c as i32 - 1).collect();
            let (dz, dy, dx) = if ndim == 3 { (d[0], d[1], d[2]) } else { (0, d[0], d[1]) };
            [dx, dy, dz, dx + dy * nx as i32 + dz * (ny * nx) as i32]
        })
        .collect())
}

/// A z-slab: the state buffer it is in, its parameters, heights, and its window of the state
/// (its slices and one more either side).
struct Slab {
    group: usize,
    params: wgpu::Buffer,
    heights: wgpu::Buffer,
    window: (u64, u64),
}

/// Consecutive slabs' state in one buffer: its first slice and depth (the buffer holds a slice
/// more either side).
struct StateGroup {
    z0: usize,
    nz: usize,
    buffer: wgpu::Buffer,
}

/// Passes over the blocks of `tiling` in z-slabs of `slab_nz` slices until one asks for none;
/// the label rank of every sample at the fixed point, or `None` when steps outgrew the packed
/// layout.
fn relax(
    ctx: &GpuContext,
    p: &WatershedParams,
    (tiling, slab_nz): (Tiling, usize),
    (layout, visibility): (Layout, BlockVisibility),
    heights: &[f32],
    markers_at: &(impl Fn(usize) -> bool + Sync),
    state_of: &(impl Fn(usize) -> [u32; 4] + Sync),
) -> Result<Option<Flood>> {
    let (kernel, block, layers, ghost) = (tiling.kernel(), tiling.block(), tiling.layers(), tiling.ghost());
    let (nz, plane) = (p.nz as usize, (p.nx * p.ny) as usize);
    let mut p = *p;
    p.label_bits = layout.label_bits();
    p.blocks = [
        p.nx.div_ceil(block[0]),
        p.ny.div_ceil(block[1]),
        p.nz.div_ceil(block[2]),
    ];
    // Slabs two to a dispatch (see the shader), each pair with its own lists of blocks, which
    // fold into fold_x columns of workgroups (the GPU writes the rows).
    let total_blocks = p.blocks.iter().map(|&b| b as usize).product::<usize>();
    p.pair_bz = 2 * (slab_nz as u32).div_ceil(block[2]);
    let most_listed = u64::from(p.blocks[0] * p.blocks[1]) * u64::from(p.pair_bz.min(p.blocks[2]));
    p.fold_x = most_listed
        .div_ceil(u64::from(ctx.limits.max_compute_workgroups_per_dimension))
        .max(1) as u32;
    let work_layout = WorkLayout::new(total_blocks);
    // Bound whole in every dispatch: three words a block.
    let work_bytes = 4 * work_layout.words() as u64;
    if work_bytes > ctx.max_storage_binding() {
        return Err(Error::TooLarge(format!(
            "the GPU watershed keeps {work_bytes} bytes of requests and lists for {total_blocks} blocks in one storage binding, and this adapter binds {}: use the CPU watershed",
            ctx.max_storage_binding()
        )));
    }
    (p.requests_at, p.lists_at) = (work_layout.requests_at as u32, work_layout.lists_at as u32);
    let mut rec = Recorder::new(ctx);
    // Per invocation: the halo's loads, then each step's neighbours, then the requests.
    let halo: u32 = (block[0] + 2) * (block[1] + 2) * (block[2] + if block[2] > 1 { 2 } else { 0 });
    let per_step = u64::from(layers) * (u64::from(p.neighbours) + 2);
    let max_steps = MAX_BLOCK_STEPS
        .min(((rec.loop_limit().saturating_sub(8 + per_step)) / per_step).min(u64::from(u32::MAX)) as u32);
    let invocations = block.iter().product::<u32>() / layers;
    rec.check_loop_budget(
        "the GPU watershed",
        u64::from(halo.div_ceil(invocations)) + u64::from(max_steps.max(1) + 1) * per_step,
    )?;
    // The state, a slice more either side of the volume (outside samples) in as few buffers as
    // the adapter's buffer size allows: within a buffer the slab windows overlap by the slice
    // either side, so neighbouring slabs see each other's updates; between buffers those
    // slices are copied after every pass.
    let sample_bytes = layout.bytes();
    // With a snapshot, each slice's states are followed by their copy from before the pass.
    let snapshot = visibility == BlockVisibility::LastPass;
    let states = sample_bytes * plane as u64;
    let slice = if snapshot { 2 * states } else { states };
    if snapshot {
        p.snapshot_words = (states / 4) as u32;
    }
    let align = ctx.storage_offset_alignment();
    let slab_starts: Vec<usize> = (0..nz).step_by(slab_nz).collect();
    let per_buffer = ((ctx.adapter().max_buffer_size / slice) as usize).saturating_sub(2 * ghost) / slab_nz * slab_nz;
    let groups: Vec<StateGroup> = slab_starts
        .chunks(per_buffer.max(slab_nz) / slab_nz)
        .map(|starts| {
            let z0 = starts[0];
            let depth = (starts[starts.len() - 1] + slab_nz).min(nz) - z0;
            // Slice by slice, word by word (see the shader's `state_index`).
            let words = layout.words();
            let slice_words = (slice / 4) as usize;
            let mut values = vec![0u32; (depth + 2 * ghost) * slice_words];
            values.par_chunks_mut(slice_words).enumerate().for_each(|(k, planes)| {
                let mut encoded = [0u32; 3];
                for within in 0..plane {
                    let state = match (z0 + k).checked_sub(ghost) {
                        Some(z) if z < nz => state_of(z * plane + within),
                        _ => OUTSIDE_STATE,
                    };
                    layout.encode(state, &mut encoded[..words]);
                    for (w, &value) in encoded[..words].iter().enumerate() {
                        planes[w * plane + within] = value;
                    }
                }
                if snapshot {
                    let (now, before) = planes.split_at_mut(words * plane);
                    before.copy_from_slice(now);
                }
            });
            StateGroup {
                z0,
                nz: depth,
                buffer: rec.storage_init(&values),
            }
        })
        .collect();
    let slabs: Vec<Slab> = slab_starts
        .iter()
        .map(|&z0| {
            let depth = slab_nz.min(nz - z0);
            let group = groups
                .iter()
                .rposition(|g| g.z0 <= z0)
                .expect("the first group starts at 0");
            // The window starts at the slab's slice z0 − 1, which is its buffer's slice z0 − g.z0.
            let start = slice * (z0 - groups[group].z0) as u64;
            let aligned = start / align * align;
            let params = WatershedParams {
                z0: z0 as u32,
                slab_blocks_z: (depth as u32).div_ceil(block[2]),
                state_offset: ((start - aligned) / 4) as u32,
                ..p
            };
            Slab {
                group,
                params: rec.uniform(&params),
                heights: rec.constants(&heights[z0 * plane..(z0 + depth) * plane]),
                window: (aligned, start - aligned + slice * (depth + 2 * ghost) as u64),
            }
        })
        .collect();
    // In fixed pairs; a lone slab's partner has no blocks.
    let no_slab = rec.uniform(&WatershedParams { slab_blocks_z: 0, ..p });
    let pairs: Vec<&[Slab]> = slabs.chunks(2).collect();
    // The first pass lists the blocks of the markers' footprints.
    let first = first_requests(&p, block, markers_at);
    let pair_stride = p.pair_bz as usize * (p.blocks[0] * p.blocks[1]) as usize;
    let (initial, first_listed) = work_layout.initial(&first, pair_stride, pairs.len());
    let work = rec.storage_init(&initial);
    let schedules = Schedules::new(&mut rec, p.fold_x, &first_listed);
    // What comes back after a batch: the counters, then the next batch's first schedule.
    let report = rec.scratch(4 * (1 + MAX_BATCH) as u64 + schedules.slot_bytes());
    let zero = rec.scratch(4 * MAX_BATCH as u64);
    // The work model's bound bytes (read, read-write), for what the relaxed blocks did not touch.
    let (mut bound_read, mut bound_written, mut dispatches) = (0u64, 0u64, 0u64);
    let mut relaxed_per_pass = Vec::new();
    // Where the snapshot passes through (a buffer cannot be copied into itself).
    let through = snapshot.then(|| {
        let largest = groups.iter().map(|g| g.nz).max().unwrap_or(0);
        rec.scratch(slice * (largest + 2 * ghost) as u64)
    });
    // Every pass relaxes at least one block by one sample until the fixed point; the bound
    // only guards against a kernel that never settles.
    let limit = 4 * nz * plane + 4 * MAX_BATCH;
    let (mut passes, mut batch) = (0, FIRST_BATCH);
    loop {
        // The next batch's passes start with empty schedules and counters.
        rec.copy(&zero, 0, &work, 4, 4 * batch as u64);
        schedules.clear(&mut rec, passes + 2..=passes + batch + 1);
        for k in 0..batch {
            passes += 1;
            let ((now, now_slot), (next, next_slot)) = (schedules.of(passes), schedules.of(passes + 1));
            let pass = rec.uniform(&PassParams {
                number: passes as u32,
                max_steps,
                now_slot: now_slot as u32,
                next_slot: next_slot as u32,
                relaxed_counter: 1 + k as u32,
                _pad: [0; 3],
            });
            // Slabs in the order the blocks run in (see the shader): last to first in even passes.
            let order: Vec<(usize, &[Slab])> = if passes % 2 == 0 {
                pairs.iter().copied().enumerate().rev().collect()
            } else {
                pairs.iter().copied().enumerate().collect()
            };
            for (q, pair) in order {
                let window = |slab: &Slab| BufferWindow {
                    buffer: &groups[slab.group].buffer,
                    offset: slab.window.0,
                    size: slab.window.1,
                };
                let (a, b) = (&pair[0], pair.get(1));
                let bindings = [
                    BufferWindow::whole(&a.params),
                    BufferWindow::whole(&pass),
                    BufferWindow::whole(&a.heights),
                    window(a),
                    BufferWindow::whole(&work),
                    BufferWindow::whole(now),
                    BufferWindow::whole(b.map_or(&no_slab, |b| &b.params)),
                    BufferWindow::whole(&b.unwrap_or(a).heights),
                    window(b.unwrap_or(a)),
                    BufferWindow::whole(next),
                ];
                rec.dispatch_indirect(kernel, &bindings, now, 4 * (now_slot + 4 * q) as u64)?;
                // As the recorder counts the bindings (a lone slab's bound twice).
                let second = b.unwrap_or(a);
                bound_read += a.heights.size() + second.heights.size() + now.size();
                bound_written += a.window.1 + second.window.1 + work.size() + next.size();
                dispatches += 1;
            }
            // Between buffers: each one's border slices into its neighbours' extra slices.
            for pair in groups.windows(2) {
                let (below, above) = (&pair[0], &pair[1]);
                let top = slice * below.nz as u64;
                rec.copy(&below.buffer, top, &above.buffer, 0, slice);
                rec.copy(&above.buffer, slice, &below.buffer, top + slice, slice);
            }
            // The states the next pass's blocks read: this pass's.
            if let Some(through) = &through {
                for g in &groups {
                    let slices = (g.nz + 2 * ghost) as u64;
                    rec.copy_unmodelled(&g.buffer, 0, through, 0, slices * slice);
                    for k in 0..slices {
                        rec.copy_unmodelled(through, k * slice, &g.buffer, k * slice + states, states);
                    }
                }
            }
        }
        // The counters, and the schedule of the pass after the batch: whether it lists a block.
        rec.copy(&work, 0, &report, 0, 4 * (1 + batch) as u64);
        schedules.copy(&mut rec, passes + 1, &report, 4 * (1 + MAX_BATCH) as u64);
        let answer = rec.read_back(&report, report.size());
        rec.flush()?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&answer.read(ctx)?);
        if words[0] != 0 {
            return Ok(None);
        }
        relaxed_per_pass.extend_from_slice(&words[1..1 + batch]);
        let listed = words[1 + MAX_BATCH..].chunks(4).any(|pair| pair[3] != 0);
        if !listed {
            break;
        }
        if passes > limit {
            return Err(Error::Gpu(format!(
                "the GPU watershed did not settle in {passes} passes"
            )));
        }
        batch = LATER_BATCH;
    }
    // What the relaxed blocks touched: their heights (the reads), their halo of states, their
    // list entry and up to 27 requests, each with a list entry and its schedule's two words;
    // every dispatch also read its arguments and its list's length (counted with the writes).
    let block_samples = u64::from(block.iter().product::<u32>());
    let relaxed: u64 = relaxed_per_pass.iter().map(|&n| u64::from(n)).sum();
    let touched_read = relaxed * block_samples * 4;
    let touched_written = relaxed * (u64::from(halo) * sample_bytes + 4 + 27 * 16) + dispatches * 16;
    rec.untouched(
        kernel,
        bound_read.saturating_sub(touched_read),
        bound_written.saturating_sub(touched_written),
    );
    // Only the label words come back: one plane a slice, 4 bytes a sample.
    let label_plane = (4 * plane) as u64;
    let results: Vec<_> = groups
        .iter()
        .map(|g| {
            let pieces: Vec<(u64, u64)> = (0..g.nz)
                .map(|z| {
                    (
                        slice * (ghost + z) as u64 + label_plane * layout.label_word() as u64,
                        label_plane,
                    )
                })
                .collect();
            rec.read_back_pieces(&g.buffer, &pieces)
        })
        .collect();
    rec.submit()?;
    let mut ranks = vec![0u32; nz * plane];
    for (g, result) in groups.iter().zip(results) {
        let bytes = result.read(ctx)?;
        // Read from bytes: no alignment assumed.
        ranks[g.z0 * plane..(g.z0 + g.nz) * plane]
            .par_iter_mut()
            .zip(bytes.par_chunks_exact(4))
            .for_each(|(r, w)| *r = layout.rank(u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
    }
    Ok(Some(Flood {
        ranks,
        trace: GpuFloodTrace {
            block,
            relaxed_per_pass,
        },
    }))
}

/// The passes' schedules: per pass and slab pair, the indirect arguments (fold_x, rows, 1) of
/// the pair's dispatch and the length of its list. Two buffers, by the pass's parity: a pass's
/// dispatches take their arguments from one while its blocks append to the other. A parity's
/// slots are reused every `slots` passes, so each batch clears those of the passes it appends
/// to before it runs.
struct Schedules {
    buffers: [wgpu::Buffer; 2],
    /// Empty slots (no rows, no blocks), to clear from.
    cleared: wgpu::Buffer,
    /// Pass 1's schedule, copied into its slot when the recording runs.
    first: wgpu::Buffer,
    slots: usize,
    slot_words: usize,
}

impl Schedules {
    /// The schedules of a flood whose lists fold into `fold_x` columns, with pass 1's lists
    /// `first_listed` blocks long (one a slab pair).
    fn new(rec: &mut Recorder<'_>, fold_x: u32, first_listed: &[u32]) -> Self {
        // Passes of one parity within a batch and the pass after it.
        let slots = MAX_BATCH / 2 + 1;
        let empty: Vec<u32> = (0..slots * first_listed.len())
            .flat_map(|_| [fold_x, 0, 1, 0])
            .collect();
        let first: Vec<u32> = first_listed
            .iter()
            .flat_map(|&listed| [fold_x, listed.div_ceil(fold_x), 1, listed])
            .collect();
        let schedules = Schedules {
            buffers: [rec.indirect_init(&empty), rec.indirect_init(&empty)],
            cleared: rec.storage_init(&empty),
            first: rec.storage_init(&first),
            slots,
            slot_words: 4 * first_listed.len(),
        };
        let (buffer, at) = schedules.of(1);
        rec.copy(&schedules.first, 0, buffer, 4 * at as u64, schedules.slot_bytes());
        schedules
    }

    /// The buffer holding `pass`'s schedule, and the word where it starts.
    fn of(&self, pass: usize) -> (&wgpu::Buffer, usize) {
        (&self.buffers[pass % 2], (pass / 2) % self.slots * self.slot_words)
    }

    fn slot_bytes(&self) -> u64 {
        4 * self.slot_words as u64
    }

    /// Records the clearing of the schedules of `passes`.
    fn clear(&self, rec: &mut Recorder<'_>, passes: std::ops::RangeInclusive<usize>) {
        for pass in passes {
            let (buffer, at) = self.of(pass);
            rec.copy(&self.cleared, 0, buffer, 4 * at as u64, self.slot_bytes());
        }
    }

    /// Records a copy of `pass`'s schedule into `dst` at byte `offset`.
    fn copy(&self, rec: &mut Recorder<'_>, pass: usize, dst: &wgpu::Buffer, offset: u64) {
        let (buffer, at) = self.of(pass);
        rec.copy(buffer, 4 * at as u64, dst, offset, self.slot_bytes());
    }
}

/// Where the watershed's work buffer keeps what its passes share (words): [0] whether steps
/// overflowed the packed layout, [1 + k] the blocks relaxed in a batch's pass k, then a request
/// per block (the last pass it was asked for), then two lists of blocks to relax (for passes of
/// either parity), each slab pair's from its own start.
struct WorkLayout {
    total_blocks: usize,
    requests_at: usize,
    lists_at: usize,
}

impl WorkLayout {
    fn new(total_blocks: usize) -> Self {
        let requests_at = 1 + MAX_BATCH;
        WorkLayout {
            total_blocks,
            requests_at,
            lists_at: requests_at + total_blocks,
        }
    }

    fn words(&self) -> usize {
        self.lists_at + 2 * self.total_blocks
    }

    /// The buffer before the first pass, which relaxes the blocks `first` flags (listed in
    /// raster order, a pair's `pair_stride` blocks to a pair), and the length of each of the
    /// `pairs` lists.
    fn initial(&self, first: &[u32], pair_stride: usize, pairs: usize) -> (Vec<u32>, Vec<u32>) {
        let mut words = vec![0u32; self.words()];
        let mut listed = vec![0u32; pairs];
        // Pass 1 is odd: the second list.
        let list = self.lists_at + self.total_blocks;
        for (b, _) in first.iter().enumerate().filter(|&(_, &asked)| asked != 0) {
            words[self.requests_at + b] = 1;
            let q = b / pair_stride;
            words[list + q * pair_stride + listed[q] as usize] = b as u32;
            listed[q] += 1;
        }
        (words, listed)
    }
}

/// A finished flood: the label rank of every sample, and how it got there.
struct Flood {
    ranks: Vec<u32>,
    trace: GpuFloodTrace,
}

/// How the GPU watershed reached its fixed point, for diagnosing its speed on an adapter: the
/// block a workgroup relaxes (x, y, z) and how many blocks each pass relaxed. Passes are
/// recorded in batches between convergence checks, so the last passes may relax none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuFloodTrace {
    pub block: [u32; 3],
    pub relaxed_per_pass: Vec<u32>,
}

/// The first pass's requests: 1 for the blocks of every marker's 3 × … × 3 neighbourhood (a
/// marker never changes, so the samples it can reach first must be relaxed: those of its
/// footprint, which the neighbourhood holds), 0 for the rest. Blocks next to a marker's block
/// but beyond its footprint are asked for by the blocks the flood reaches, as any other.
fn first_requests(p: &WatershedParams, block: [u32; 3], markers_at: &(impl Fn(usize) -> bool + Sync)) -> Vec<u32> {
    let [bx, by, bz] = p.blocks.map(|b| b as usize);
    let (nx, ny, nz) = (p.nx as usize, p.ny as usize, p.nz as usize);
    let [tx, ty, tz] = block.map(|b| b as usize);
    let around = |c: usize, n: usize| c.saturating_sub(1)..=(c + 1).min(n - 1);
    // Slice by slice in parallel.
    let wanted: Vec<usize> = (0..nz)
        .into_par_iter()
        .flat_map_iter(|z| {
            let mut found = Vec::new();
            for y in 0..ny {
                for x in (0..nx).filter(|&x| markers_at((z * ny + y) * nx + x)) {
                    for zz in around(z, nz) {
                        for yy in around(y, ny) {
                            for xx in around(x, nx) {
                                found.push(((zz / tz) * by + yy / ty) * bx + xx / tx);
                            }
                        }
                    }
                }
            }
            found
        })
        .collect();
    let mut requests = vec![0u32; bx * by * bz];
    for b in wanted {
        requests[b] = 1;
    }
    requests
}
