//! The workloads the harness runs. A kernel joins the report by adding one [`Workload`] to
//! [`workloads`] (the harness itself does not change); `covers` names the library kernels it
//! exercises, and a test fails when a kernel of the library is covered by none.
//!
//! Sizes are the realistic ones at `scale = 1`: 512×512×256 volumes (512×512×64 for
//! the costly neighbourhood filters), 720-angle sinograms, 256³ cone-beam problems. `--scale`
//! multiplies every edge; `--quick` shrinks everything to a smoke test.

use std::sync::Arc;
use std::time::Duration;

use hounsfield::filter::Filter;
use hounsfield::gpu::{GpuContext, GpuProjections, GpuVolume};
use hounsfield::recon::iterative::{Control, Iterative, Method};
use hounsfield::recon::{
    Backprojector, Detector, FanFbp, Fbp2d, Fdk, Geometry, HelicalFdk, Phantom, Projector, ProjectorKind, SheppLogan,
    StripeRemoval, Transmission, centred_grid,
};
use hounsfield::registry::{Bench, BenchSize, OPERATIONS, Operation};
use hounsfield::{Backend, Grid, Result, stats};
use ndarray::{Array3, Axis};

use crate::stats::Work;

/// Where a workload sits in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Volume filters.
    Filter,
    /// Reductions (statistics, histograms).
    Statistics,
    /// Analytic reconstruction and projectors.
    Reconstruction,
    /// Iterative reconstruction.
    Iterative,
    /// Segmentation (labels, distance transforms).
    Segmentation,
}

/// How big to make a workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sizing {
    /// Tiny sizes for a smoke test.
    pub quick: bool,
    /// Multiplies every edge of the full sizes.
    pub scale: f64,
    /// A cube of this edge instead (the scaling study).
    pub cube: Option<usize>,
}

impl Sizing {
    /// An edge of `full` voxels at this sizing (at least 4).
    pub fn edge(&self, full: usize) -> usize {
        let n = if self.quick {
            full as f64 / 32.0
        } else {
            full as f64 * self.scale
        };
        (n.round() as usize).max(4)
    }

    /// A volume shape of `full` at this sizing, or the cube of the scaling study.
    pub fn shape(&self, full: [usize; 3]) -> [usize; 3] {
        match self.cube {
            Some(n) => [n; 3],
            None => full.map(|d| self.edge(d)),
        }
    }

    /// A count (views, iterations) scaled like an edge, at least `min`.
    pub fn count(&self, full: usize, min: usize) -> usize {
        self.edge(full).max(min)
    }
}

/// One prepared problem: its input and both paths.
pub trait Case {
    /// The problem's size, for the report (`512×512×256`, `720 views × 736 → 512²`).
    fn size(&self) -> String;
    /// What one run does, for its throughput.
    fn work(&self) -> Work;
    /// The CPU path.
    fn cpu(&self) -> Result<Array3<f32>>;
    /// The GPU path end to end: upload, compute, download.
    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>>;
    /// What is timed of the CPU path: [`Case::cpu`] unless the case's output needs a
    /// conversion to the f32 volume the parity check reads (labels), which is not timed.
    fn cpu_timed(&self) -> Result<()> {
        self.cpu().map(drop)
    }
    /// What is timed of the GPU path end to end (see [`Case::cpu_timed`]).
    fn gpu_timed(&self, ctx: &GpuContext) -> Result<()> {
        self.gpu(ctx).map(drop)
    }
    /// Uploads the input for [`Case::gpu_resident`]; `false` when the case has no resident form.
    fn upload(&mut self, _ctx: &GpuContext) -> Result<bool> {
        Ok(false)
    }
    /// The GPU path on the uploaded input, waited for; the kernel time where timestamps exist.
    fn gpu_resident(&self, _ctx: &GpuContext) -> Result<Option<Duration>> {
        Ok(None)
    }
}

/// Builds a workload's problem at a sizing.
pub type MakeCase = Box<dyn Fn(&Sizing) -> Result<Box<dyn Case>>>;

/// A registered workload.
pub struct Workload {
    /// Unique name, also the key of the Python peers' results.
    pub name: &'static str,
    /// The library operations it exercises: names of `hounsfield::registry::OPERATIONS`, and
    /// `projector:<ProjectorKind::name>:forward|transpose|iterative`.
    pub covers: Vec<&'static str>,
    /// Report section.
    pub category: Category,
    /// GPU and CPU outputs may differ by this fraction of the CPU output's peak magnitude.
    pub tolerance: f64,
    /// Part of the scaling study (time against cube size).
    pub scaling: bool,
    /// Timed on the CPU only (no GPU path, no work model), whatever adapter the run has.
    pub cpu_only: bool,
    /// Builds the problem.
    pub make: MakeCase,
}

/// Every workload, in report order.
pub fn workloads() -> Vec<Workload> {
    let mut all = filters();
    all.extend(statistics());
    all.extend(segmentation());
    all.extend(reconstruction());
    all.extend(corrections());
    all.extend(projectors());
    all.extend(iterative());
    all
}

/// A name made at run time, for the workloads generated from the library's registries (the
/// harness runs once; the few bytes are never freed).
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// A CT-like mask (twin of `ct_mask` in `scripts/python_peers.py`): an elliptic body with two
/// lung cavities, and small spherical nodules inside the lungs every 24 slices — one large
/// component with holes and hundreds of small ones.
pub fn ct_mask(shape: [usize; 3]) -> Array3<f32> {
    let [_, ny, nx] = shape;
    let (cx, cy) = (nx as f64 / 2.0, ny as f64 / 2.0);
    let (fx, fy) = (nx as f64, ny as f64);
    let pitch = (0.06 * fx).max(3.0);
    let radius = (0.012 * fx).max(1.0);
    Array3::from_shape_fn(shape, |(z, y, x)| {
        let (x, y, z) = (x as f64 + 0.5, y as f64 + 0.5, z as f64);
        let body = ((x - cx) / (0.43 * fx)).powi(2) + ((y - cy) / (0.32 * fy)).powi(2) < 1.0;
        let lung = (((x - cx).abs() - 0.18 * fx) / (0.1 * fx)).powi(2) + ((y - cy) / (0.2 * fy)).powi(2) < 1.0;
        let (gx, gy) = ((x / pitch).round() * pitch, (y / pitch).round() * pitch);
        let gz = (z / 24.0).round() * 24.0 + 4.0;
        let nodule = (x - gx).powi(2) + (y - gy).powi(2) + ((z - gz) * 2.0).powi(2) < radius * radius;
        f32::from(u8::from((body && !lung) || (lung && nodule)))
    })
}

