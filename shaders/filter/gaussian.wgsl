// One separable Gaussian pass along `params.axis` (0 = z, 1 = y, 2 = x): a symmetric 1D
// correlation with half-kernel `weights[0..=radius]` (twin of the CPU path in gaussian.rs).
// Prepended: common/boundary.wgsl, common/tile.wgsl.

struct Params {
    axis: u32,
    radius: u32,
    mode: u32,
    cval: f32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> weights: array<f32>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

// Value at index `m` (from map_index over lo..hi) of the line whose voxel `lo` is element `start`.
fn line_value(start: i32, m: i32, lo: i32, stride: i32) -> f32 {
    if (m == OUTSIDE) {
        return params.cval;
    }
    return src[start + (m - lo) * stride];
}

@compute @workgroup_size(64)
fn gaussian_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let x = i32(i % tile.nx);
    let rest = i / tile.nx;
    let y = i32(rest % tile.ny);
    let z = i32(rest / tile.ny + tile.out_z0);

    // Position along the filtered axis, its domain, and the element stride between neighbours.
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
    let r = i32(params.radius);
    let centre = i32(tile_in_index(tile, z, y, x));
    let line_start = centre - (c - lo) * stride; // element of the line's first in-domain voxel
    var acc = weights[0] * src[centre];
    if (c - r >= lo && c + r < hi) {
        // Interior: the whole stencil lies inside the domain, no boundary handling.
        for (var k = 1; k <= r; k++) {
            acc += weights[k] * (src[centre - k * stride] + src[centre + k * stride]);
        }
    } else {
        for (var k = 1; k <= r; k++) {
            let a = map_index(c - k, lo, hi, params.mode);
            let b = map_index(c + k, lo, hi, params.mode);
            acc += weights[k] * (line_value(line_start, a, lo, stride) + line_value(line_start, b, lo, stride));
        }
    }
    dst[tile.out_offset + u32(i)] = acc;
}
