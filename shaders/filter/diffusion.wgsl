// Anisotropic diffusion, ITK's GradientNDAnisotropicDiffusionFunction (Perona–Malik) and
// CurvatureNDAnisotropicDiffusionFunction (Whitaker's modified curvature diffusion), with
// the zero-flux (nearest) boundary. Twin of diffusion.rs, same expressions in the same order.
// Prepended: common/boundary.wgsl, common/tile.wgsl, common/stage.wgsl.
//
// grad_sq: Σ_axis (central difference · scale)², reduced on the device into K
// (diffusion_k.wgsl), which update reads from `k_value` (no host round trip).
// update:  out = v + dt · (conductance-weighted divergence), one explicit step.

struct Params {
    scale: vec4<f32>, // 1 / spacing along (z, y, x); 0 for an axis a 2D image lacks
    _unused_k: f32,   // K is read from k_value
    dt: f32,
    curvature: u32,
    three_d: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
// -2 κ² ⟨|∇I|²⟩ (update only).
@group(0) @binding(4) var<storage, read> k_value: array<f32>;

const MIN_NORM: f32 = 1.0e-10;

var<private> p_lid: vec3<u32>;

// Value at offset (dz, dy, dx) from this thread's voxel, from the staged block.
fn p(d: vec3<i32>) -> f32 {
    return staged(p_lid, vec3<i32>(d.z, d.y, d.x), vec3<i32>(1, 1, select(0, 1, params.three_d == 1u)));
}

fn unit(a: u32) -> vec3<i32> {
    // (dz, dy, dx) offset of axis a.
    return vec3<i32>(select(0, 1, a == 0u), select(0, 1, a == 1u), select(0, 1, a == 2u));
}

fn axis_scale(a: u32) -> f32 {
    return params.scale[a];
}

@compute @workgroup_size(STAGE_X, STAGE_Y, STAGE_Z)
fn update(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let rz = select(0, 1, params.three_d == 1u);
    let r = vec3<i32>(1, 1, rz);
    let origin = block_origin(wid);
    stage(li, origin, r, MODE_NEAREST, 0.0);
    workgroupBarrier();
    if (!in_output(origin, lid)) {
        return;
    }
    p_lid = lid;
    let first = select(1u, 0u, params.three_d == 1u);
    let centre = p(vec3<i32>(0, 0, 0));
    var dx: array<f32, 3>;
    var fwd: array<f32, 3>;
    var bwd: array<f32, 3>;
    for (var i = first; i < 3u; i++) {
        let e = unit(i);
        dx[i] = (p(e) - p(-e)) / 2.0 * axis_scale(i);
        fwd[i] = (p(e) - centre) * axis_scale(i);
        bwd[i] = (centre - p(-e)) * axis_scale(i);
    }
    var delta = 0.0;
    for (var i = first; i < 3u; i++) {
        let e = unit(i);
        var accum = 0.0;
        var accum_d = 0.0;
        for (var j = first; j < 3u; j++) {
            if (j != i) {
                let f = unit(j);
                let aug = (p(e + f) - p(e - f)) / 2.0 * axis_scale(j);
                let dim = (p(-e + f) - p(-e - f)) / 2.0 * axis_scale(j);
                accum += 0.25 * (dx[j] + aug) * (dx[j] + aug);
                accum_d += 0.25 * (dx[j] + dim) * (dx[j] + dim);
            }
        }
        let gf = fwd[i] * fwd[i] + accum;
        let gb = bwd[i] * bwd[i] + accum_d;
        var cf = 0.0;
        var cb = 0.0;
        let k = k_value[0];
        if (k != 0.0) {
            cf = exp(gf / k);
            cb = exp(gb / k);
        }
        if (params.curvature == 1u) {
            delta += fwd[i] / sqrt(MIN_NORM + gf) * cf - bwd[i] / sqrt(MIN_NORM + gb) * cb;
        } else {
            delta += fwd[i] * cf - bwd[i] * cb;
        }
    }
    if (params.curvature == 1u) {
        var prop = 0.0;
        for (var i = first; i < 3u; i++) {
            if (delta > 0.0) {
                prop += min(bwd[i], 0.0) * min(bwd[i], 0.0) + max(fwd[i], 0.0) * max(fwd[i], 0.0);
            } else {
                prop += max(bwd[i], 0.0) * max(bwd[i], 0.0) + min(fwd[i], 0.0) * min(fwd[i], 0.0);
            }
        }
        delta = sqrt(prop) * delta;
    }
    dst[out_index(origin, lid)] = centre + params.dt * delta;
}

@compute @workgroup_size(WORKGROUP)
fn grad_sq(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let voxel = slab_voxel(tile, i);
    let x = voxel.x;
    let y = voxel.y;
    let z = voxel.z;
    let first = select(1u, 0u, params.three_d == 1u);
    var acc = 0.0;
    for (var a = first; a < 3u; a++) {
        let e = unit(a);
        let d = (fetch(z + e.x, y + e.y, x + e.z, MODE_NEAREST, 0.0) - fetch(z - e.x, y - e.y, x - e.z, MODE_NEAREST, 0.0)) / -2.0 * axis_scale(a);
        acc += d * d;
    }
    dst[tile.out_offset + i] = acc;
}
