// The exact transpose of joseph_forward.wgsl as a gather: one invocation per voxel of the
// slab, adding for every view of the batch the rays that tap it. For each candidate main axis
// m, the rays that tap voxel j do so in plane j_m within one voxel of j along the other axes;
// the detector pixels they come from lie in the detector footprint of that 2×2 square, found
// with the view's projection matrix. Each candidate ray is rebuilt exactly as the forward
// kernel builds it (prepended: joseph_common.wgsl).

@group(0) @binding(2) var<storage, read> matrices: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> projections: array<f32>;
@group(0) @binding(4) var<storage, read_write> volume: array<f32>;

// Detector (column, row) of a point in voxel index coordinates; None (w <= 0) as a flag.
fn detector_position(view: u32, pos: vec3<f32>) -> vec3<f32> {
    let m = view * 4u;
    let h = vec4<f32>(pos, 1.0);
    let u = dot(matrices[m], h);
    let v = dot(matrices[m + 1u], h);
    let w = dot(matrices[m + 2u], h);
    if params.beam == 2u {
        // Arc (cylinder): the matrix holds (across, height in rows, along) over SID; arc_scale,
        // centre column and centre row in matrix row 3.
        let arc = matrices[m + 3u];
        return vec3<f32>(precise_atan2(u, w) * arc.y + arc.z, v / sqrt(u * u + w * w) + arc.w, 1.0);
    }
    if w <= 0.0 {
        return vec3<f32>(0.0, 0.0, 0.0);
    }
    return vec3<f32>(u / w, v / w, 1.0);
}

@compute @workgroup_size(8, 8, 1)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = i32(gid.x);
    let y = i32(gid.y);
    let z = i32(gid.z + params.slab.z0);
    if gid.x >= params.nx || gid.y >= params.ny || u32(z) >= params.slab.z1 {
        return;
    }
    let j = vec3<i32>(x, y, z);
    let n = vec3<u32>(params.nx, params.ny, params.nz);
    let axes = select(2u, 3u, params.nz > 1u);
    var acc = 0.0;
    let here = params.origin.xyz + vec3<f32>(j) * params.spacing.xyz;
    let voxel_reach = 2.0 * length(params.spacing.xyz);
    let anisotropy = max(params.spacing.x, max(params.spacing.y, params.spacing.z))
        / min(params.spacing.x, min(params.spacing.y, params.spacing.z));
    for (var view = 0u; view < params.views; view++) {
        let global_view = params.first_view + view;
        // Rays that tap this voxel pass within `voxel_reach` of it, so their directions differ
        // from the source–voxel direction by at most voxel_reach / distance: only axes within
        // that margin of the largest step can be their main axis (parallel beams: exactly one
        // direction, no margin).
        let vectors = view_vectors[global_view];
        var d0 = vectors.source.xyz;
        var tolerance = 0.0;
        if params.beam != 0u {
            d0 = here - vectors.source.xyz;
            tolerance = 4.0 * anisotropy * voxel_reach / length(d0) + 1e-5;
        }
        let e0 = abs(d0 / params.spacing.xyz);
        let largest = select(max(e0.x, e0.y), max(e0.x, max(e0.y, e0.z)), params.nz > 1u);
        for (var m = 0u; m < axes; m++) {
            if e0[m] < largest * (1.0 - tolerance) {
                continue;
            }
            let a = (m + 1u) % 3u;
            let b = (m + 2u) % 3u;
            // Footprint of the square |c_a - j_a| < 1, |c_b - j_b| < 1 in plane j_m (a one-slice
            // axis spans ±0.5).
            var lo = vec2<f32>(1e30, 1e30);
            var hi = vec2<f32>(-1e30, -1e30);
            var behind = false;
            for (var corner = 0u; corner < 4u; corner++) {
                var pos = vec3<f32>(j);
                let sa = select(-1.0, 1.0, (corner & 1u) != 0u) * select(1.0, 0.5, n[a] == 1u);
                let sb = select(-1.0, 1.0, (corner & 2u) != 0u) * select(1.0, 0.5, n[b] == 1u);
                pos[a] += sa;
                pos[b] += sb;
                let d = detector_position(global_view, pos);
                behind = behind || d.z == 0.0;
                lo = min(lo, d.xy);
                hi = max(hi, d.xy);
            }
            var c0 = 0;
            var c1 = i32(params.cols) - 1;
            var r0 = 0;
            var r1 = i32(params.rows) - 1;
            if !behind {
                // Pixels strictly inside the footprint (plus a hair for rounding: a ray on its
                // edge has weight 0).
                c0 = max(c0, i32(ceil(lo.x - 0.01)));
                c1 = min(c1, i32(floor(hi.x + 0.01)));
                r0 = max(r0, i32(ceil(lo.y - 0.01)));
                r1 = min(r1, i32(floor(hi.y + 0.01)));
            }
            for (var row = r0; row <= r1; row++) {
                for (var col = c0; col <= c1; col++) {
                    let r = ray_through(global_view, u32(row), u32(col));
                    if r.main != m {
                        continue;
                    }
                    let em = r.e[m];
                    if em == 0.0 {
                        continue;
                    }
                    let t = (f32(j[m]) - r.q[m]) / em;
                    let ca = r.q[a] + t * r.e[a];
                    let cb = r.q[b] + t * r.e[b];
                    let w = tap_weight(ca, j[a], n[a]) * tap_weight(cb, j[b], n[b]);
                    if w == 0.0 {
                        continue;
                    }
                    let value = projections[(view * params.rows + u32(row)) * params.cols + u32(col)];
                    acc += (1.0 / abs(em)) * w * value;
                }
            }
        }
    }
    let i = slab_index(params.slab, params.nx, params.ny, u32(x), u32(y), u32(z));
    volume[i] += acc;
}
