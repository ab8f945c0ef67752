// Median over a box neighbourhood of radius (rz, ry, rx) (twin of the CPU path in median.rs).
// Prepended: common/boundary.wgsl, common/tile.wgsl, and the generated `network_median`
// (forgetful selection on scalars, for neighbourhoods of at most 27 voxels) with
// `NETWORK = true`, or a stub with `NETWORK = false` for the bisection path.
//
// Workgroups of 8×8×4 outputs. With radius ≤ 2 the workgroup first stages its
// (8+2rx)×(8+2ry)×(4+2rz) neighbourhood in workgroup memory (each input voxel read from
// DRAM once per workgroup, x contiguous across threads); larger radii read through the cache.

struct Params {
    rz: u32,
    ry: u32,
    rx: u32,
    mode: u32,
    cval: f32,
    use_cache: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

const TX: u32 = 8u;
const TY: u32 = 8u;
const TZ: u32 = 4u;
const SHARED: u32 = 1152u; // (8 + 4) * (8 + 4) * (4 + 4): radius 2 on every axis

var<workgroup> cache: array<f32, SHARED>;

// Input voxel (z, y, x) in global coordinates, extended by the boundary mode.
fn fetch(z: i32, y: i32, x: i32) -> f32 {
    let mz = map_index(z, tile.z_lo, tile.z_hi, params.mode);
    let my = map_index(y, 0, i32(tile.ny), params.mode);
    let mx = map_index(x, 0, i32(tile.nx), params.mode);
    if (mz == OUTSIDE || my == OUTSIDE || mx == OUTSIDE) {
        return params.cval;
    }
    return src[tile_in_index(tile, mz, my, mx)];
}

// A total order on f32 as u32 keys (negative values reversed), for the bisection.
fn order_key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn from_key(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

@compute @workgroup_size(8, 8, 4)
fn median(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let r = vec3<i32>(i32(params.rx), i32(params.ry), i32(params.rz));
    let origin = vec3<i32>(i32(wid.x * TX), i32(wid.y * TY), i32(wid.z * TZ + tile.out_z0));
    let sx = i32(TX) + 2 * r.x;
    let sy = i32(TY) + 2 * r.y;
    let sz = i32(TZ) + 2 * r.z;
    if (params.use_cache == 1u) {
        let total = u32(sx * sy * sz);
        for (var i = li; i < total; i += TX * TY * TZ) {
            let tx = i32(i) % sx;
            let ty = (i32(i) / sx) % sy;
            let tz = i32(i) / (sx * sy);
            cache[i] = fetch(origin.z + tz - r.z, origin.y + ty - r.y, origin.x + tx - r.x);
        }
    }
    workgroupBarrier();

    let x = origin.x + i32(lid.x);
    let y = origin.y + i32(lid.y);
    let z = origin.z + i32(lid.z);
    if (x >= i32(tile.nx) || y >= i32(tile.ny) || z >= i32(tile.out_z0 + tile.out_nz)) {
        return;
    }
    var m: f32;
    if (NETWORK) {
        m = network_median(i32(lid.x), i32(lid.y), i32(lid.z), sx, sy);
    } else {
        // Bisection on the order keys: the smallest key K with at least k + 1 neighbours whose
        // key is <= K is the key of the k-th smallest neighbour (k = n / 2).
        let n = u32((2 * r.x + 1) * (2 * r.y + 1) * (2 * r.z + 1));
        let need = n / 2u + 1u;
        var lo = 0u;
        var hi = 0xffffffffu;
        while (lo < hi) {
            let mid = lo + (hi - lo) / 2u;
            var count = 0u;
            for (var dz = -r.z; dz <= r.z; dz++) {
                for (var dy = -r.y; dy <= r.y; dy++) {
                    for (var dx = -r.x; dx <= r.x; dx++) {
                        var v: f32;
                        if (params.use_cache == 1u) {
                            let c = ((i32(lid.z) + dz + r.z) * sy + i32(lid.y) + dy + r.y) * sx + i32(lid.x) + dx + r.x;
                            v = cache[u32(c)];
                        } else {
                            v = fetch(z + dz, y + dy, x + dx);
                        }
                        count += select(0u, 1u, order_key(v) <= mid);
                    }
                }
            }
            if (count >= need) {
                hi = mid;
            } else {
                lo = mid + 1u;
            }
        }
        m = from_key(lo);
    }
    let out = (u32(z) - tile.out_z0) * tile.ny * tile.nx + u32(y) * tile.nx + u32(x);
    dst[tile.out_offset + out] = m;
}
