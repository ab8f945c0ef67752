// A whole separable plan (correlate1d.rs: a sum of up to three chains of up to three 1D passes,
// combined as a sum or a root of the sum of squares) in one dispatch, from one staged block:
// Sobel, Prewitt, Laplace, gradient magnitudes, small boxes and Gaussians. Every pass reaches
// at most STAGE_RADIUS along its axis and each chain uses an axis once, so the (8+2r)×(8+2r)×
// (4+2r) input block in workgroup memory holds everything an output needs; a chain is then
// evaluated as nested sums, innermost pass first, in the CPU's order (twin of Separable::cpu).
// Boundaries: the staged block is extended by the mode along every axis, which equals
// extending each intermediate along its own pass axis for the index modes; in Constant mode an
// intermediate outside the domain along the next pass's axis is the constant, as scipy pads
// each pass. Prepended: common/boundary.wgsl, common/tile.wgsl, common/stage.wgsl.

struct Params {
    // Chain t, pass j (applied j = 0 first): (axis 0 = z / 1 = y / 2 = x, taps, left, first
    // weight). Chains shorter than three passes end in identity passes (one tap of weight 1).
    passes: array<vec4<u32>, 9>,
    // Staged radius along (z, y, x), and the number of chains in w.
    halo: vec4<u32>,
    weights: array<vec4<f32>, 16>,
    mode: u32,
    cval: f32,
    // COMBINE_SUM or COMBINE_ROOT_SUM_OF_SQUARES.
    combine: u32,
    chains: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn weight(i: u32) -> f32 {
    return params.weights[i / 4u][i % 4u];
}

// Offset (x, y, z) of `d` steps along volume axis `axis`.
fn step(axis: u32, d: i32) -> vec3<i32> {
    switch axis {
        case 0u: { return vec3<i32>(0, 0, d); }
        case 1u: { return vec3<i32>(0, d, 0); }
        default: { return vec3<i32>(d, 0, 0); }
    }
}

// Whether global voxel p lies outside the domain along `axis` (Constant mode only matters).
fn outside(p: vec3<i32>, axis: u32) -> bool {
    switch axis {
        case 0u: { return p.z < tile.z_lo || p.z >= tile.z_hi; }
        case 1u: { return p.y < 0 || p.y >= i32(tile.ny); }
        default: { return p.x < 0 || p.x >= i32(tile.nx); }
    }
}

fn chain(t: u32, lid: vec3<u32>, at: vec3<i32>, r: vec3<i32>) -> f32 {
    let p1 = params.passes[t * 3u];
    let p2 = params.passes[t * 3u + 1u];
    let p3 = params.passes[t * 3u + 2u];
    let constant = params.mode == MODE_CONSTANT;
    var acc3 = 0.0;
    for (var k3 = 0u; k3 < p3.y; k3++) {
        let d3 = step(p3.x, i32(k3) - i32(p3.z));
        var v2 = params.cval;
        if !(constant && outside(at + d3, p3.x)) {
            var acc2 = 0.0;
            for (var k2 = 0u; k2 < p2.y; k2++) {
                let d2 = d3 + step(p2.x, i32(k2) - i32(p2.z));
                var v1 = params.cval;
                if !(constant && outside(at + d2, p2.x)) {
                    var acc1 = 0.0;
                    for (var k1 = 0u; k1 < p1.y; k1++) {
                        let d1 = d2 + step(p1.x, i32(k1) - i32(p1.z));
                        acc1 += weight(p1.w + k1) * staged(lid, d1, r);
                    }
                    v1 = acc1;
                }
                acc2 += weight(p2.w + k2) * v1;
            }
            v2 = acc2;
        }
        acc3 += weight(p3.w + k3) * v2;
    }
    return acc3;
}

@compute @workgroup_size(STAGE_X, STAGE_Y, STAGE_Z)
fn separable_staged(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let r = vec3<i32>(i32(params.halo.z), i32(params.halo.y), i32(params.halo.x));
    let origin = block_origin(wid);
    stage(li, origin, r, params.mode, params.cval);
    workgroupBarrier();
    if !in_output(origin, lid) {
        return;
    }
    let at = origin + vec3<i32>(lid);
    var out = 0.0;
    for (var t = 0u; t < params.chains; t++) {
        let v = chain(t, lid, at, r);
        if params.combine == COMBINE_ROOT_SUM_OF_SQUARES {
            out += v * v;
        } else {
            out += v;
        }
    }
    if params.combine == COMBINE_ROOT_SUM_OF_SQUARES {
        out = sqrt(out);
    }
    dst[out_index(origin, lid)] = out;
}
