// Dense correlation with a kernel of at most 7×7×7 taps (twin of correlate.rs):
// out[p] = Σ_k w[k] · in[p + k - left], the input extended by the boundary mode.
// 8×8×4 workgroups stage their block plus halo (radius ≤ 3) in workgroup memory.
// Prepended: common/boundary.wgsl, common/tile.wgsl, common/stage.wgsl.

struct Params {
    size: vec4<u32>, // taps along (z, y, x)
    left: vec4<u32>, // taps before the centre along (z, y, x)
    halo: vec4<u32>, // staged radius along (z, y, x)
    mode: u32,
    cval: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(STAGE_X, STAGE_Y, STAGE_Z)
fn correlate(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let r = vec3<i32>(i32(params.halo.z), i32(params.halo.y), i32(params.halo.x));
    let origin = block_origin(wid);
    stage(li, origin, r, params.mode, params.cval);
    workgroupBarrier();
    if (!in_output(origin, lid)) {
        return;
    }
    var acc = 0.0;
    var k = 0u;
    for (var kz = 0; kz < i32(params.size.x); kz++) {
        for (var ky = 0; ky < i32(params.size.y); ky++) {
            for (var kx = 0; kx < i32(params.size.z); kx++) {
                let d = vec3<i32>(kx - i32(params.left.z), ky - i32(params.left.y), kz - i32(params.left.x));
                acc += weights[k] * staged(lid, d, r);
                k++;
            }
        }
    }
    dst[out_index(origin, lid)] = acc;
}
