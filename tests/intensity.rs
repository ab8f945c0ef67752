//! Intensity transforms (rescale, clip, DICOM VOI LUT windows, thresholds) and pipelines:
//! formulas of the standard in f64, GPU/CPU agreement across slabs, bad input.

mod common;

use common::{assert_close, assert_close_f32, backends, fixture, gpus, gpus_small_bindings, random_volume};
use hounsfield::filter::{
    Clip, Filter, Gaussian, Median, Pipeline, Projection, ProjectionKind, Rescale, Sigmoid, Threshold, VoiFunction,
    WindowLevel, WindowPreset,
};
use hounsfield::gpu::GpuVolume;
use hounsfield::stats::threshold_otsu;
use hounsfield::{Backend, Error};
use ndarray::{Array1, Array2, Array3, ArrayD, Ix2};

/// DICOM PS3.3 C.11.2.1.2 / C.11.2.1.3, in f64.
fn voi_reference(x: f64, c: f64, w: f64, f: VoiFunction, y0: f64, y1: f64) -> f64 {
    match f {
        VoiFunction::Linear => {
            if x <= c - 0.5 - (w - 1.0) / 2.0 {
                y0
            } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                y1
            } else {
                ((x - (c - 0.5)) / (w - 1.0) + 0.5) * (y1 - y0) + y0
            }
        }
        VoiFunction::LinearExact => {
            if x <= c - w / 2.0 {
                y0
            } else if x > c + w / 2.0 {
                y1
            } else {
                ((x - c) / w + 0.5) * (y1 - y0) + y0
            }
        }
        VoiFunction::Sigmoid => (y1 - y0) / (1.0 + (-4.0 * (x - c) / w).exp()) + y0,
    }
}

#[test]
fn windows_follow_the_dicom_voi_lut_formulas() {
    // A ramp of HU values through and beyond the window, including the exact edges.
    let ramp: Array1<f32> = Array1::linspace(-1200.0, 1200.0, 961);
    let img = ramp.insert_axis(ndarray::Axis(0));
    for backend in backends() {
        for f in [VoiFunction::Linear, VoiFunction::LinearExact, VoiFunction::Sigmoid] {
            for (c, w, y0, y1) in [
                (40.0, 400.0, 0.0, 1.0),
                (-600.0, 1500.0, 0.0, 255.0),
                (0.5, 1.0, -1.0, 1.0),
            ] {
                if f != VoiFunction::Linear && w < 1.0 {
                    continue;
                }
                let out = WindowLevel::new(c, w)
                    .function(f)
                    .output(y0, y1)
                    .apply(&backend, img.view())
                    .unwrap();
                let expected = img.mapv(|x| voi_reference(f64::from(x), c, w, f, y0, y1));
                assert_close(
                    out.view().into_dyn(),
                    expected.view().into_dyn(),
                    1e-5,
                    1e-5 * (y1 - y0),
                    &format!("{f:?} c {c} w {w} on {backend}"),
                );
            }
        }
    }
}

#[test]
fn presets_and_display_bytes() {
    assert_eq!("lung".parse::<WindowPreset>().unwrap(), WindowPreset::Lung);
    assert_eq!("Soft_Tissue".parse::<WindowPreset>().unwrap(), WindowPreset::SoftTissue);
    assert!(
        "liver"
            .parse::<WindowPreset>()
            .unwrap_err()
            .to_string()
            .contains("soft-tissue")
    );
    let hu = ndarray::array![[-2000.0f32, -1350.0, -600.0, 150.0, f32::NAN]];
    for backend in backends() {
        let grey = WindowLevel::preset(WindowPreset::Lung)
            .apply_u8(&backend, hu.view())
            .unwrap();
        // -1350 is the window's lower edge (black); -600 its centre; 150 its upper edge.
        assert_eq!(grey, ndarray::array![[0u8, 0, 128, 255, 0]], "on {backend}");
    }
}

