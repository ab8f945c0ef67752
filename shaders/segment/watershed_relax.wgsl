// Watershed on the GPU: one Jacobi step of the minimax flood (twin of WatershedParams in
// src/segment/watershed_gpu.rs). Prepended: common/tile.wgsl.
//
// A sample's state is (cost as f32 bits, steps along its plateau, label rank, flags). Each
// step, a free sample takes the reached neighbour with the smallest (cost, steps, label) — the
// one the CPU flood would release first, up to its arrival order among equal costs — and
// becomes (max(height, cost), steps + 1 when that stays the neighbour's cost else 0, label).
// Markers and samples outside the mask never change. The iteration stops when no state changes.

struct Params {
    nx: u32,
    ny: u32,
    nz: u32,
    n: u32,
    neighbours: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // (dx, dy, dz, flat offset) of every neighbour of the footprint.
    steps: array<vec4<i32>, 26>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> heights: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read_write> dst: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> changed: atomic<u32>;

var<workgroup> group_changed: atomic<u32>;

// `a` leaves the flood before `b`: smaller cost, then fewer plateau steps, then smaller label.
fn leaves_first(a: vec4<u32>, b: vec4<u32>) -> bool {
    let ca = bitcast<f32>(a.x);
    let cb = bitcast<f32>(b.x);
    if (ca != cb) {
        return ca < cb;
    }
    if (a.y != b.y) {
        return a.y < b.y;
    }
    return a.z < b.z;
}

@compute @workgroup_size(WORKGROUP)
fn relax(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    if (local == 0u) {
        atomicStore(&group_changed, 0u);
    }
    workgroupBarrier();
    let i = linear_invocation(gid, groups);
    if (i < params.n) {
        let s = src[i];
        var out = s;
        if ((s.w & (WATERSHED_FIXED | WATERSHED_OUTSIDE)) == 0u) {
            let x = i32(i % params.nx);
            let y = i32((i / params.nx) % params.ny);
            let z = i32(i / (params.nx * params.ny));
            // Label 0: nothing reached yet.
            var best = vec4<u32>(WATERSHED_UNREACHED, 0u, 0u, 0u);
            for (var k = 0u; k < params.neighbours; k++) {
                let st = params.steps[k];
                let p = vec3<i32>(x, y, z) + st.xyz;
                let dims = vec3<i32>(i32(params.nx), i32(params.ny), i32(params.nz));
                if (all(p >= vec3<i32>(0)) && all(p < dims)) {
                    let t = src[u32(i32(i) + st.w)];
                    // Written without `continue` (the GL backend's loops need it so).
                    if (t.z != 0u && (t.w & WATERSHED_OUTSIDE) == 0u && leaves_first(t, best)) {
                        best = t;
                    }
                }
            }
            if (best.z != 0u) {
                let h = heights[i];
                let c = bitcast<f32>(best.x);
                out = vec4<u32>(bitcast<u32>(max(h, c)), select(0u, best.y + 1u, c >= h), best.z, 0u);
            }
        }
        dst[i] = out;
        if (any(out != s)) {
            atomicOr(&group_changed, 1u);
        }
    }
    workgroupBarrier();
    if (local == 0u && atomicLoad(&group_changed) != 0u) {
        atomicOr(&changed, 1u);
    }
}
