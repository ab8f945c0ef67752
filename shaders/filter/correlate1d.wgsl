// One 1D correlation pass along `params.axis` (0 = z, 1 = y, 2 = x):
// out[c] = Σ_k w[k] · in[c + k - left], the input extended by the boundary mode
// (twin of correlate_cpu in correlate1d.rs). Prepended: common/boundary.wgsl, common/tile.wgsl,
// correlate_line.wgsl.

struct Params {
    axis: u32,
    taps: u32,
    left: u32,
    mode: u32,
    cval: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn correlate1d(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let line = line_through(slab_voxel(tile, i), params.axis);
    let c = line.c;
    let lo = line.lo;
    let hi = line.hi;
    let stride = line.stride;
    let taps = i32(params.taps);
    let first = c - i32(params.left);
    let line_start = line.start;
    var acc = 0.0;
    if (first >= lo && first + taps <= hi) {
        // Interior: the whole stencil lies inside the domain.
        let base = line_start + (first - lo) * stride;
        for (var k = 0; k < taps; k++) {
            acc += weights[k] * src[base + k * stride];
        }
    } else {
        for (var k = 0; k < taps; k++) {
            let m = map_index(first + k, lo, hi, params.mode);
            var v = params.cval;
            if (m != OUTSIDE) {
                v = src[line_start + (m - lo) * stride];
            }
            acc += weights[k] * v;
        }
    }
    dst[tile.out_offset + i] = acc;
}