#[test]
fn rescale_clip_and_threshold() {
    let vol = random_volume([5, 6, 7], 3).mapv(|v| v * 4000.0);
    for backend in backends() {
        let hu = Rescale {
            slope: 1.0,
            intercept: -1024.0,
        }
        .apply(&backend, vol.view())
        .unwrap();
        assert_close_f32(
            hu.view().into_dyn(),
            vol.mapv(|v| v - 1024.0).view().into_dyn(),
            1e-6,
            1e-3,
            "rescale",
        );
        let clipped = Clip { lo: -100.0, hi: 100.0 }.apply(&backend, hu.view()).unwrap();
        assert_eq!(clipped, hu.mapv(|v| v.clamp(-100.0, 100.0)), "clip on {backend}");
        let mask = Threshold::between(-100.0, 100.0).apply(&backend, hu.view()).unwrap();
        assert_eq!(mask, hu.mapv(|v| if (-100.0..=100.0).contains(&v) { 1.0 } else { 0.0 }));
        let above = Threshold::above(500.0)
            .values(2.0, -1.0)
            .apply(&backend, hu.view())
            .unwrap();
        assert_eq!(above, hu.mapv(|v| if v > 500.0 { 2.0 } else { -1.0 }));
        // NaN: kept by clip, outside for thresholds.
        let nan = ndarray::array![[f32::NAN, 1.0]];
        let c = Clip { lo: 0.0, hi: 0.5 }.apply(&backend, nan.view()).unwrap();
        assert!(c[[0, 0]].is_nan() && c[[0, 1]] == 0.5, "{c} on {backend}");
        let t = Threshold::between(f64::NEG_INFINITY, f64::INFINITY)
            .apply(&backend, nan.view())
            .unwrap();
        assert_eq!(t, ndarray::array![[0.0, 1.0]]);
    }
}

#[test]
fn otsu_threshold_masks_like_scikit_image() {
    let img = fixture::<f32>("stats/image.npy").into_dimensionality::<Ix2>().unwrap();
    let t: ArrayD<f32> = fixture("stats/image_otsu_256.npy");
    let expected = img.mapv(|v| if v > t[0] { 1.0f32 } else { 0.0 });
    for backend in backends() {
        let mask: Array2<f32> = Threshold::otsu(256).apply(&backend, img.view()).unwrap();
        assert_eq!(mask, expected, "on {backend}");
    }
    assert_eq!(threshold_otsu(&Backend::Cpu, img.view(), 256).unwrap(), t[0]);
}

#[test]
fn gpu_matches_cpu_across_slabs() {
    let vol = random_volume([33, 20, 30], 8).mapv(|v| v * 3000.0 - 1000.0);
    let filters: Vec<Box<dyn Filter>> = vec![
        Box::new(Rescale {
            slope: 0.5,
            intercept: 3.0,
        }),
        Box::new(Clip { lo: -10.0, hi: 300.0 }),
        Box::new(WindowLevel::preset(WindowPreset::Bone).function(VoiFunction::Sigmoid)),
        Box::new(Threshold::between(0.0, 800.0)),
        Box::new(Threshold::otsu(128)),
    ];
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        for f in &filters {
            let cpu = f.apply_cpu(vol.view()).unwrap();
            let gpu = f.apply_gpu(&ctx, &resident).unwrap().download(&ctx).unwrap();
            assert_close_f32(gpu.view().into_dyn(), cpu.view().into_dyn(), 1e-5, 1e-5, f.name());
        }
    }
}