#[derive(Clone, Copy)]
enum Segmentation {
    Label,
    Distances,
}

struct SegmentationCase {
    input: Array3<f32>,
    mask: ndarray::ArrayD<bool>,
    kind: Segmentation,
    resident: Option<GpuVolume>,
}

/// Labels or distances as the f32 volume the harness compares (in parallel: the conversion is
/// the harness's, not the kernel's, and should not weigh on its time).
fn as_f32<T: Copy + Send + Sync>(shape: [usize; 3], values: &ndarray::ArrayD<T>, convert: fn(T) -> f32) -> Array3<f32> {
    use rayon::prelude::*;
    let values = values.as_slice().expect("standard layout");
    Array3::from_shape_vec(shape, values.par_iter().map(|&v| convert(v)).collect()).expect("the input's shape")
}

impl Case for SegmentationCase {
    fn size(&self) -> String {
        let (z, y, x) = self.input.dim();
        format!("{x}×{y}×{z}")
    }

    fn work(&self) -> Work {
        // Read the mask, write 4-byte labels or distances.
        Work::Bytes(8 * self.input.len() as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        let shape = self.input.shape().try_into().expect("3D");
        Ok(match self.kind {
            Segmentation::Label => {
                let l = hounsfield::segment::label(self.mask.view(), None)?;
                as_f32(shape, &l.labels, |v| v as f32)
            }
            Segmentation::Distances => {
                let d = hounsfield::segment::distance_transform_edt(self.mask.view(), None, false)?;
                as_f32(shape, &d.distances, |v| v as f32)
            }
        })
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        let shape = self.input.shape().try_into().expect("3D");
        Ok(match self.kind {
            Segmentation::Label => {
                let l = hounsfield::segment::label_on_gpu(ctx, self.mask.view(), None)?;
                as_f32(shape, &l.labels, |v| v as f32)
            }
            Segmentation::Distances => {
                let d = hounsfield::segment::distance_transform_edt_on_gpu(ctx, self.mask.view(), None)?;
                as_f32(shape, &d, |v| v)
            }
        })
    }

    fn cpu_timed(&self) -> Result<()> {
        match self.kind {
            Segmentation::Label => drop(hounsfield::segment::label(self.mask.view(), None)?),
            Segmentation::Distances => drop(hounsfield::segment::distance_transform_edt(
                self.mask.view(),
                None,
                false,
            )?),
        }
        Ok(())
    }

    fn gpu_timed(&self, ctx: &GpuContext) -> Result<()> {
        match self.kind {
            Segmentation::Label => drop(hounsfield::segment::label_on_gpu(ctx, self.mask.view(), None)?),
            Segmentation::Distances => drop(hounsfield::segment::distance_transform_edt_on_gpu(
                ctx,
                self.mask.view(),
                None,
            )?),
        }
        Ok(())
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        let fits = self.input.len() as u64 * 4 <= ctx.max_storage_binding();
        if matches!(self.kind, Segmentation::Label) && !fits {
            return Ok(false);
        }
        self.resident = Some(GpuVolume::upload(ctx, self.input.view())?);
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        let input = self.resident.as_ref().expect("uploaded first");
        let time = match self.kind {
            Segmentation::Label => hounsfield::segment::label_gpu(ctx, input, None, 3)?.kernel_time,
            Segmentation::Distances => hounsfield::segment::distance_transform_edt_gpu_timed(ctx, input, None, 3)?.1,
        };
        Ok(time.duration())
    }
}

/// Per-label histograms (`scipy.ndimage.histogram` with labels and an index): CT-like noise
/// counted in 64 bins over the components of the CT-like mask (a CPU operation).
struct LabelHistogramCase {
    values: Array3<f32>,
    labels: ndarray::ArrayD<u32>,
    count: usize,
}

impl LabelHistogramCase {
    const BINS: usize = 64;

    fn counts(&self) -> Result<Vec<f32>> {
        let edges: Vec<f64> = (0..=Self::BINS)
            .map(|k| -1000.0 + 2000.0 * k as f64 / Self::BINS as f64)
            .collect();
        let which = hounsfield::segment::HistogramLabels::Range {
            first: 1,
            last: self.count as i64,
        };
        let h = hounsfield::segment::label_histograms(
            self.values.view().into_dyn(),
            Some(self.labels.view()),
            which,
            &edges,
        )?;
        Ok(h.counts.iter().flatten().map(|&c| c as f32).collect())
    }
}

impl Case for LabelHistogramCase {
    fn size(&self) -> String {
        let (z, y, x) = self.values.dim();
        format!("{x}×{y}×{z}, {} labels × {} bins", self.count, Self::BINS)
    }

