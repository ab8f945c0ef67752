// Histogram with numpy.histogram's bins (src/gpu/reduce.rs): `bins` equal-width bins whose
// f32 edges the host computed exactly as numpy does; values outside [edges[0], edges[bins]]
// and NaN are not counted; the last bin includes its right edge. The bin is first estimated
// arithmetically, then corrected against the edge table, so the result depends only on the
// edges (as numpy's own correction step makes it).
//
// histogram_local: bins fit workgroup memory — each workgroup counts its chunk there and adds
// its non-zero bins to the global counts once. histogram_global: atomics on the global counts.

struct Params {
    offset: u32, // element offset of the first value inside the bound window
    count: u32,  // values in this window
    groups: u32, // workgroups with work
    bins: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> edges: array<f32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;


var<workgroup> local_counts: array<atomic<u32>, LOCAL_BINS>;

// Bin of x, or -1 when x is NaN or outside the edges.
fn bin_of(x: f32) -> i32 {
    let nb = i32(params.bins);
    let lo = edges[0];
    let hi = edges[params.bins];
    if (is_nan(x) || x < lo || x > hi) {
        return -1;
    }
    var b = clamp(i32((x - lo) / (hi - lo) * f32(params.bins)), 0, nb - 1);
    loop {
        if (b > 0 && x < edges[b]) {
            b -= 1;
        } else if (b < nb - 1 && x >= edges[b + 1]) {
            b += 1;
        } else {
            break;
        }
    }
    return b;
}

fn group_index(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

@compute @workgroup_size(WG)
fn histogram_local(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let group = group_index(wid, nwg);
    for (var b = lid; b < params.bins; b += WG) {
        atomicStore(&local_counts[b], 0u);
    }
    workgroupBarrier();
    if (group < params.groups) {
        let base = group * WG * PER_THREAD;
        for (var k = 0u; k < PER_THREAD; k++) {
            let i = base + k * WG + lid;
            if (i < params.count) {
                let b = bin_of(src[params.offset + i]);
                if (b >= 0) {
                    atomicAdd(&local_counts[b], 1u);
                }
            }
        }
    }
    workgroupBarrier();
    for (var b = lid; b < params.bins; b += WG) {
        let c = atomicLoad(&local_counts[b]);
        if (c > 0u) {
            atomicAdd(&counts[b], c);
        }
    }
}

@compute @workgroup_size(WG)
fn histogram_global(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let group = group_index(wid, nwg);
    if (group >= params.groups) {
        return;
    }
    let base = group * WG * PER_THREAD;
    for (var k = 0u; k < PER_THREAD; k++) {
        let i = base + k * WG + lid;
        if (i < params.count) {
            let b = bin_of(src[params.offset + i]);
            if (b >= 0) {
                atomicAdd(&counts[b], 1u);
            }
        }
    }
}
