// Raw counts → line integrals in one pass (twin of Transmission::value in
// src/recon/corrections/transmission.rs; same expressions, same order): flat/dark
// normalisation, cut-off, −log with an optional floor, the water polynomial. Steps TR_* are
// emitted from transmission.rs. Prepended: common/float.wgsl, common/tile.wgsl.

struct Params {
    // Elements of this batch, and detector pixels per view.
    count: u32,
    pixels: u32,
    flags: u32,
    // Polynomial terms c1..c_degree (0: none).
    degree: u32,
    cutoff: f32,
    floor: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Per detector pixel: the dark mean and the floored flat − dark (one view's size each).
@group(0) @binding(1) var<storage, read> dark: array<f32>;
@group(0) @binding(2) var<storage, read> denominator: array<f32>;
@group(0) @binding(3) var<storage, read> coefficients: array<f32>;
@group(0) @binding(4) var<storage, read> input: array<f32>;
@group(0) @binding(5) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn transmission(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.count {
        return;
    }
    var v = input[i];
    if (params.flags & TR_NORMALIZE) != 0u {
        let pixel = i % params.pixels;
        v = (v - dark[pixel]) / denominator[pixel];
    }
    // Comparisons with NaN are false, so NaN passes the cut-off and the floor unchanged.
    if (params.flags & TR_CUTOFF) != 0u && v > params.cutoff {
        v = params.cutoff;
    }
    if (params.flags & TR_MINUS_LOG) != 0u {
        if (params.flags & TR_FLOOR) != 0u && v < params.floor {
            v = params.floor;
        }
        v = -log(v);
    }
    if params.degree > 0u {
        var acc = coefficients[params.degree - 1u];
        for (var k = i32(params.degree) - 2; k >= 0; k--) {
            acc = acc * v + coefficients[k];
        }
        v = v * acc;
    }
    output[i] = v;
}
