//! Every GPU kernel of the library, for the contract check that needs no GPU: each
//! [`KernelSpec`]'s Rust declaration (bindings, uniform sizes, entry point) against its WGSL as
//! naga reads it, and unique pipeline-cache names. A kernel missing here is still checked the
//! first time it runs on a device (`GpuContext::pipeline` reflects every kernel it compiles).

use crate::gpu::KernelSpec;

/// The library's kernels (the median's generated selection networks for a few radii).
pub(crate) fn all() -> Vec<&'static KernelSpec> {
    use crate::filter::{
        bilateral, correlate, correlate1d, diffusion, fill_holes, median, mip_render, morphology, pointwise,
        projection, resample,
    };
    use crate::gpu::{reduce, vector_ops};
    use crate::recon::{backproject, footprint, iterative::tv, joseph, ramp, voxel_driven};
    let mut all = vec![
        &bilateral::KERNEL,
        &correlate::KERNEL,
        &correlate1d::KERNEL,
        &correlate1d::STAGED,
        &correlate1d::MULTI,
        &diffusion::UPDATE,
        &diffusion::GRAD_SQ,
        &diffusion::CONDUCTANCE_SCALE,
        &fill_holes::KERNEL,
        median::kernel([1, 1, 1]),
        median::kernel([0, 1, 1]),
        median::kernel([2, 2, 2]),
        &mip_render::KERNEL,
        &morphology::AXIS,
        &morphology::FOOTPRINT,
        &pointwise::KERNEL,
        &projection::KERNEL,
        &resample::KERNEL,
        &reduce::MOMENTS,
        &reduce::HISTOGRAM_LOCAL,
        &reduce::HISTOGRAM_GLOBAL,
        &vector_ops::VECTOR_OP,
        &crate::gpu::scalars::SCALAR_MERGE,
        &backproject::BACKPROJECT,
        &tv::COMBINE_DIVERGENCE,
        &tv::DUAL_STEP,
        &tv::GRADIENT_MAGNITUDE,
        &joseph::gpu::FORWARD_PARALLEL,
        &joseph::gpu::BACKWARD_PARALLEL,
        &joseph::gpu::FORWARD_FLAT,
        &joseph::gpu::BACKWARD_FLAT,
        &joseph::gpu::FORWARD_ARC,
        &joseph::gpu::BACKWARD_ARC,
        &joseph::gpu::STEEP_PARALLEL,
        &joseph::gpu::STEEP_FLAT,
        &joseph::gpu::STEEP_ARC,
        &joseph::gpu::SWAP_XY,
        &ramp::LOCAL_1024,
        &ramp::LOCAL_2048,
        &ramp::LOCAL_4096,
        &voxel_driven::FORWARD,
        &voxel_driven::BACKWARD,
        &footprint::FORWARD,
        &footprint::BACKWARD,
    ];
    for four in [&ramp::FOUR_STEP_1024, &ramp::FOUR_STEP_2048, &ramp::FOUR_STEP_4096] {
        all.extend(four.kernels());
    }
    all.extend(crate::segment::LABEL_KERNELS);
    all.extend(crate::segment::EDT_KERNELS);
    all.extend(crate::segment::WATERSHED_KERNELS);
    all
}

#[cfg(test)]
mod tests {
    use super::all;
    use crate::gpu::{Binding, KernelSpec, WORKGROUP, check_kernels, uniform};

    /// Every kernel's WGSL parses, validates, and binds exactly what its Rust side binds.
    #[test]
    fn every_kernel_honours_its_rust_declaration() {
        let kernels = all();
        assert!(kernels.len() >= 30, "{} kernels", kernels.len());
        if let Err(e) = check_kernels(&kernels) {
            panic!("{e}");
        }
        // Linear kernels read their width from the runtime's constant.
        for k in &kernels {
            let size = k.reflect().unwrap().workgroup;
            assert!(size.iter().product::<u32>() <= 256, "{}: {size:?}", k.name);
            if size[1] == 1 && size[2] == 1 && !k.name.starts_with("gpu/histogram")
                && k.name != "gpu/moments"
                // Block kernels: LABEL_THREADS invocations share a block of voxels.
                && !matches!(k.name, "segment/label_flatten" | "segment/label_scan")
                // One row pair (or a sub-row group) per workgroup of 256.
                && !k.name.starts_with("recon/ramp_local")
                && !k.name.starts_with("recon/ramp_four_step")
            {
                assert_eq!(size[0], WORKGROUP, "{}", k.name);
            }
        }
    }

    /// The check fails when the two sides disagree: a parameter struct that gained a field on
    /// one side only, a binding of the wrong access, a binding the WGSL does not use.
    #[test]
    fn the_contract_check_catches_disagreements() {
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Params {
            a: u32,
            b: f32,
            c: [u32; 2],
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Longer {
            a: u32,
            b: f32,
            c: [u32; 2],
            extra: [f32; 4],
        }
        const WGSL: &str = "struct Params { a: u32, b: f32, c: vec2<u32> }\n\
            @group(0) @binding(0) var<uniform> params: Params;\n\
            @group(0) @binding(1) var<storage, read> src: array<f32>;\n\
            @group(0) @binding(2) var<storage, read_write> dst: array<f32>;\n\
            @compute @workgroup_size(WORKGROUP)\n\
            fn main(@builtin(global_invocation_id) gid: vec3<u32>) {\n\
                if gid.x < params.a { dst[gid.x] = src[gid.x] * params.b; }\n\
            }\n";
        let spec = |bindings: &'static [Binding]| KernelSpec {
            name: "test/contract",
            sources: &[WGSL],
            entry: "main",
            bindings,
            constants: &[],
        };
        const GOOD: &[Binding] = &[uniform::<Params>(), Binding::Read, Binding::ReadWrite];
        const LONGER: &[Binding] = &[uniform::<Longer>(), Binding::Read, Binding::ReadWrite];
        const WRITABLE: &[Binding] = &[uniform::<Params>(), Binding::ReadWrite, Binding::ReadWrite];
        const SHORT: &[Binding] = &[uniform::<Params>(), Binding::Read];
        let good = spec(GOOD);
        assert_eq!(good.reflect().unwrap().workgroup, [WORKGROUP, 1, 1]);
        for (bad, what) in [
            (spec(LONGER), "Uniform(32)"),
            (spec(WRITABLE), "binding 1"),
            (spec(SHORT), "uses bindings [0, 1, 2]"),
        ] {
            let error = bad.reflect().unwrap_err().to_string();
            assert!(error.contains(what), "expected '{what}' in: {error}");
        }
        let renamed = KernelSpec {
            entry: "missing",
            ..spec(GOOD)
        };
        assert!(
            renamed
                .reflect()
                .unwrap_err()
                .to_string()
                .contains("no compute entry point")
        );
        let twice = [&good, &good];
        assert!(check_kernels(&twice).unwrap_err().to_string().contains("two kernels"));
    }
}