    fn work(&self) -> Work {
        // Read a 4-byte value and a 4-byte label per sample.
        Work::Bytes(8 * self.values.len() as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        let counts = self.counts()?;
        Ok(Array3::from_shape_vec((1, 1, counts.len()), counts).expect("one row"))
    }

    fn gpu(&self, _ctx: &GpuContext) -> Result<Array3<f32>> {
        Err(hounsfield::Error::Gpu("per-label histograms have no GPU path".into()))
    }
}

/// The classic watershed of the CT-like mask, the scikit-image gallery's recipe: markers are
/// the labelled local maxima (3 × 3 × 3) of the distance map above 1.5, heights the negated
/// distances. The heights are made distinct (ranks of (−distance, a hash of the position),
/// written as consecutive float32 values), so that no two basins meet at equal cost and the
/// GPU flood equals the CPU's label for label (see `watershed_on_gpu`). `visibility`
/// `LastPass` floods as a GPU running every block of a pass at once would, on any adapter (the
/// work model of a large GPU's regime, counted on a software one).
struct WatershedCase {
    visibility: hounsfield::segment::BlockVisibility,
    shape: [usize; 3],
    heights: ndarray::ArrayD<f64>,
    markers: ndarray::ArrayD<u32>,
    mask: ndarray::ArrayD<bool>,
    count: usize,
}

impl WatershedCase {
    fn new(shape: [usize; 3], visibility: hounsfield::segment::BlockVisibility) -> Result<WatershedCase> {
        use rayon::prelude::*;
        let mask = ct_mask(shape).mapv(|v| v != 0.0).into_dyn();
        let distance = hounsfield::segment::distance_transform_edt(mask.view(), None, false)?.distances;
        let d = distance.as_slice().expect("standard layout");
        // scipy's maximum_filter(distance, 3), reflect mode.
        let top = hounsfield::ndimage::min_or_max_filter(
            distance.view(),
            &[true; 27],
            &[3, 3, 3],
            None,
            hounsfield::boundary::BoundaryMode::Reflect,
            0.0,
            &[0, 0, 0],
            false,
            hounsfield::ndimage::Dtype::F64,
            hounsfield::ndimage::Dtype::F64,
        )?;
        let peaks = ndarray::Zip::from(&distance)
            .and(&top)
            .par_map_collect(|&d, &t| d == t && d > 1.5);
        let markers = hounsfield::segment::label(peaks.view(), None)?;
        let mut order: Vec<(u64, u32)> = (0..d.len())
            .into_par_iter()
            .map(|i| {
                // Larger distances first (their negation is lower), then a hash of the position.
                let hash = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (((1u64 << 40) - 1 - (d[i] * d[i]).round() as u64) << 24 | hash, i as u32)
            })
            .collect();
        order.par_sort_unstable();
        let mut heights = vec![0.0f64; d.len()];
        for (rank, &(_, i)) in order.iter().enumerate() {
            heights[i as usize] = f64::from(f32::from_bits(0x3f80_0000 + rank as u32));
        }
        Ok(WatershedCase {
            visibility,
            shape,
            heights: ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&shape), heights).expect("the mask's shape"),
            markers: markers.labels,
            mask,
            count: markers.count,
        })
    }

    fn options(&self) -> hounsfield::segment::WatershedOptions<'_> {
        hounsfield::segment::WatershedOptions {
            mask: Some(self.mask.view()),
            ..Default::default()
        }
    }
}

impl Case for WatershedCase {
    fn size(&self) -> String {
        let [z, y, x] = self.shape;
        format!("{x}×{y}×{z}, {} markers", self.count)
    }

