//! One record per public operation: its name, what it is, how a pipeline text step builds it,
//! the benchmark workloads of the harness, and how Python exposes it. Everything that lists
//! operations derives the list from [`OPERATIONS`]: [`Pipeline::parse`](crate::filter::Pipeline)
//! (its keywords and error messages), the harness (its filter workloads, and the check that every
//! operation has a workload), the Python package (`hounsfield.OPERATIONS`, the functions of
//! [`Python::Generated`] operations, and a test that every named function exists).
//!
//! Adding a filter: its Rust file (or an arm of an existing family, such as a pointwise op) and
//! WGSL, then one [`Operation`] here — with a [`Step`] it appears in pipeline texts and, as
//! [`Python::Generated`], as `hounsfield.<keyword>(array, *numbers)`; with a [`Bench`] it is
//! timed by the harness against the CPU path.

use crate::error::{Error, Result};
use crate::filter::*;
use crate::volume::Grid;

/// What kind of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Volume and image filters ([`Filter`]).
    Filter,
    /// Reductions: statistics, histograms, thresholds.
    Statistics,
    /// Analytic reconstruction and back-projection.
    Reconstruction,
    /// Iterative reconstruction methods (with any projector of [`crate::recon::ProjectorKind`]).
    Iterative,
    /// Segmentation: connected components, distance transforms ([`crate::segment`]).
    Segmentation,
}

/// Builds a filter from a step's numbers and the volume's grid.
pub type StepBuilder = fn(&[f64], &Grid) -> Result<Box<dyn Filter>>;

/// A pipeline text step `keyword:number:number…` (see [`Pipeline::parse`]).
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The keyword before the first `:`.
    pub keyword: &'static str,
    /// The numbers it takes, named with their units (for help and error messages).
    pub params: &'static [&'static str],
    /// Builds the filter from the numbers (as many as `params`) and the volume's grid.
    pub build: StepBuilder,
    /// A valid step, for documentation and tests.
    pub example: &'static str,
}

/// How large a benchmark input is at full size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchSize {
    /// 512×512×256.
    Full,
    /// 512×512×64, for kernels whose cost per voxel is high.
    Thin,
    /// 256³.
    Cube,
}

/// A harness workload of a filter: CT-like noise (or its 0/1 threshold) through the filter.
#[derive(Debug, Clone, Copy)]
pub struct Bench {
    /// Unique workload name (also the key of the Python peers' results).
    pub name: &'static str,
    /// Input size at full scale.
    pub size: BenchSize,
    /// Binary input (noise thresholded at 0) instead of CT-like noise.
    pub binary: bool,
    /// GPU and CPU outputs may differ by this fraction of the CPU output's peak magnitude.
    pub tolerance: f64,
    /// Part of the harness's scaling study.
    pub scaling: bool,
    /// The filter.
    pub build: fn() -> Box<dyn Filter>,
}

/// How Python exposes an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Python {
    /// Hand-written functions of the `hounsfield` package with scipy / scikit-image names and
    /// semantics.
    Functions(&'static [&'static str]),
    /// `hounsfield.<keyword>(input, *numbers, spacing=..., backend=...)`, made by the package
    /// from the operation's first [`Step`].
    Generated,
    /// Not exposed (reachable through `hounsfield.pipeline` when it has a step).
    None,
}

/// One public operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// Unique name; for filters, [`Filter::name`] of what the steps and benches build.
    pub name: &'static str,
    /// Its family.
    pub family: Family,
    /// One line: what it computes.
    pub summary: &'static str,
    /// Pipeline text steps.
    pub steps: &'static [Step],
    /// Harness workloads (filters; the other families' problems are set up by the harness,
    /// whose workloads name the operations they cover).
    pub benches: &'static [Bench],
    /// Python exposure.
    pub python: Python,
}

/// A whole, non-negative count (radius, iterations) from a pipeline number.
fn count(v: f64, what: &str) -> Result<usize> {
    if v >= 0.0 && v.fract() == 0.0 && v <= 1e6 {
        Ok(v as usize)
    } else {
        Err(Error::param("steps", format!("{what} {v} must be a whole number ≥ 0")))
    }
}

fn boxed(filter: impl Filter + 'static) -> Result<Box<dyn Filter>> {
    Ok(Box::new(filter))
}

