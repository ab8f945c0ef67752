// Joseph forward projection: one invocation per ray of the batch, adding the samples this
// slab owns to the ray's value (prepended: joseph_common.wgsl).

@group(0) @binding(2) var<storage, read> volume: array<f32>;
@group(0) @binding(3) var<storage, read_write> projections: array<f32>;
// The slab's window with x and y swapped (joseph_swap_xy.wgsl), for rays along x.
@group(0) @binding(4) var<storage, read> swapped: array<f32>;

// Voxel (x, y, z): rays along x read the swapped copy, where their neighbours' samples (apart
// in y) are contiguous; the others read the volume, where theirs (apart in x) already are. On a
// GPU a warp's samples then fall on one or two cache lines instead of one line per ray. (A CPU
// emulating a GPU prefers the opposite: there each lane is a sequential walk, which the
// unswapped layout keeps within a cache line for 16 planes — lavapipe's forward is 20–30 %
// slower with the swap.)
fn voxel(swapped_layout: bool, x: i32, y: i32, z: i32) -> f32 {
    if swapped_layout {
        return swapped[((u32(z) - params.slab.z0) * params.nx + u32(x)) * params.ny + u32(y)];
    }
    return volume[slab_index(params.slab, params.nx, params.ny, u32(x), u32(y), u32(z))];
}

@compute @workgroup_size(WORKGROUP)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP;
    if i >= params.views * params.rows * params.cols {
        return;
    }
    let col = i % params.cols;
    let row = (i / params.cols) % params.rows;
    let view = i / (params.cols * params.rows);
    let r = ray_through(params.first_view + view, row, col);
    let m = r.main;
    let a = (m + 1u) % 3u;
    let b = (m + 2u) % 3u;
    let em = r.e[m];
    if em == 0.0 {
        return;
    }
    // Multiplications by 1 / e_m, not divisions, here and in the transpose (same operations).
    let inv_em = 1.0 / em;
    let step_mm = abs(inv_em);
    let n = vec3<u32>(params.nx, params.ny, params.nz);
    // The planes the ray can tap: the whole main axis, clipped to this slab along z.
    var k0 = 0i;
    var k1 = i32(n[m]);
    if m == 2u {
        k0 = i32(params.slab.z0);
        k1 = i32(params.slab.z1);
    }
    // Clip to where the other coordinates are within one voxel of the volume (a cheap
    // conservative bound; the taps below check exactly).
    for (var s = 0u; s < 2u; s++) {
        let ax = select(b, a, s == 0u);
        let ea = r.e[ax];
        let lo = select(-1.0, -0.5, n[ax] == 1u);
        let hi = select(f32(n[ax]), 0.5, n[ax] == 1u);
        if ea == 0.0 {
            let c = r.q[ax];
            if !(c > lo - 1.0 && c < hi + 1.0) {
                return;
            }
        } else {
            // c(k) = q_a + (k - q_m) / e_m * e_a.
            let slope = ea / em;
            let t0 = (lo - 1.0 - r.q[ax]) / slope + r.q[m];
            let t1 = (hi + 1.0 - r.q[ax]) / slope + r.q[m];
            // Clamped before the conversion: a nearly axis-aligned ray has a tiny slope and
            // t0, t1 beyond i32's range, whose conversion saturates and whose ± 1 would wrap.
            let bound = f32(n[m]) + 4.0;
            k0 = max(k0, i32(clamp(floor(min(t0, t1)), -4.0, bound)) - 1);
            k1 = min(k1, i32(clamp(ceil(max(t0, t1)), -4.0, bound)) + 2);
        }
    }
    // Two copies of the plane loop, each reading one layout: a per-sample choice of buffer
    // would be flattened into both loads by compilers that predicate small branches.
    var sum = 0.0;
    if m == 0u {
        sum = march(r, m, k0, k1, inv_em, step_mm, true);
    } else {
        sum = march(r, m, k0, k1, inv_em, step_mm, false);
    }
    projections[i] += sum;
}

// The samples of ray r on planes k0 .. k1 of main axis m, weighted by step_mm; swapped_layout:
// read the x–y swapped copy (rays along x).
fn march(r: Ray, m: u32, k0: i32, k1: i32, inv_em: f32, step_mm: f32, swapped_layout: bool) -> f32 {
    let a = (m + 1u) % 3u;
    let b = (m + 2u) % 3u;
    let n = vec3<u32>(params.nx, params.ny, params.nz);
    var sum = 0.0;
    for (var k = k0; k < k1; k++) {
        let t = (f32(k) - r.q[m]) * inv_em;
        let ca = r.q[a] + t * r.e[a];
        let cb = r.q[b] + t * r.e[b];
        var idx = vec3<i32>(0, 0, 0);
        idx[m] = k;
        // Taps along a and b (at most two each).
        let fa = i32(floor(ca));
        let fb = i32(floor(cb));
        // Slab ownership of a sample whose taps straddle z (main axis x or y).
        if m != 2u && n[2] > 1u {
            let cz = select(ca, cb, b == 2u);
            let owner = max(i32(floor(cz)), 0);
            if owner < i32(params.slab.z0) || owner >= i32(params.slab.z1) {
                continue;
            }
        }
        for (var da = 0; da < 2; da++) {
            let ja = select(fa + da, 0, n[a] == 1u);
            if (n[a] == 1u && da == 1) || ja < 0 || ja >= i32(n[a]) {
                continue;
            }
            let wa = tap_weight(ca, ja, n[a]);
            if wa == 0.0 {
                continue;
            }
            for (var db = 0; db < 2; db++) {
                let jb = select(fb + db, 0, n[b] == 1u);
                if (n[b] == 1u && db == 1) || jb < 0 || jb >= i32(n[b]) {
                    continue;
                }
                let wb = tap_weight(cb, jb, n[b]);
                if wb == 0.0 {
                    continue;
                }
                idx[a] = ja;
                idx[b] = jb;
                sum += step_mm * wa * wb * voxel(swapped_layout, idx.x, idx.y, idx.z);
            }
        }
    }
    return sum;
}