    fn work(&self) -> Work {
        // Read 8-byte heights, 4-byte markers and the mask; write 4-byte labels.
        Work::Bytes(17 * self.heights.len() as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        let labels = hounsfield::segment::watershed(self.heights.view(), self.markers.view(), &self.options())?;
        Ok(as_f32(self.shape, &labels, |v| v as f32))
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        let (labels, trace) = hounsfield::segment::watershed_on_gpu_traced_with(
            ctx,
            self.heights.view(),
            self.markers.view(),
            &self.options(),
            self.visibility,
        )?;
        // The pass profile says why the work model is what it is on this adapter (fronts
        // crossing a block per pass where blocks run at once, or many per pass where in order).
        let [bx, by, bz] = trace.block;
        eprintln!(
            "watershed_ct_peaks ({:?}) on {}: blocks of {bx}×{by}×{bz}, {} passes, blocks relaxed per pass {:?}",
            self.visibility,
            ctx.adapter().name,
            trace.relaxed_per_pass.len(),
            trace.relaxed_per_pass
        );
        Ok(as_f32(self.shape, &labels, |v| v as f32))
    }

    fn cpu_timed(&self) -> Result<()> {
        drop(hounsfield::segment::watershed(
            self.heights.view(),
            self.markers.view(),
            &self.options(),
        )?);
        Ok(())
    }

    fn gpu_timed(&self, ctx: &GpuContext) -> Result<()> {
        drop(hounsfield::segment::watershed_on_gpu_traced_with(
            ctx,
            self.heights.view(),
            self.markers.view(),
            &self.options(),
            self.visibility,
        )?);
        Ok(())
    }
}

/// A watershed row: [`WatershedCase`] flooded with `visibility`.
fn watershed_workload(name: &'static str, visibility: hounsfield::segment::BlockVisibility) -> Workload {
    Workload {
        name,
        covers: vec!["watershed"],
        category: Category::Segmentation,
        tolerance: 0.0,
        scaling: false,
        cpu_only: false,
        make: Box::new(move |s| Ok(Box::new(WatershedCase::new(s.shape(FULL), visibility)?) as Box<dyn Case>)),
    }
}

fn segmentation() -> Vec<Workload> {
    fn make(sizing: &Sizing, kind: Segmentation) -> Result<Box<dyn Case>> {
        let input = ct_mask(sizing.shape(FULL));
        let mask = input.mapv(|v| v != 0.0).into_dyn();
        Ok(Box::new(SegmentationCase {
            input,
            mask,
            kind,
            resident: None,
        }))
    }
    vec![
        Workload {
            name: "label_ct_mask",
            covers: vec!["label"],
            category: Category::Segmentation,
            tolerance: 0.0,
            scaling: false,
            cpu_only: false,
            make: Box::new(|s| make(s, Segmentation::Label)),
        },
        Workload {
            name: "edt_ct_mask",
            covers: vec!["distance_transform_edt"],
            category: Category::Segmentation,
            tolerance: 1e-5,
            scaling: false,
            cpu_only: false,
            make: Box::new(|s| make(s, Segmentation::Distances)),
        },
        watershed_workload("watershed_ct_peaks", hounsfield::segment::BlockVisibility::AsScheduled),
        // The same flood with every block of a pass reading only the last pass's states: on a
        // software adapter, the count of a large GPU's regime (a diagnostic; its snapshot
        // copies are not in the model, its times are not the watershed's).
        watershed_workload(
            "watershed_last_pass_ct_peaks",
            hounsfield::segment::BlockVisibility::LastPass,
        ),
        Workload {
            name: "label_histograms_ct",
            covers: vec!["label_histograms"],
            category: Category::Segmentation,
            tolerance: 0.0,
            scaling: false,
            cpu_only: true,
            make: Box::new(|s| {
                let shape = s.shape(FULL);
                let mask = ct_mask(shape).mapv(|v| v != 0.0).into_dyn();
                let labels = hounsfield::segment::label(mask.view(), None)?;
                Ok(Box::new(LabelHistogramCase {
                    values: noise_volume(shape),
                    labels: labels.labels,
                    count: labels.count,
                }) as Box<dyn Case>)
            }),
        },
    ]
}

/// Every projector pair of `ProjectorKind::ALL`: forward and transpose on the cone-beam problem,
/// and (for the pairs other than Joseph's, which every iterative workload uses) SIRT.
fn projectors() -> Vec<Workload> {
    ProjectorKind::ALL
        .into_iter()
        .flat_map(|kind| {
            let n = kind.name();
            let mut list = vec![
                Workload {
                    name: leak(format!("{n}_forward_cone")),
                    covers: vec![leak(format!("projector:{n}:forward"))],
                    category: Category::Reconstruction,
                    tolerance: 1e-4,
                    scaling: kind == ProjectorKind::Joseph,
                    cpu_only: false,
                    make: Box::new(move |sizing| projector_case(sizing, kind, true)),
                },
                Workload {
                    name: leak(format!("{n}_transpose_cone")),
                    covers: vec![leak(format!("projector:{n}:transpose"))],
                    category: Category::Reconstruction,
                    tolerance: 1e-4,
                    scaling: false,
                    cpu_only: false,
                    make: Box::new(move |sizing| projector_case(sizing, kind, false)),
                },
            ];
            if kind != ProjectorKind::Joseph {
                list.push(Workload {
                    name: leak(format!("sirt_2d_{n}")),
                    covers: vec![leak(format!("projector:{n}:iterative"))],
                    category: Category::Iterative,
                    tolerance: 1e-4,
                    scaling: false,
                    cpu_only: false,
                    make: Box::new(move |sizing| iterative_case(sizing, Method::Sirt, 2, kind)),
                });
            }
            list
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Filters.

/// 512×512×256.
const FULL: [usize; 3] = [256, 512, 512];
/// 512×512×64, for kernels whose cost per voxel is high.
const THIN: [usize; 3] = [64, 512, 512];
/// 256³.
const CUBE: [usize; 3] = [256, 256, 256];

/// CT-like noise in [−1000, 1000) HU (xorshift; the same every run).
pub fn noise_volume(shape: [usize; 3]) -> Array3<f32> {
    let mut rng = hounsfield::rng::XorShift64::new(0x2545_F491_4F6C_DD1D);
    Array3::from_shape_simple_fn(shape, || rng.next_f32() * 2000.0 - 1000.0)
}

struct FilterCase {
    filter: Box<dyn Filter>,
    input: Array3<f32>,
    output_len: usize,
    resident: Option<GpuVolume>,
    /// The `_into` variants: the CPU path writes this buffer (touched once, before timing)
    /// instead of a fresh output; no GPU path (the resident GPU path already reuses buffers).
    into: Option<std::sync::Mutex<Array3<f32>>>,
}

/// The memory-bound workloads (pointwise, and the Gaussian against its three-pass floor), also
/// timed into a caller's buffer (`Filter::apply_cpu_into`) as `<name>_into`: a fresh output's
/// first-touch page zeroing costs the pointwise ones as much as their work.
const INTO: &[&str] = &[
    "gaussian_s2",
    "window_soft_tissue",
    "threshold",
    "rescale",
    "clip",
    "sigmoid_soft_tissue",
];

impl FilterCase {
    fn boxed(filter: Box<dyn Filter>, input: Array3<f32>, into: bool) -> Result<Box<dyn Case>> {
        let shape = [input.dim().0, input.dim().1, input.dim().2];
        let output_shape = filter.output_shape(shape, 3)?;
        let output_len = output_shape.iter().product();
        let into = into.then(|| std::sync::Mutex::new(Array3::from_elem(output_shape, 1.0f32)));
        Ok(Box::new(FilterCase {
            filter,
            input,
            output_len,
            resident: None,
            into,
        }))
    }
}

impl Case for FilterCase {
    fn size(&self) -> String {
        let (z, y, x) = self.input.dim();
        format!("{x}×{y}×{z}")
    }

    fn work(&self) -> Work {
        Work::Bytes(4 * (self.input.len() + self.output_len) as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        match &self.into {
            Some(buffer) => {
                let mut buffer = buffer.lock().expect("one user");
                self.filter.apply_cpu_into(self.input.view(), buffer.view_mut())?;
                Ok(buffer.clone())
            }
            None => self.filter.apply_cpu(self.input.view()),
        }
    }

    fn cpu_timed(&self) -> Result<()> {
        match &self.into {
            Some(buffer) => self
                .filter
                .apply_cpu_into(self.input.view(), buffer.lock().expect("one user").view_mut()),
            None => self.filter.apply_cpu(self.input.view()).map(drop),
        }
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        let up = GpuVolume::upload(ctx, self.input.view())?;
        self.filter.apply_gpu(ctx, &up)?.download(ctx)
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        self.resident = Some(GpuVolume::upload(ctx, self.input.view())?);
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        let input = self.resident.as_ref().expect("uploaded first");
        let (_, time) = self.filter.apply_gpu_timed(ctx, input)?;
        Ok(time.duration())
    }
}

/// The filter workloads: every [`Bench`] of the library's registry, on CT-like noise (or its
/// 0/1 threshold), covering its operation.
fn filters() -> Vec<Workload> {
    OPERATIONS
        .iter()
        .flat_map(|op| op.benches.iter().map(move |b| (op, b)))
        .flat_map(|(op, b)| {
            let variants: &[bool] = if INTO.contains(&b.name) {
                &[false, true]
            } else {
                &[false]
            };
            variants.iter().map(move |&into| (op, b, into))
        })
        .map(|(op, b, into): (&'static Operation, &'static Bench, bool)| Workload {
            name: if into { leak(format!("{}_into", b.name)) } else { b.name },
            covers: vec![op.name],
            category: Category::Filter,
            tolerance: b.tolerance,
            scaling: b.scaling,
            cpu_only: into,
            make: Box::new(move |sizing| {
                let full = match b.size {
                    BenchSize::Full => FULL,
                    BenchSize::Thin => THIN,
                    BenchSize::Cube => CUBE,
                };
                let mut input = noise_volume(sizing.shape(full));
                if b.binary {
                    input.mapv_inplace(|v| if v > 0.0 { 1.0 } else { 0.0 });
                }
                FilterCase::boxed((b.build)(), input, into)
            }),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Statistics: scalars are returned as a 1×1×k array for the parity check.

struct StatisticsCase {
    input: Array3<f32>,
    kind: Reduction,
    resident: Option<GpuVolume>,
}

#[derive(Clone, Copy)]
enum Reduction {
    Moments,
    Histogram,
    Otsu,
}

impl StatisticsCase {
    fn reduce(&self, ctx: Option<&GpuContext>, input: Option<&GpuVolume>) -> Result<Array3<f32>> {
        let values: Vec<f32> = match (self.kind, ctx, input) {
            (Reduction::Moments, None, _) => moments(stats::statistics(&Backend::Cpu, self.input.view())?),
            (Reduction::Moments, Some(ctx), Some(v)) => moments(stats::statistics_gpu(ctx, v)?),
            (Reduction::Histogram, None, _) => counts(stats::histogram(
                &Backend::Cpu,
                self.input.view(),
                256,
                Some((-1000.0, 1000.0)),
            )?),
            (Reduction::Histogram, Some(ctx), Some(v)) => {
                counts(stats::histogram_gpu(ctx, v, 256, Some((-1000.0, 1000.0)))?)
            }
            (Reduction::Otsu, None, _) => vec![stats::threshold_otsu(&Backend::Cpu, self.input.view(), 256)?],
            (Reduction::Otsu, Some(ctx), Some(v)) => vec![stats::threshold_otsu_gpu(ctx, v, 256)?],
            _ => unreachable!("a GPU reduction needs its input"),
        };
        Ok(Array3::from_shape_vec((1, 1, values.len()), values).expect("one row"))
    }
}

fn moments(s: stats::Statistics) -> Vec<f32> {
    vec![s.count as f32, s.min, s.max, s.mean as f32, s.std as f32]
}

fn counts(h: stats::Histogram) -> Vec<f32> {
    h.counts.iter().map(|&c| c as f32).collect()
}

impl Case for StatisticsCase {
    fn size(&self) -> String {
        let (z, y, x) = self.input.dim();
        format!("{x}×{y}×{z}")
    }

    fn work(&self) -> Work {
        Work::Bytes(4 * self.input.len() as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        self.reduce(None, None)
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        let up = GpuVolume::upload(ctx, self.input.view())?;
        self.reduce(Some(ctx), Some(&up))
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        self.resident = Some(GpuVolume::upload(ctx, self.input.view())?);
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        self.reduce(Some(ctx), self.resident.as_ref())?;
        Ok(None)
    }
}

fn statistics() -> Vec<Workload> {
    fn make(sizing: &Sizing, kind: Reduction) -> Result<Box<dyn Case>> {
        Ok(Box::new(StatisticsCase {
            input: noise_volume(sizing.shape(FULL)),
            kind,
            resident: None,
        }))
    }
    vec![
        Workload {
            name: "statistics",
            covers: vec!["statistics"],
            category: Category::Statistics,
            tolerance: 1e-5,
            scaling: false,
            cpu_only: false,
            make: Box::new(|s| make(s, Reduction::Moments)),
        },
        Workload {
            name: "histogram_256",
            covers: vec!["histogram"],
            category: Category::Statistics,
            tolerance: 0.0,
            scaling: false,
            cpu_only: false,
            make: Box::new(|s| make(s, Reduction::Histogram)),
        },
        Workload {
            name: "threshold_otsu_256",
            covers: vec!["threshold_otsu"],
            category: Category::Statistics,
            tolerance: 1e-6,
            scaling: false,
            cpu_only: false,
            make: Box::new(|s| make(s, Reduction::Otsu)),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Reconstruction: the problems of benches/recon.rs.

/// A cone-beam problem: 256³ from 360 views of 384² at full size (magnification 1.5).
struct ConeProblem {
    geometry: Geometry,
    projections: Array3<f32>,
    shape: [usize; 3],
    grid: Grid,
    phantom: Phantom,
}

fn cone_problem(sizing: &Sizing) -> Result<ConeProblem> {
    cone_problem_on(sizing, Detector::Flat)
}

/// [`cone_problem`] on a flat panel or on the cylinder about the source with the same pixels.
fn cone_problem_on(sizing: &Sizing, detector: Detector) -> Result<ConeProblem> {
    let n = match sizing.cube {
        Some(n) => n,
        None => sizing.edge(256),
    };
    let views = sizing.count(360, 8);
    let det = n * 3 / 2;
    let angles: Vec<f64> = (0..views).map(|k| k as f64 * 360.0 / views as f64).collect();
    let pixel = 1.2 * 256.0 / n as f64;
    let geometry = match detector {
        Detector::Flat => Geometry::cone(&angles, 1000.0, 1500.0, det, det, [pixel, pixel], [0.0, 0.0])?,
        Detector::Arc => Geometry::cone_cylindrical(&angles, 1000.0, 1500.0, det, det, [pixel, pixel], [0.0, 0.0])?,
    };
    let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 0.47 * n as f64)?;
    let projections = geometry.project_exact(&phantom)?;
    let shape = [n; 3];
    let grid = centred_grid(shape, [1.0; 3])?;
    Ok(ConeProblem {
        geometry,
        projections,
        shape,
        grid,
        phantom,
    })
}

fn cone_size(geometry: &Geometry, shape: [usize; 3]) -> String {
    format!(
        "{} views × {}×{} → {}³",
        geometry.views.len(),
        geometry.cols,
        geometry.rows,
        shape[2]
    )
}

/// Views × voxels: the updates of one (back-)projection.
fn cone_work(geometry: &Geometry, shape: [usize; 3]) -> Work {
    Work::Updates((geometry.views.len() * shape.iter().product::<usize>()) as u64)
}

struct FdkCase {
    fdk: Fdk,
    geometry: Geometry,
    projections: Array3<f32>,
    shape: [usize; 3],
    grid: Grid,
    resident: Option<GpuProjections>,
}

impl Case for FdkCase {
    fn size(&self) -> String {
        cone_size(&self.geometry, self.shape)
    }

    fn work(&self) -> Work {
        cone_work(&self.geometry, self.shape)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        self.fdk
            .reconstruct_cpu(self.projections.view(), self.shape, &self.grid)
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        self.fdk
            .reconstruct_gpu(ctx, self.projections.view(), self.shape, &self.grid)
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        self.resident = Some(GpuProjections::upload(ctx, self.projections.view())?);
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        let p = self.resident.as_ref().expect("uploaded first");
        self.fdk.reconstruct_resident(ctx, p, self.shape, &self.grid)?;
        Ok(None)
    }
}

struct HelicalCase {
    fdk: HelicalFdk,
    geometry: Geometry,
    projections: Array3<f32>,
    shape: [usize; 3],
    grid: Grid,
}

impl Case for HelicalCase {
    fn size(&self) -> String {
        format!("helix, {}", cone_size(&self.geometry, self.shape))
    }

    fn work(&self) -> Work {
        cone_work(&self.geometry, self.shape)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        self.fdk
            .reconstruct_cpu(self.projections.view(), self.shape, &self.grid)
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        self.fdk
            .reconstruct_gpu(ctx, self.projections.view(), self.shape, &self.grid)
    }
}

/// FDK of the cone problem on a flat panel or on the cylinder with the same pixels.
fn fdk_workload(name: &'static str, detector: Detector, scaling: bool) -> Workload {
    Workload {
        name,
        covers: vec!["fdk"],
        category: Category::Reconstruction,
        tolerance: 1e-4,
        scaling,
        cpu_only: false,
        make: Box::new(move |sizing| {
            let ConeProblem {
                geometry,
                projections,
                shape,
                grid,
                ..
            } = cone_problem_on(sizing, detector)?;
            Ok(Box::new(FdkCase {
                fdk: Fdk::new(&geometry)?,
                geometry,
                projections,
                shape,
                grid,
                resident: None,
            }))
        }),
    }
}

/// A projector pair: forward (volume → projections) or its transpose.
struct ProjectorCase {
    projector: Arc<dyn Projector>,
    geometry: Geometry,
    shape: [usize; 3],
    volume: Array3<f32>,
    projections: Array3<f32>,
    forward: bool,
    resident_volume: Option<GpuVolume>,
    resident_projections: Option<GpuProjections>,
}

impl Case for ProjectorCase {
    fn size(&self) -> String {
        cone_size(&self.geometry, self.shape)
    }

    fn work(&self) -> Work {
        cone_work(&self.geometry, self.shape)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        if self.forward {
            self.projector.forward_cpu(self.volume.view())
        } else {
            self.projector.backward_cpu(self.projections.view())
        }
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        if self.forward {
            let v = GpuVolume::upload(ctx, self.volume.view())?;
            self.projector.forward_gpu(ctx, &v)?.download(ctx)
        } else {
            let p = GpuProjections::upload(ctx, self.projections.view())?;
            self.projector.backward_gpu(ctx, &p)?.download(ctx)
        }
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        if self.forward {
            self.resident_volume = Some(GpuVolume::upload(ctx, self.volume.view())?);
        } else {
            self.resident_projections = Some(GpuProjections::upload(ctx, self.projections.view())?);
        }
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        match (&self.resident_volume, &self.resident_projections) {
            (Some(v), _) => drop(self.projector.forward_gpu(ctx, v)?),
            (_, Some(p)) => drop(self.projector.backward_gpu(ctx, p)?),
            _ => unreachable!("uploaded first"),
        }
        Ok(None)
    }
}

fn projector_case(sizing: &Sizing, kind: ProjectorKind, forward: bool) -> Result<Box<dyn Case>> {
    let ConeProblem {
        geometry,
        projections,
        shape,
        grid,
        phantom,
    } = cone_problem(sizing)?;
    Ok(Box::new(ProjectorCase {
        projector: kind.build(&geometry, shape, &grid)?,
        volume: phantom.rasterize(shape, &grid, 1)?,
        geometry,
        shape,
        projections,
        forward,
        resident_volume: None,
        resident_projections: None,
    }))
}

struct BackprojectCase {
    backprojector: Backprojector,
    geometry: Geometry,
    shape: [usize; 3],
    projections: Array3<f32>,
    weights: Vec<f64>,
    resident: Option<GpuProjections>,
}

impl Case for BackprojectCase {
    fn size(&self) -> String {
        cone_size(&self.geometry, self.shape)
    }

    fn work(&self) -> Work {
        cone_work(&self.geometry, self.shape)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        self.backprojector
            .backproject_cpu(self.projections.view(), &self.weights)
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        let p = GpuProjections::upload(ctx, self.projections.view())?;
        self.backprojector
            .backproject_gpu(ctx, &p, &self.weights)?
            .download(ctx)
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        self.resident = Some(GpuProjections::upload(ctx, self.projections.view())?);
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        let p = self.resident.as_ref().expect("uploaded first");
        self.backprojector.backproject_gpu(ctx, p, &self.weights)?;
        Ok(None)
    }
}

/// Parallel-beam FBP of a stack of 720-angle sinograms (512² slices at full size).
struct FbpCase {
    fbp: Fbp2d,
    sinograms: Array3<f32>,
}

impl Case for FbpCase {
    fn size(&self) -> String {
        let (views, slices, cols) = self.sinograms.dim();
        format!("{slices} slices × {views} views × {cols} → {cols}²")
    }

    fn work(&self) -> Work {
        let (views, slices, cols) = self.sinograms.dim();
        Work::Updates((views * slices * cols * cols) as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        self.fbp.reconstruct_stack_cpu(self.sinograms.view())
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        self.fbp.reconstruct_stack_gpu(ctx, self.sinograms.view())
    }
}

/// Fan-beam FBP of one 720-view sinogram into a 512² image.
struct FanCase {
    fan: FanFbp,
    sinogram: ndarray::Array2<f32>,
    size: usize,
    pixel: f64,
}

impl Case for FanCase {
    fn size(&self) -> String {
        let (views, cols) = self.sinogram.dim();
        format!("{views} views × {cols} → {}²", self.size)
    }

    fn work(&self) -> Work {
        Work::Updates((self.sinogram.dim().0 * self.size * self.size) as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        Ok(self
            .fan
            .reconstruct_cpu(self.sinogram.view(), self.size, self.pixel)?
            .insert_axis(Axis(0)))
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        Ok(self
            .fan
            .reconstruct_gpu(ctx, self.sinogram.view(), self.size, self.pixel)?
            .insert_axis(Axis(0)))
    }
}

fn reconstruction() -> Vec<Workload> {
    vec![
        Workload {
            name: "fbp_parallel_720",
            covers: vec!["fbp"],
            category: Category::Reconstruction,
            tolerance: 1e-4,
            scaling: false,
            cpu_only: false,
            make: Box::new(|sizing| {
                let n = sizing.edge(512);
                let views = sizing.count(720, 16);
                let slices = sizing.count(16, 2);
                let angles: Vec<f64> = (0..views).map(|k| k as f64 * 180.0 / views as f64).collect();
                let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 0.47 * n as f64)?;
                let sinogram = Geometry::parallel_2d(&angles, n, 1.0)?.project_exact(&phantom)?;
                // The same sinogram in every slice (views × slices × columns).
                let sinograms = Array3::from_shape_fn((views, slices, n), |(v, _, c)| sinogram[[v, 0, c]]);
                Ok(Box::new(FbpCase {
                    fbp: Fbp2d::new(&angles),
                    sinograms,
                }))
            }),
        },
        Workload {
            name: "fbp_fan_720",
            covers: vec!["fan_fbp"],
            category: Category::Reconstruction,
            // The fan's detector coordinate and distance weight are f32 expressions a GPU may
            // fuse into FMAs: 1.44e-4 of the peak on the H200 (below 1e-4 on lavapipe).
            tolerance: 5e-4,
            scaling: false,
            cpu_only: false,
            make: Box::new(|sizing| {
                let n = sizing.edge(512);
                let views = sizing.count(720, 16);
                let angles: Vec<f64> = (0..views).map(|k| k as f64 * 360.0 / views as f64).collect();
                let cols = n * 3 / 2;
                let geometry = Geometry::fan(&angles, 1000.0, 1500.0, cols, 1.0, Detector::Arc, 0.0)?;
                let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 0.45 * n as f64 * 0.9)?;
                let sinogram = geometry.project_exact(&phantom)?.index_axis_move(Axis(1), 0);
                Ok(Box::new(FanCase {
                    fan: FanFbp::new(&geometry)?,
                    sinogram,
                    size: n,
                    pixel: 0.9,
                }))
            }),
        },
        fdk_workload("fdk_cone", Detector::Flat, true),
        fdk_workload("fdk_cylindrical", Detector::Arc, false),
        Workload {
            name: "fdk_helical",
            covers: vec!["helical_fdk"],
            category: Category::Reconstruction,
            tolerance: 1e-4,
            scaling: false,
            cpu_only: false,
            make: Box::new(|sizing| {
                // A 128³ Shepp–Logan scanned by a helix at pitch 1 with a quarter of the cone
                // problem's rows, 180 views per turn, from one collimation below to one above.
                let n = sizing.edge(128);
                let per_turn = sizing.count(180, 8);
                let (det, rows) = (n * 3 / 2, (n * 3 / 8).max(2));
                let pixel = 1.2 * 256.0 / n as f64;
                let collimation = rows as f64 * pixel * 1000.0 / 1500.0;
                let turns = ((n as f64 + 2.0 * collimation) / collimation).ceil() as usize;
                let angles: Vec<f64> = (0..turns * per_turn)
                    .map(|k| k as f64 * 360.0 / per_turn as f64)
                    .collect();
                let geometry =
                    Geometry::cone_cylindrical(&angles, 1000.0, 1500.0, rows, det, [pixel, pixel], [0.0, 0.0])?
                        .helical(collimation, -(n as f64 / 2.0 + collimation))?;
                let phantom = Phantom::shepp_logan_3d(SheppLogan::Modified, 0.47 * n as f64)?;
                let projections = geometry.project_exact(&phantom)?;
                let shape = [n; 3];
                Ok(Box::new(HelicalCase {
                    fdk: HelicalFdk::new(&geometry)?,
                    geometry,
                    projections,
                    shape,
                    grid: centred_grid(shape, [1.0; 3])?,
                }))
            }),
        },
        Workload {
            name: "backproject_cone",
            covers: vec!["backproject"],
            category: Category::Reconstruction,
            tolerance: 1e-4,
            scaling: false,
            cpu_only: false,
            make: Box::new(|sizing| {
                let ConeProblem {
                    geometry,
                    projections,
                    shape,
                    grid,
                    ..
                } = cone_problem(sizing)?;
                let weights = vec![1.0; geometry.views.len()];
                Ok(Box::new(BackprojectCase {
                    backprojector: Backprojector::new(&geometry, shape, &grid)?,
                    geometry,
                    shape,
                    projections,
                    weights,
                    resident: None,
                }))
            }),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Projection-domain corrections: raw counts of 360 views × 384² (flat and dark stacks of 8),
// and stripe removal on 360 views × 64 rows × 384 columns.

struct CorrectionCase {
    projections: Array3<f32>,
    transmission: Option<Transmission>,
    stripes: Option<StripeRemoval>,
    resident: Option<GpuProjections>,
}

impl CorrectionCase {
    fn run(&self, ctx: Option<&GpuContext>) -> Result<Array3<f32>> {
        let p = self.projections.view();
        match (&self.transmission, &self.stripes, ctx) {
            (Some(t), _, None) => t.apply_cpu(p),
            (Some(t), _, Some(ctx)) => t.apply_gpu_host(ctx, p),
            (None, Some(s), None) => s.apply_cpu(p),
            (None, Some(s), Some(ctx)) => s.apply_gpu(ctx, p),
            (None, None, _) => unreachable!("a correction case corrects"),
        }
    }
}

impl Case for CorrectionCase {
    fn size(&self) -> String {
        let (views, rows, cols) = self.projections.dim();
        format!("{views} views × {rows}×{cols}")
    }

    fn work(&self) -> Work {
        Work::Bytes(8 * self.projections.len() as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        self.run(None)
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        self.run(Some(ctx))
    }

    fn upload(&mut self, ctx: &GpuContext) -> Result<bool> {
        if self.transmission.is_none() {
            return Ok(false);
        }
        self.resident = Some(GpuProjections::upload(ctx, self.projections.view())?);
        Ok(true)
    }

    fn gpu_resident(&self, ctx: &GpuContext) -> Result<Option<Duration>> {
        let (Some(t), Some(p)) = (&self.transmission, &self.resident) else {
            return Ok(None);
        };
        t.apply_gpu(ctx, p)?;
        Ok(None)
    }
}

fn corrections() -> Vec<Workload> {
    vec![
        Workload {
            name: "transmission",
            covers: vec!["transmission"],
            category: Category::Reconstruction,
            tolerance: 1e-5,
            scaling: false,
            cpu_only: false,
            make: Box::new(|sizing| {
                let (views, det) = (sizing.count(360, 8), sizing.edge(384));
                let mut rng = hounsfield::rng::XorShift64::new(23);
                let mut counts = |n: usize, lo: f32, span: f32| -> Array3<f32> {
                    Array3::from_shape_simple_fn((n, det, det), || lo + span * rng.next_f32())
                };
                let (flat, dark) = (counts(8, 9000.0, 200.0), counts(8, 90.0, 20.0));
                let projections = counts(views, 500.0, 8000.0);
                let transmission = Transmission::new()
                    .normalize(flat.view(), dark.view())?
                    .minus_log(Some(1e-6))?;
                Ok(Box::new(CorrectionCase {
                    projections,
                    transmission: Some(transmission),
                    stripes: None,
                    resident: None,
                }))
            }),
        },
        Workload {
            name: "stripe_removal",
            covers: vec!["stripe_removal"],
            category: Category::Reconstruction,
            tolerance: 0.0,
            scaling: false,
            cpu_only: false,
            make: Box::new(|sizing| {
                let ConeProblem { projections, .. } = cone_problem(sizing)?;
                let (_, rows, cols) = projections.dim();
                let middle = rows / 2 - rows.min(64) / 2;
                let mut stack = projections
                    .slice(ndarray::s![.., middle..middle + rows.min(64), ..])
                    .to_owned();
                // Two defective columns.
                stack.slice_mut(ndarray::s![.., .., cols / 3]).mapv_inplace(|v| v + 0.2);
                stack
                    .slice_mut(ndarray::s![.., .., 2 * cols / 3])
                    .mapv_inplace(|v| v * 0.9);
                Ok(Box::new(CorrectionCase {
                    projections: stack,
                    transmission: None,
                    stripes: Some(StripeRemoval::sorting(21)?),
                    resident: None,
                }))
            }),
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Iterative reconstruction: 2D 256² from 180 parallel views, 10 iterations at full size.

struct IterativeCase {
    iterative: Iterative,
    sinogram: Array3<f32>,
    views: usize,
    voxels: usize,
    iterations: usize,
    projections_per_iteration: usize,
}

impl Case for IterativeCase {
    fn size(&self) -> String {
        let n = (self.voxels as f64).sqrt().round() as usize;
        format!("{} views → {n}², {} iterations", self.views, self.iterations)
    }

    fn work(&self) -> Work {
        Work::Updates((self.iterations * self.projections_per_iteration * self.views * self.voxels) as u64)
    }

    fn cpu(&self) -> Result<Array3<f32>> {
        Ok(self
            .iterative
            .run_cpu(self.sinogram.view(), |_| Control::Continue)?
            .volume)
    }

    fn gpu(&self, ctx: &GpuContext) -> Result<Array3<f32>> {
        Ok(self
            .iterative
            .run_gpu(ctx, self.sinogram.view(), |_| Control::Continue)?
            .volume)
    }
}

fn iterative_case(
    sizing: &Sizing,
    method: Method,
    projections_per_iteration: usize,
    kind: ProjectorKind,
) -> Result<Box<dyn Case>> {
    let n = sizing.edge(256);
    let views = sizing.count(180, 12);
    let iterations = if sizing.quick { 2 } else { 10 };
    let angles: Vec<f64> = (0..views).map(|k| k as f64 * 180.0 / views as f64).collect();
    let geometry = Geometry::parallel_2d(&angles, n, 1.0)?;
    let phantom = Phantom::shepp_logan_2d(SheppLogan::Modified, 0.43 * n as f64)?;
    let sinogram = geometry.project_exact(&phantom)?;
    let shape = [1, n, n];
    let grid = centred_grid(shape, [1.0; 3])?;
    Ok(Box::new(IterativeCase {
        iterative: Iterative::with_projector(kind.build(&geometry, shape, &grid)?, method).iterations(iterations),
        sinogram,
        views,
        voxels: n * n,
        iterations,
        projections_per_iteration,
    }))
}

fn iterative() -> Vec<Workload> {
    // Projections per iteration (forward + transpose, + the residual's forward with subsets).
    macro_rules! method {
        ($name:literal, $variant:literal, $method:expr, $projections:expr, $tolerance:expr) => {
            Workload {
                name: $name,
                covers: vec!["projector:joseph:iterative", $variant],
                category: Category::Iterative,
                tolerance: $tolerance,
                scaling: false,
                cpu_only: false,
                make: Box::new(|sizing| iterative_case(sizing, $method, $projections, ProjectorKind::Joseph)),
            }
        };
    }
    vec![
        method!("sirt_2d", "sirt", Method::Sirt, 2, 1e-4),
        method!(
            "os_sart_2d_10_subsets",
            "os_sart",
            Method::OsSart { subsets: 10 },
            3,
            1e-4
        ),
        method!("cgls_2d", "cgls", Method::Cgls, 2, 1e-3),
        method!("mlem_2d", "mlem", Method::Mlem, 2, 1e-4),
        method!("osem_2d_10_subsets", "osem", Method::Osem { subsets: 10 }, 3, 1e-4),
        method!(
            "fista_tv_2d",
            "fista_tv",
            Method::FistaTv {
                lambda: 0.5,
                tv_iterations: 20
            },
            2,
            1e-4
        ),
    ]
}
