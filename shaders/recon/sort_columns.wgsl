// Sorts every detector pixel's column of values along the views (twin of sort_columns in
// src/recon/corrections/stripes.rs): one workgroup per pixel, a bitonic network over (value,
// view) pairs in workgroup memory, ascending in f32's total order with ties kept in view order
// (the CPU's stable sort gives the same sequence). Writes the sorted values (rank, pixel) and
// the view each rank came from.

struct Params {
    views: u32,
    // Pixels per view (rows × cols of this chunk), and the network's size (a power of two
    // ≥ views, ≤ SORT_MAX).
    pixels: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<storage, read_write> sorted: array<f32>;
@group(0) @binding(3) var<storage, read_write> from_view: array<u32>;

var<workgroup> keys: array<u32, SORT_MAX>;
var<workgroup> order: array<u32, SORT_MAX>;

// f32 bits as a u32 that sorts in the float's total order (−0 before +0).
fn order_key(v: f32) -> u32 {
    let b = bitcast<u32>(v);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn greater(a: u32, b: u32) -> bool {
    return keys[a] > keys[b] || (keys[a] == keys[b] && order[a] > order[b]);
}

@compute @workgroup_size(SORT_THREADS)
fn sort_columns(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let pixel = wid.x + wid.y * groups.x;
    // Uniform per workgroup: every invocation of a workgroup past the end returns together.
    if pixel >= params.pixels {
        return;
    }
    for (var i = lid; i < params.n; i += SORT_THREADS) {
        if i < params.views {
            keys[i] = order_key(input[i * params.pixels + pixel]);
            order[i] = i;
        } else {
            keys[i] = 0xffffffffu;
            order[i] = 0xffffffffu;
        }
    }
    workgroupBarrier();
    for (var k = 2u; k <= params.n; k <<= 1u) {
        for (var j = k >> 1u; j > 0u; j >>= 1u) {
            for (var i = lid; i < params.n; i += SORT_THREADS) {
                let l = i ^ j;
                if l > i {
                    let ascending = (i & k) == 0u;
                    if greater(i, l) == ascending {
                        let key = keys[i];
                        keys[i] = keys[l];
                        keys[l] = key;
                        let o = order[i];
                        order[i] = order[l];
                        order[l] = o;
                    }
                }
            }
            workgroupBarrier();
        }
    }
    for (var r = lid; r < params.views; r += SORT_THREADS) {
        let view = order[r];
        sorted[r * params.pixels + pixel] = input[view * params.pixels + pixel];
        from_view[r * params.pixels + pixel] = view;
    }
}
