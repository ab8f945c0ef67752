// Stage one of the moments reduction (src/gpu/reduce.rs): each workgroup reduces a contiguous
// chunk of WG * PER_THREAD values to one partial — min, max, count, mean, M2 (sum of squared
// deviations from the mean) and the number of NaNs — merged with Chan et al.'s pairwise update
// so that no partial sums of squares cancel. The host merges the partials in f64.
// Reads are coalesced: in step k, thread t reads element k * WG + t of the chunk.

struct Params {
    offset: u32,   // element offset of the first value inside the bound window
    count: u32,    // values in this window
    groups: u32,   // partials this window produces
    partial0: u32, // index of this window's first partial
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec4<f32>>;


var<workgroup> s_min: array<f32, WG>;
var<workgroup> s_max: array<f32, WG>;
var<workgroup> s_n: array<f32, WG>;
var<workgroup> s_mean: array<f32, WG>;
var<workgroup> s_m2: array<f32, WG>;
var<workgroup> s_nan: array<f32, WG>;

@compute @workgroup_size(WG)
fn moments(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    let group = wid.x + wid.y * nwg.x;
    let inf = bitcast<f32>(0x7f800000u);
    var mn = inf;
    var mx = -inf;
    var n = 0.0;
    var mean = 0.0;
    var m2 = 0.0;
    var nans = 0.0;
    if (group < params.groups) {
        let base = group * WG * PER_THREAD;
        for (var k = 0u; k < PER_THREAD; k++) {
            let i = base + k * WG + lid;
            if (i < params.count) {
                let x = src[params.offset + i];
                if (is_nan(x)) {
                    nans += 1.0;
                } else {
                    mn = min(mn, x);
                    mx = max(mx, x);
                    n += 1.0;
                    let d = x - mean;
                    mean += d / n;
                    m2 += d * (x - mean);
                }
            }
        }
    }
    s_min[lid] = mn;
    s_max[lid] = mx;
    s_n[lid] = n;
    s_mean[lid] = mean;
    s_m2[lid] = m2;
    s_nan[lid] = nans;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) {
            let o = lid + stride;
            let na = s_n[lid];
            let nb = s_n[o];
            let nt = na + nb;
            if (nb > 0.0) {
                let d = s_mean[o] - s_mean[lid];
                s_mean[lid] += d * (nb / nt);
                s_m2[lid] += s_m2[o] + d * d * (na * nb / nt);
            }
            s_n[lid] = nt;
            s_min[lid] = min(s_min[lid], s_min[o]);
            s_max[lid] = max(s_max[lid], s_max[o]);
            s_nan[lid] += s_nan[o];
        }
        workgroupBarrier();
    }
    if (lid == 0u && group < params.groups) {
        let p = 2u * (params.partial0 + group);
        partials[p] = vec4<f32>(s_min[0], s_max[0], s_n[0], s_mean[0]);
        partials[p + 1u] = vec4<f32>(s_m2[0], s_nan[0], 0.0, 0.0);
    }
}