#[test]
fn a_pipeline_of_five_kernels_matches_step_by_step_cpu() {
    let vol = random_volume([19, 23, 29], 12).mapv(|v| v * 2000.0 - 1000.0);
    let pipeline = Pipeline::new()
        .then(Gaussian::new(&[1.0, 0.7, 0.7]))
        .then(Median::new(&[1]))
        .then(Rescale {
            slope: 2.0,
            intercept: -5.0,
        })
        .then(Clip { lo: -500.0, hi: 900.0 })
        .then(WindowLevel::new(100.0, 600.0).function(VoiFunction::Sigmoid));
    assert_eq!(pipeline.describe(), "gaussian → median → rescale → clip → window");
    // Step by step on the CPU, by hand.
    let mut expected: Array3<f32> = vol.clone();
    for f in [
        &Gaussian::new(&[1.0, 0.7, 0.7]) as &dyn Filter,
        &Median::new(&[1]),
        &Rescale {
            slope: 2.0,
            intercept: -5.0,
        },
        &Clip { lo: -500.0, hi: 900.0 },
        &WindowLevel::new(100.0, 600.0).function(VoiFunction::Sigmoid),
    ] {
        expected = f.apply_cpu(expected.view()).unwrap();
    }
    assert_eq!(pipeline.apply_cpu(vol.view()).unwrap(), expected);
    for ctx in gpus_small_bindings().into_iter().chain(gpus()) {
        let resident = GpuVolume::upload(&ctx, vol.view()).unwrap();
        let (out, time) = pipeline.apply_gpu_timed(&ctx, &resident).unwrap();
        eprintln!("pipeline on {}: {time}", ctx.adapter().name);
        let gpu = out.download(&ctx).unwrap();
        // The median may pick a neighbour where the Gaussian's f32 rounding differs: compare
        // with a tolerance on the sigmoid's [0, 1] output.
        assert_close_f32(gpu.view().into_dyn(), expected.view().into_dyn(), 0.0, 1e-4, "pipeline");
        // The input is untouched and still usable.
        assert_eq!(resident.download(&ctx).unwrap(), vol);
    }
    // An empty pipeline is the identity; an invalid step fails before any GPU work.
    assert_eq!(Pipeline::new().apply(&Backend::Cpu, vol.view()).unwrap(), vol);
    let bad = Pipeline::new()
        .then(Gaussian::new(&[1.0]))
        .then(Clip { lo: 1.0, hi: 0.0 });
    for backend in backends() {
        assert!(matches!(
            bad.apply(&backend, vol.view()),
            Err(Error::InvalidParameter { .. })
        ));
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let img = Array2::<f32>::zeros((3, 3));
    for backend in backends() {
        type Case<'a> = (Box<dyn Fn() -> Result<Array2<f32>, Error> + 'a>, &'static str);
        let cases: Vec<Case> = vec![
            (
                Box::new(|| WindowLevel::new(40.0, 0.5).apply(&backend, img.view())),
                "width",
            ),
            (
                Box::new(|| {
                    WindowLevel::new(40.0, 0.0)
                        .function(VoiFunction::Sigmoid)
                        .apply(&backend, img.view())
                }),
                "width",
            ),
            (
                Box::new(|| WindowLevel::new(f64::NAN, 100.0).apply(&backend, img.view())),
                "center",
            ),
            (Box::new(|| Clip { lo: 2.0, hi: 1.0 }.apply(&backend, img.view())), "lo"),
            (
                Box::new(|| {
                    Rescale {
                        slope: f64::INFINITY,
                        intercept: 0.0,
                    }
                    .apply(&backend, img.view())
                }),
                "slope",
            ),
            (
                Box::new(|| Threshold::between(f64::NAN, 1.0).apply(&backend, img.view())),
                "lower",
            ),
            (
                Box::new(|| {
                    Threshold::between(0.0, 1.0)
                        .values(f64::NAN, 0.0)
                        .apply(&backend, img.view())
                }),
                "inside",
            ),
        ];
        for (run, name) in cases {
            match run() {
                Err(Error::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
                other => panic!("expected an error about `{name}`, got {other:?}"),
            }
        }
    }
}

#[test]
fn pipelines_parse_from_text_as_the_programs_give_them() {
    use hounsfield::filter::{Gaussian, Median, Pipeline};
    let grid = hounsfield::Grid::with_spacing([2.0, 0.5, 0.5]).unwrap();
    let parsed = Pipeline::parse("median:1  gaussian:1.0", &grid).unwrap();
    assert_eq!(parsed.describe(), "median → gaussian");
    // Same result as the pipeline built in code (sigma 1 mm = 0.5, 2, 2 voxels).
    let built = Pipeline::new()
        .then(Median::new(&[1]))
        .then(Gaussian::from_mm(&[1.0], &grid).unwrap());
    let volume = common::random_volume([5, 9, 11], 7);
    let a = parsed.apply(&hounsfield::Backend::Cpu, volume.view()).unwrap();
    let b = built.apply(&hounsfield::Backend::Cpu, volume.view()).unwrap();
    assert_eq!(a, b);
    for (spec, says) in [
        ("", "no step"),
        ("median", "needs 1 number"),
        ("median:-1", "whole number"),
        ("median:x", "not a finite number"),
        ("gaussian:NaN", "not a finite number"),
        ("sharpen:2", "unknown step 'sharpen'"),
        ("clip:1", "needs 2 number"),
    ] {
        let err = Pipeline::parse(spec, &grid).unwrap_err();
        assert!(
            matches!(err, hounsfield::Error::InvalidParameter { name: "steps", .. }) && err.to_string().contains(says),
            "'{spec}': {err}"
        );
    }
}

/// The sigmoid contrast curve (a pointwise op added through the registry): scikit-image's
/// formula in f64, NaN kept, GPU equal to the CPU across slabs, a pipeline step, bad input.
#[test]
fn sigmoid_follows_scikit_images_formula_on_every_backend() {
    let mut volume = random_volume([5, 9, 13], 21).mapv(|v| v * 400.0);
    volume[[1, 2, 3]] = f32::NAN;
    let (cutoff, gain) = (40.0, 0.02);
    let filter = Sigmoid { cutoff, gain };
    let expected = volume.mapv(|v| 1.0 / (1.0 + (gain * (cutoff - f64::from(v))).exp()));
    for backend in backends() {
        let out = filter.apply(&backend, volume.view()).unwrap();
        assert!(out[[1, 2, 3]].is_nan(), "NaN stays NaN");
        assert_close(out.into_dyn().view(), expected.view().into_dyn(), 1e-5, 1e-6, "sigmoid");
    }
    let cpu = filter.apply_cpu(volume.view()).unwrap();
    for ctx in gpus_small_bindings() {
        let up = GpuVolume::upload(&ctx, volume.view()).unwrap();
        let gpu = filter.apply_gpu(&ctx, &up).unwrap().download(&ctx).unwrap();
        assert_close_f32(
            gpu.into_dyn().view(),
            cpu.clone().into_dyn().view(),
            1e-5,
            1e-6,
            "sigmoid slabs",
        );
    }
    let grid = hounsfield::Grid::default();
    let step = Pipeline::parse("sigmoid:40:0.02", &grid).unwrap();
    assert_eq!(
        step.apply_cpu(volume.view()).unwrap().mapv(|v| v.to_bits()),
        cpu.mapv(|v| v.to_bits())
    );
    assert!(
        Sigmoid {
            cutoff: f64::NAN,
            gain: 1.0
        }
        .apply_cpu(volume.view())
        .is_err()
    );
}

#[test]
fn filters_write_into_a_callers_buffer_as_they_return_a_new_one() {
    let filters: Vec<Box<dyn Filter>> = vec![
        Box::new(Clip { lo: -0.2, hi: 0.4 }),
        Box::new(Rescale {
            slope: 2.5,
            intercept: -1.0,
        }),
        Box::new(WindowLevel::preset(WindowPreset::SoftTissue)),
        Box::new(Threshold::otsu(64)),
        Box::new(Sigmoid { cutoff: 0.5, gain: 8.0 }),
        // Not pointwise: the default path (computed, then copied).
        Box::new(Gaussian::new(&[1.0])),
    ];
    // Several slices, and one (the Gaussian then works inside the slice).
    for (filter, input) in filters
        .iter()
        .flat_map(|f| [random_volume([5, 12, 9], 31), random_volume([1, 12, 9], 32)].map(|v| (f, v)))
    {
        let want = filter.apply_cpu(input.view()).unwrap();
        // A buffer that already holds something, in C order and transposed (strided).
        let mut plain = Array3::from_elem(want.raw_dim(), f32::NAN);
        filter.apply_cpu_into(input.view(), plain.view_mut()).unwrap();
        assert_eq!(plain, want, "{}", filter.name());
        let (nz, ny, nx) = want.dim();
        let mut transposed = Array3::from_elem((nx, ny, nz), 7.0f32);
        filter
            .apply_cpu_into(input.view(), transposed.view_mut().reversed_axes())
            .unwrap();
        assert_eq!(
            transposed.view().reversed_axes(),
            want,
            "{} into a strided buffer",
            filter.name()
        );
        let mut wrong = Array3::zeros((nz, ny, nx + 1));
        assert!(
            matches!(
                filter.apply_cpu_into(input.view(), wrong.view_mut()),
                Err(Error::InvalidShape(_))
            ),
            "{}: a buffer of the wrong shape",
            filter.name()
        );
    }
}

/// `Filter::apply_into` on `backend`: equal to `apply` for a 2D image (the filter's 2D
/// semantics: a 3×3 median, not 3×3×3) and a 3D volume, into a NaN-filled buffer; a buffer of
/// the wrong shape is a typed error.
fn check_apply_into<F: Filter>(filter: &F, backend: &Backend) {
    let volume = random_volume([4, 11, 9], 41);
    let image = volume.index_axis(ndarray::Axis(0), 1).to_owned();
    let want2 = filter.apply(backend, image.view()).unwrap();
    let mut out2 = Array2::from_elem(want2.raw_dim(), f32::NAN);
    filter.apply_into(backend, image.view(), out2.view_mut()).unwrap();
    assert_eq!(out2, want2, "{} 2D on {backend:?}", filter.name());
    let want3 = filter.apply(backend, volume.view()).unwrap();
    let mut out3 = Array3::from_elem(want3.raw_dim(), f32::NAN);
    filter.apply_into(backend, volume.view(), out3.view_mut()).unwrap();
    assert_eq!(out3, want3, "{} 3D on {backend:?}", filter.name());
    let (a, b) = want2.dim();
    let mut wrong = Array2::zeros((a + 1, b));
    assert!(
        matches!(
            filter.apply_into(backend, image.view(), wrong.view_mut()),
            Err(Error::InvalidShape(_))
        ),
        "{}: a buffer of the wrong shape",
        filter.name()
    );
}

#[test]
fn apply_into_fills_a_callers_buffer_on_every_backend_in_2d_and_3d() {
    let all = backends();
    assert!(all.len() > 1 || std::env::var(common::REQUIRE_GPU_ENV).is_err());
    for backend in &all {
        check_apply_into(&Median::new(&[1]), backend);
        check_apply_into(&Gaussian::new(&[1.2]), backend);
        check_apply_into(&Clip { lo: -0.2, hi: 0.4 }, backend);
        // An output of another shape than the input's.
        check_apply_into(&Projection::new(ProjectionKind::Max, 0), backend);
    }
    // The 2D semantics: a 3×3 median of the image, not a slice of the 3×3×3 one.
    let volume = random_volume([3, 10, 10], 43);
    let image = volume.index_axis(ndarray::Axis(0), 1);
    let mut out = Array2::zeros((10, 10));
    Median::new(&[1])
        .apply_into(&Backend::Cpu, image, out.view_mut())
        .unwrap();
    let slice = Median::new(&[1]).apply_cpu(volume.view()).unwrap();
    assert_ne!(out, slice.index_axis(ndarray::Axis(0), 1));
}
