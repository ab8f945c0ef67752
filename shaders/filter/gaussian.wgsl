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

// Value at (z, y, x) + d along the filtered axis, extended by the boundary mode.
fn sample(p: vec3<i32>, d: i32) -> f32 {
    var q = p;
    var m: i32;
    switch params.axis {
        case 0u: {
            m = map_index(p.x + d, tile.z_lo, tile.z_hi, params.mode);
            q.x = m;
        }
        case 1u: {
            m = map_index(p.y + d, 0, i32(tile.ny), params.mode);
            q.y = m;
        }
        default: {
            m = map_index(p.z + d, 0, i32(tile.nx), params.mode);
            q.z = m;
        }
    }
    if (m == OUTSIDE) {
        return params.cval;
    }
    return src[tile_in_index(tile, q.x, q.y, q.z)];
}

@compute @workgroup_size(64)
fn gaussian_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let x = i % tile.nx;
    let rest = i / tile.nx;
    // p = (z, y, x) in global coordinates.
    let p = vec3<i32>(i32(rest / tile.ny + tile.out_z0), i32(rest % tile.ny), i32(x));
    var acc = weights[0] * sample(p, 0);
    for (var k = 1i; k <= i32(params.radius); k++) {
        acc += weights[k] * (sample(p, -k) + sample(p, k));
    }
    dst[tile.out_offset + i] = acc;
}