const fn morphology_step(keyword: &'static str, op: MorphOp) -> Step {
    Step {
        keyword,
        params: &["RADIUS"],
        build: match op {
            MorphOp::Erosion => |n, _| boxed(GreyMorphology::erosion(Footprint::Ball(count(n[0], "radius")?))),
            MorphOp::Dilation => |n, _| boxed(GreyMorphology::dilation(Footprint::Ball(count(n[0], "radius")?))),
            MorphOp::Opening => |n, _| boxed(GreyMorphology::opening(Footprint::Ball(count(n[0], "radius")?))),
            MorphOp::Closing => |n, _| {
                boxed(GreyMorphology::new(
                    MorphOp::Closing,
                    Footprint::Ball(count(n[0], "radius")?),
                ))
            },
        },
        example: match op {
            MorphOp::Erosion => "erosion:1",
            MorphOp::Dilation => "dilation:1",
            MorphOp::Opening => "opening:1",
            MorphOp::Closing => "closing:1",
        },
    }
}

const fn bench(name: &'static str, size: BenchSize, tolerance: f64, build: fn() -> Box<dyn Filter>) -> Bench {
    Bench {
        name,
        size,
        binary: false,
        tolerance,
        scaling: false,
        build,
    }
}

const fn scaling(bench: Bench) -> Bench {
    Bench { scaling: true, ..bench }
}

const fn binary(bench: Bench) -> Bench {
    Bench { binary: true, ..bench }
}

