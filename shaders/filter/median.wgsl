// Median over a box neighbourhood of radius (rz, ry, rx) (twin of the CPU path in median.rs).
// Prepended: common/boundary.wgsl, common/tile.wgsl, common/stage.wgsl, and the generated `network_median`
// (forgetful selection on scalars, for neighbourhoods of at most 27 voxels) with
// `NETWORK = true`, or a stub with `NETWORK = false` for the bisection path.
//
// Workgroups of 8×8×4 outputs. With radius ≤ 3 the workgroup first stages its neighbourhood in
// workgroup memory (common/stage.wgsl); larger radii read through the cache.

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

// A total order on f32 as u32 keys (negative values reversed), for the bisection.
fn order_key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn from_key(k: u32) -> f32 {
    return bitcast<f32>(select(~k, k & 0x7fffffffu, (k & 0x80000000u) != 0u));
}

@compute @workgroup_size(STAGE_X, STAGE_Y, STAGE_Z)
fn median(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let r = vec3<i32>(i32(params.rx), i32(params.ry), i32(params.rz));
    let origin = block_origin(wid);
    let sx = i32(TX) + 2 * r.x;
    let sy = i32(TY) + 2 * r.y;
    if (params.use_cache == 1u) {
        stage(li, origin, r, params.mode, params.cval);
    }
    workgroupBarrier();
    if (!in_output(origin, lid)) {
        return;
    }
    let x = origin.x + i32(lid.x);
    let y = origin.y + i32(lid.y);
    let z = origin.z + i32(lid.z);
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
                            v = staged(lid, vec3<i32>(dx, dy, dz), r);
                        } else {
                            v = fetch(z + dz, y + dy, x + dx, params.mode, params.cval);
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
    dst[out_index(origin, lid)] = m;
}
