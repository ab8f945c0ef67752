// One 1D correlation pass along `params.axis` (0 = z, 1 = y, 2 = x):
// out[c] = Σ_k w[k] · in[c + k - left], the input extended by the boundary mode
// (twin of correlate_cpu in correlate1d.rs). Prepended: common/boundary.wgsl, common/tile.wgsl.

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
    let voxel = slab_voxel(tile, i);
    let x = voxel.x;
    let y = voxel.y;
    let z = voxel.z;

    // Position along the axis, its domain, and the element stride between neighbours.
    var c: i32;
    var lo: i32;
    var hi: i32;
    var stride: i32;
    switch params.axis {
        case 0u: {
            c = z;
            lo = tile.z_lo;
            hi = tile.z_hi;
            stride = i32(tile.ny * tile.nx);
        }
        case 1u: {
            c = y;
            lo = 0;
            hi = i32(tile.ny);
            stride = i32(tile.nx);
        }
        default: {
            c = x;
            lo = 0;
            hi = i32(tile.nx);
            stride = 1;
        }
    }
    let taps = i32(params.taps);
    let first = c - i32(params.left);
    let centre = i32(tile_in_index(tile, z, y, x));
    let line_start = centre - (c - lo) * stride; // element of the line's first in-domain voxel
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