/// Every public operation of the library.
pub static OPERATIONS: &[Operation] = &[
    // ---------------------------------------------------------------- linear filters
    Operation {
        name: "gaussian",
        family: Family::Filter,
        summary: "Gaussian smoothing (scipy.ndimage.gaussian_filter)",
        steps: &[Step {
            keyword: "gaussian",
            params: &["SIGMA_MM"],
            build: |n, grid| boxed(Gaussian::from_mm(&[n[0]], grid)?),
            example: "gaussian:1.0",
        }],
        benches: &[scaling(bench("gaussian_s2", BenchSize::Full, 1e-5, || {
            Box::new(Gaussian::new(&[2.0]))
        }))],
        python: Python::Functions(&["gaussian_filter"]),
    },
    Operation {
        name: "uniform",
        family: Family::Filter,
        summary: "box mean (scipy.ndimage.uniform_filter)",
        steps: &[],
        benches: &[scaling(bench("uniform_3", BenchSize::Full, 1e-5, || {
            Box::new(Uniform::new(&[3]))
        }))],
        python: Python::Functions(&["uniform_filter"]),
    },
    Operation {
        name: "correlate1d",
        family: Family::Filter,
        summary: "1D correlation along one axis (scipy.ndimage.correlate1d)",
        steps: &[],
        benches: &[bench("correlate1d_5_x", BenchSize::Full, 1e-5, || {
            Box::new(Correlate1d::new(&[1.0, 4.0, 6.0, 4.0, 1.0], 2))
        })],
        python: Python::Functions(&["correlate1d"]),
    },
    Operation {
        name: "correlate",
        family: Family::Filter,
        summary: "dense N-D correlation (scipy.ndimage.correlate)",
        steps: &[],
        benches: &[bench("correlate_3x3x3", BenchSize::Full, 1e-5, || {
            Box::new(Correlate::new(
                ndarray::Array3::from_elem((3, 3, 3), 1.0 / 27.0).into_dyn().view(),
            ))
        })],
        python: Python::Functions(&["correlate"]),
    },
    Operation {
        name: "convolve",
        family: Family::Filter,
        summary: "dense N-D convolution (scipy.ndimage.convolve)",
        steps: &[],
        benches: &[bench("convolve_2x3x3", BenchSize::Full, 1e-5, || {
            Box::new(Correlate::convolve(
                ndarray::Array3::from_shape_fn((2, 3, 3), |(z, y, x)| (1 + z + y + x) as f64 / 54.0)
                    .into_dyn()
                    .view(),
            ))
        })],
        python: Python::Functions(&["convolve"]),
    },
    Operation {
        name: "sobel",
        family: Family::Filter,
        summary: "Sobel derivative or gradient magnitude (scipy.ndimage.sobel)",
        steps: &[],
        benches: &[bench("sobel_magnitude", BenchSize::Full, 1e-5, || {
            Box::new(Sobel::magnitude())
        })],
        python: Python::Functions(&["sobel"]),
    },
    Operation {
        name: "prewitt",
        family: Family::Filter,
        summary: "Prewitt derivative or gradient magnitude (scipy.ndimage.prewitt)",
        steps: &[],
        benches: &[bench("prewitt_magnitude", BenchSize::Full, 1e-5, || {
            Box::new(Prewitt::magnitude())
        })],
        python: Python::Functions(&["prewitt"]),
    },
    Operation {
        name: "laplace",
        family: Family::Filter,
        summary: "discrete Laplacian (scipy.ndimage.laplace)",
        steps: &[],
        benches: &[bench("laplace", BenchSize::Full, 1e-5, || Box::new(Laplace::new()))],
        python: Python::Functions(&["laplace"]),
    },
    Operation {
        name: "gaussian_gradient_magnitude",
        family: Family::Filter,
        summary: "gradient magnitude of Gaussian derivatives (scipy.ndimage.gaussian_gradient_magnitude)",
        steps: &[],
        benches: &[bench("gaussian_gradient_magnitude_s2", BenchSize::Full, 1e-5, || {
            Box::new(GaussianGradientMagnitude::new(&[2.0]))
        })],
        python: Python::Functions(&["gaussian_gradient_magnitude"]),
    },
    Operation {
        name: "gaussian_laplace",
        family: Family::Filter,
        summary: "Laplacian of Gaussian (scipy.ndimage.gaussian_laplace)",
        steps: &[],
        benches: &[bench("gaussian_laplace_s2", BenchSize::Full, 1e-5, || {
            Box::new(GaussianLaplace::new(&[2.0]))
        })],
        python: Python::Functions(&["gaussian_laplace"]),
    },
    Operation {
        name: "gradient_magnitude",
        family: Family::Filter,
        summary: "central-difference gradient magnitude in physical units (ITK GradientMagnitudeImageFilter)",
        steps: &[],
        benches: &[bench("gradient_magnitude", BenchSize::Full, 1e-5, || {
            Box::new(GradientMagnitude::new())
        })],
        python: Python::None,
    },
    Operation {
        name: "unsharp_mask",
        family: Family::Filter,
        summary: "unsharp masking (skimage.filters.unsharp_mask)",
        steps: &[Step {
            keyword: "unsharp",
            params: &["SIGMA", "AMOUNT"],
            build: |n, _| boxed(UnsharpMask::new(&[n[0]], n[1])),
            example: "unsharp:1.5:0.8",
        }],
        benches: &[bench("unsharp_mask_r2", BenchSize::Full, 1e-5, || {
            Box::new(UnsharpMask::new(&[2.0], 1.0))
        })],
        python: Python::Functions(&["unsharp_mask"]),
    },
    // ---------------------------------------------------------------- order statistics, edges
    Operation {
        name: "median",
        family: Family::Filter,
        summary: "exact median (scipy.ndimage.median_filter)",
        steps: &[Step {
            keyword: "median",
            params: &["RADIUS"],
            build: |n, _| boxed(Median::new(&[count(n[0], "radius")?])),
            example: "median:1",
        }],
        benches: &[
            scaling(bench("median_r1", BenchSize::Thin, 0.0, || Box::new(Median::new(&[1])))),
            bench("median_r2", BenchSize::Thin, 0.0, || Box::new(Median::new(&[2]))),
        ],
        python: Python::Functions(&["median_filter"]),
    },
    Operation {
        name: "bilateral",
        family: Family::Filter,
        summary: "bilateral filter (ITK BilateralImageFilter)",
        steps: &[Step {
            keyword: "bilateral",
            params: &["DOMAIN_SIGMA_MM", "RANGE_SIGMA"],
            build: |n, grid| boxed(Bilateral::new(&[n[0]], n[1]).for_grid(grid)),
            example: "bilateral:0.8:40",
        }],
        benches: &[bench("bilateral_d1_r50", BenchSize::Cube, 1e-4, || {
            Box::new(Bilateral::new(&[1.0], 50.0))
        })],
        python: Python::Functions(&["bilateral"]),
    },
    Operation {
        name: "anisotropic_diffusion",
        family: Family::Filter,
        summary: "gradient or curvature anisotropic diffusion (ITK)",
        steps: &[
            Step {
                keyword: "diffusion",
                params: &["ITERATIONS", "CONDUCTANCE"],
                build: |n, grid| boxed(AnisotropicDiffusion::gradient(count(n[0], "iterations")?, n[1]).for_grid(grid)),
                example: "diffusion:5:3",
            },
            Step {
                keyword: "curvature",
                params: &["ITERATIONS", "CONDUCTANCE"],
                build: |n, grid| {
                    boxed(AnisotropicDiffusion::curvature(count(n[0], "iterations")?, n[1]).for_grid(grid))
                },
                example: "curvature:5:3",
            },
        ],
        benches: &[
            bench("diffusion_gradient_5it", BenchSize::Cube, 1e-4, || {
                Box::new(AnisotropicDiffusion::gradient(5, 3.0))
            }),
            bench("diffusion_curvature_5it", BenchSize::Cube, 1e-4, || {
                Box::new(AnisotropicDiffusion::curvature(5, 3.0))
            }),
        ],
        python: Python::Functions(&["anisotropic_diffusion"]),
    },
    Operation {
        name: "grey_morphology",
        family: Family::Filter,
        summary: "grey erosion, dilation, opening, closing (scipy.ndimage.grey_*)",
        steps: &[
            morphology_step("erosion", MorphOp::Erosion),
            morphology_step("dilation", MorphOp::Dilation),
            morphology_step("opening", MorphOp::Opening),
            morphology_step("closing", MorphOp::Closing),
        ],
        benches: &[
            bench("grey_erosion_box1", BenchSize::Full, 0.0, || {
                Box::new(GreyMorphology::erosion(Footprint::Box(vec![1])))
            }),
            bench("grey_dilation_ball2", BenchSize::Thin, 0.0, || {
                Box::new(GreyMorphology::dilation(Footprint::Ball(2)))
            }),
        ],
        python: Python::Functions(&[
            "grey_erosion",
            "grey_dilation",
            "grey_opening",
            "grey_closing",
            "maximum_filter",
            "minimum_filter",
        ]),
    },
    Operation {
        name: "binary_morphology",
        family: Family::Filter,
        summary: "binary erosion, dilation, opening, closing (scipy.ndimage.binary_*)",
        steps: &[],
        benches: &[binary(bench("binary_opening_cross", BenchSize::Full, 0.0, || {
            Box::new(BinaryMorphology::opening())
        }))],
        python: Python::Functions(&["binary_erosion", "binary_dilation", "binary_opening", "binary_closing"]),
    },
    Operation {
        name: "fill_holes",
        family: Family::Filter,
        summary: "binary hole filling (scipy.ndimage.binary_fill_holes)",
        steps: &[],
        benches: &[binary(bench("fill_holes", BenchSize::Full, 0.0, || {
            Box::new(FillHoles)
        }))],
        python: Python::Functions(&["binary_fill_holes"]),
    },
    // ---------------------------------------------------------------- intensity (pointwise)
    Operation {
        name: "window",
        family: Family::Filter,
        summary: "window/level with the DICOM VOI LUT functions",
        steps: &[],
        benches: &[bench("window_soft_tissue", BenchSize::Full, 1e-6, || {
            Box::new(WindowLevel::preset(WindowPreset::SoftTissue))
        })],
        python: Python::Functions(&["window_level"]),
    },
    Operation {
        name: "threshold",
        family: Family::Filter,
        summary: "binary threshold (fixed interval or Otsu)",
        steps: &[],
        benches: &[bench("threshold", BenchSize::Full, 0.0, || {
            Box::new(Threshold::between(-100.0, 300.0))
        })],
        python: Python::None,
    },
    Operation {
        name: "rescale",
        family: Family::Filter,
        summary: "slope and intercept (the DICOM modality LUT)",
        steps: &[],
        benches: &[bench("rescale", BenchSize::Full, 1e-6, || {
            Box::new(Rescale {
                slope: 1.0,
                intercept: -1024.0,
            })
        })],
        python: Python::None,
    },
    Operation {
        name: "clip",
        family: Family::Filter,
        summary: "limit to an interval (numpy.clip)",
        steps: &[Step {
            keyword: "clip",
            params: &["LO", "HI"],
            build: |n, _| boxed(Clip { lo: n[0], hi: n[1] }),
            example: "clip:-1000:3000",
        }],
        benches: &[bench("clip", BenchSize::Full, 0.0, || {
            Box::new(Clip { lo: -200.0, hi: 400.0 })
        })],
        python: Python::None,
    },
    Operation {
        name: "sigmoid",
        family: Family::Filter,
        summary: "sigmoid contrast curve (skimage.exposure.adjust_sigmoid)",
        steps: &[Step {
            keyword: "sigmoid",
            params: &["CUTOFF", "GAIN"],
            build: |n, _| {
                boxed(Sigmoid {
                    cutoff: n[0],
                    gain: n[1],
                })
            },
            example: "sigmoid:40:0.02",
        }],
        benches: &[bench("sigmoid_soft_tissue", BenchSize::Full, 1e-6, || {
            Box::new(Sigmoid {
                cutoff: 40.0,
                gain: 0.02,
            })
        })],
        python: Python::Generated,
    },
    // ---------------------------------------------------------------- geometry
    Operation {
        name: "resample",
        family: Family::Filter,
        summary: "resampling to a spacing or shape (scipy.ndimage.zoom, orders 0 and 1)",
        steps: &[],
        benches: &[bench("resample_0.7x0.7x2.5_to_1mm", BenchSize::Full, 1e-5, || {
            Box::new(Resample::to_spacing(
                &Grid::with_spacing([2.5, 0.7, 0.7]).expect("valid spacing"),
                &[1.0],
            ))
        })],
        python: Python::Functions(&["zoom"]),
    },
    Operation {
        name: "projection",
        family: Family::Filter,
        summary: "maximum, minimum, mean or sum along an axis (MIP, MinIP, AIP)",
        steps: &[],
        benches: &[bench("mip_z", BenchSize::Full, 0.0, || {
            Box::new(Projection::new(ProjectionKind::Max, 0))
        })],
        python: Python::Functions(&["mip"]),
    },
    Operation {
        name: "mip_render",
        family: Family::Filter,
        summary: "rotating maximum-intensity projection rendering",
        steps: &[],
        // Sample positions are f32 sums over a 512-pixel slice: a GPU that fuses them into FMAs
        // (the H200 does; lavapipe and Rust do not) moves a sample by ~1e-4 pixel, which bilinear
        // interpolation turns into ~1e-4 of the peak at 1000 HU edges (measured 1.14e-4).
        benches: &[bench("mip_render_30deg", BenchSize::Full, 1e-3, || {
            Box::new(MipRender::new(30.0))
        })],
        python: Python::None,
    },
    // ---------------------------------------------------------------- statistics
    Operation {
        name: "statistics",
        family: Family::Statistics,
        summary: "count, NaNs, min, max, mean, standard deviation",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["statistics"]),
    },
    Operation {
        name: "histogram",
        family: Family::Statistics,
        summary: "histogram with numpy's bins",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["histogram"]),
    },
    Operation {
        name: "threshold_otsu",
        family: Family::Statistics,
        summary: "Otsu's threshold (skimage.filters.threshold_otsu)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["threshold_otsu"]),
    },
    // ---------------------------------------------------------------- segmentation
    Operation {
        name: "label",
        family: Family::Segmentation,
        summary: "connected components with scipy's numbering (scipy.ndimage.label)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["label", "largest_component", "remove_small_objects"]),
    },
    Operation {
        name: "distance_transform_edt",
        family: Family::Segmentation,
        summary: "exact Euclidean distance transform (scipy.ndimage.distance_transform_edt)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["distance_transform_edt"]),
    },
    Operation {
        name: "watershed",
        family: Family::Segmentation,
        summary: "marker-based watershed, label for label scikit-image's (skimage.segmentation.watershed)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["watershed"]),
    },
    Operation {
        name: "label_histograms",
        family: Family::Segmentation,
        summary: "histograms per label (scipy.ndimage.histogram with labels and index)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["histogram", "labeled_comprehension"]),
    },
    // ---------------------------------------------------------------- reconstruction
    Operation {
        name: "fbp",
        family: Family::Reconstruction,
        summary: "parallel-beam FBP of sinograms and sinogram stacks (skimage.transform.iradon)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["iradon"]),
    },
    Operation {
        name: "fan_fbp",
        family: Family::Reconstruction,
        summary: "fan-beam FBP, flat and arc detectors, short scans",
        steps: &[],
        benches: &[],
        python: Python::None,
    },
    Operation {
        name: "fdk",
        family: Family::Reconstruction,
        summary: "cone-beam FDK (RTK's FDKConeBeamReconstructionFilter)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["fdk"]),
    },
    Operation {
        name: "helical_fdk",
        family: Family::Reconstruction,
        summary: "helical cone-beam FDK with redundancy weights (Tang et al. 2006 style), flat or cylindrical detectors",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["fdk"]),
    },
    Operation {
        name: "transmission",
        family: Family::Reconstruction,
        summary: "raw counts to line integrals: flat/dark normalisation and -log (tomopy's normalize / minus_log), water beam-hardening linearisation",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["normalize", "minus_log", "linearize_water", "water_correction"]),
    },
    Operation {
        name: "stripe_removal",
        family: Family::Reconstruction,
        summary: "ring-artefact removal by sorting (Vo et al. 2018; algotom's remove_stripe_based_sorting)",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["remove_stripe_based_sorting"]),
    },
    Operation {
        name: "backproject",
        family: Family::Reconstruction,
        summary: "voxel-driven interpolating back-projection with FDK distance weights",
        steps: &[],
        benches: &[],
        python: Python::None,
    },
    // ---------------------------------------------------------------- iterative methods
    Operation {
        name: "sirt",
        family: Family::Iterative,
        summary: "SIRT",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["reconstruct"]),
    },
    Operation {
        name: "os_sart",
        family: Family::Iterative,
        summary: "ordered-subsets SART",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["reconstruct"]),
    },
    Operation {
        name: "cgls",
        family: Family::Iterative,
        summary: "conjugate gradients least squares",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["reconstruct"]),
    },
    Operation {
        name: "mlem",
        family: Family::Iterative,
        summary: "maximum-likelihood expectation maximisation",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["reconstruct"]),
    },
    Operation {
        name: "osem",
        family: Family::Iterative,
        summary: "ordered-subsets EM",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["reconstruct"]),
    },
    Operation {
        name: "fista_tv",
        family: Family::Iterative,
        summary: "FISTA with total-variation regularisation",
        steps: &[],
        benches: &[],
        python: Python::Functions(&["reconstruct"]),
    },
];

/// The operation called `name`.
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

/// Every pipeline step, with the operation it belongs to.
pub fn steps() -> impl Iterator<Item = (&'static Operation, &'static Step)> {
    OPERATIONS.iter().flat_map(|op| op.steps.iter().map(move |s| (op, s)))
}

/// The step called `keyword`.
pub fn step(keyword: &str) -> Option<&'static Step> {
    steps().map(|(_, s)| s).find(|s| s.keyword == keyword)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_keywords_and_workloads_are_unique() {
        let mut names = HashSet::new();
        for op in OPERATIONS {
            assert!(names.insert(op.name), "operation {} twice", op.name);
            assert!(!op.summary.is_empty());
        }
        let mut keywords = HashSet::new();
        for (_, s) in steps() {
            assert!(keywords.insert(s.keyword), "step {} twice", s.keyword);
        }
        let mut benches = HashSet::new();
        for op in OPERATIONS {
            for b in op.benches {
                assert!(benches.insert(b.name), "workload {} twice", b.name);
            }
        }
    }

    /// Steps and benches build the filter their operation names; examples parse.
    #[test]
    fn every_step_and_bench_builds_its_operation() {
        let grid = Grid::with_spacing([2.0, 0.5, 0.5]).unwrap();
        for op in OPERATIONS {
            if op.family != Family::Filter {
                assert!(op.steps.is_empty() && op.benches.is_empty(), "{}", op.name);
                continue;
            }
            assert!(!op.benches.is_empty(), "filter {} has no harness workload", op.name);
            for b in op.benches {
                assert_eq!((b.build)().name(), op.name, "bench {}", b.name);
            }
            for s in op.steps {
                let p = Pipeline::parse(s.example, &grid).unwrap();
                assert_eq!(p.describe(), op.name, "step {}", s.example);
                assert_eq!(s.example.split(':').count(), s.params.len() + 1, "{}", s.example);
            }
            if op.python == Python::Generated {
                assert!(!op.steps.is_empty(), "{}: generated Python needs a step", op.name);
            }
        }
    }

    /// The iterative family is exactly the methods of `recon::iterative::Method`.
    #[test]
    fn iterative_operations_are_the_methods() {
        use crate::recon::iterative::Method;
        for op in OPERATIONS.iter().filter(|op| op.family == Family::Iterative) {
            let method = Method::from_name(op.name, 4, 0.1, 10).unwrap();
            assert_eq!(method.key(), op.name);
        }
        let error = Method::from_name("art", 1, 0.0, 1).unwrap_err().to_string();
        assert!(error.contains("sirt") && error.contains("fista_tv"), "{error}");
    }
}
