// The exact transpose of joseph_forward.wgsl as a gather: one invocation per column of up to
// COLUMN voxels along z, adding for every view of the batch the rays that tap them. For a
// candidate main axis m, the rays that tap voxel j do so in plane j_m within one voxel of j
// along the other two axes; the detector pixels they come from lie in the footprint of that
// square, found with the view's projection matrix. Each candidate ray is rebuilt exactly as the
// forward kernel builds it (prepended: joseph_common.wgsl), so the pair is adjoint to rounding.
//
// Main axis x or y (most rays of a circular scan; `backward`): the column's voxels share plane
// j_m, so one footprint (of the column's rectangle) serves them all and each ray is evaluated
// once, adding to the two voxels its z taps reach. Main axis z (`backward_steep`, dispatched
// only where the geometry has such rays): voxel by voxel. Vectors are permuted so that
// the main axis is .x instead of indexed dynamically (which compilers may spill to memory), the
// candidate axes are one loop over a bit set (one call site, however many axes), and the rare
// steep rays have their own entry point, so the common kernel carries no code for them.

@group(0) @binding(2) var<storage, read> matrices: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> projections: array<f32>;
@group(0) @binding(4) var<storage, read_write> volume: array<f32>;

// COLUMN, the voxels per invocation along z, is emitted from Rust; it is the 8 lanes of the two
// vec4 accumulators below.

// Accumulators of a column: lanes 0-3 and 4-7.
struct Column {
    lo: vec4<f32>,
    hi: vec4<f32>,
}

// (v_m, v_a, v_b) with a = m + 1, b = m + 2 (mod 3).
fn permute_f(v: vec3<f32>, m: u32) -> vec3<f32> {
    switch m {
        case 0u: { return v.xyz; }
        case 1u: { return v.yzx; }
        default: { return v.zxy; }
    }
}

// Lane k of a vec4 accumulator as a vector (zero outside 0..4).
fn lane(k: i32) -> vec4<f32> {
    return vec4<f32>(vec4<i32>(k) == vec4<i32>(0, 1, 2, 3));
}

// Detector (column, row) of homogeneous detector coordinates h = M · (position, 1); z = 0
// flags a point behind the source.
fn detector_of(view: u32, h: vec3<f32>) -> vec3<f32> {
    if BEAM == BEAM_ARC {
        // Arc (cylinder): the matrix holds (across, height in rows, along) over SID; arc_scale,
        // centre column and centre row in matrix row 3.
        let arc = matrices[view * 4u + 3u];
        return vec3<f32>(precise_atan2(h.x, h.z) * arc.y + arc.z, h.y / sqrt(h.x * h.x + h.z * h.z) + arc.w, 1.0);
    }
    if h.z <= 0.0 {
        return vec3<f32>(0.0, 0.0, 0.0);
    }
    return vec3<f32>(h.x / h.z, h.y / h.z, 1.0);
}

// Pixel ranges (c0, c1, r0, r1) strictly inside the footprint of the four points h + s·u + t·w,
// s, t ∈ {lo, hi} (plus a hair for rounding: a ray on the edge has weight 0); the whole
// detector when a point is behind the source.
fn footprint(view: u32, h: vec3<f32>, u: vec3<f32>, w: vec3<f32>, lo: vec2<f32>, hi: vec2<f32>) -> vec4<i32> {
    let d0 = detector_of(view, h + lo.x * u + lo.y * w);
    let d1 = detector_of(view, h + hi.x * u + lo.y * w);
    let d2 = detector_of(view, h + lo.x * u + hi.y * w);
    let d3 = detector_of(view, h + hi.x * u + hi.y * w);
    var range = vec4<i32>(0, i32(params.cols) - 1, 0, i32(params.rows) - 1);
    if d0.z * d1.z * d2.z * d3.z != 0.0 {
        let a = min(min(d0.xy, d1.xy), min(d2.xy, d3.xy));
        let b = max(max(d0.xy, d1.xy), max(d2.xy, d3.xy));
        range.x = max(range.x, i32(clamp(ceil(a.x - 0.01), -1.0, f32(params.cols))));
        range.y = min(range.y, i32(clamp(floor(b.x + 0.01), -1.0, f32(params.cols))));
        range.z = max(range.z, i32(clamp(ceil(a.y - 0.01), -1.0, f32(params.rows))));
        range.w = min(range.w, i32(clamp(floor(b.y + 0.01), -1.0, f32(params.rows))));
    }
    return range;
}

fn value_at(batch_view: u32, row: i32, col: i32) -> f32 {
    return projections[((params.batch_first + batch_view) * params.rows + u32(row)) * params.cols + u32(col)];
}

// One voxel, any main axis m (permuted: jp = (j_m, j_a, j_b)); `h` = M · (j, 1), ca and cb the
// matrix columns of axes a and b.
fn gather_voxel(view: u32, batch_view: u32, m: u32, jp: vec3<i32>, np: vec3<u32>, h: vec3<f32>, ca: vec3<f32>,
                cb: vec3<f32>) -> f32 {
    // One-slice axes span ±0.5.
    let ha = select(1.0, 0.5, np.y == 1u);
    let hb = select(1.0, 0.5, np.z == 1u);
    let range = footprint(view, h, ca, cb, vec2<f32>(-ha, -hb), vec2<f32>(ha, hb));
    // Loaded once, not per candidate: a per-candidate load of the view's vectors cost the
    // gather a third of its time on lavapipe.
    let vectors = view_vectors[view];
    var acc = 0.0;
    for (var row = range.z; row <= range.w; row++) {
        for (var col = range.x; col <= range.y; col++) {
            let r = ray_of(vectors, u32(row), u32(col));
            let e = permute_f(r.e, m);
            if r.main != m || e.x == 0.0 {
                continue;
            }
            let q = permute_f(r.q, m);
            let inv = 1.0 / e.x;
            let t = (f32(jp.x) - q.x) * inv;
            let w = tap_weight(q.y + t * e.y, jp.y, np.y) * tap_weight(q.z + t * e.z, jp.z, np.z);
            if w != 0.0 {
                acc += abs(inv) * w * value_at(batch_view, row, col);
            }
        }
    }
    return acc;
}

// The column (x, y, z0 .. z0 + count) for main axis m ∈ {x, y}: s is the other in-plane axis
// (y for m = x, x for m = y); `h` = M · (x, y, z0, 1); cs, cz the matrix columns of s and z.
fn gather_column(view: u32, batch_view: u32, m: u32, j: vec3<i32>, count: u32, h: vec3<f32>, cs: vec3<f32>,
                 cz: vec3<f32>) -> Column {
    let n = vec3<u32>(params.nx, params.ny, params.nz);
    let ns = select(n.x, n.y, m == 0u);
    let js = select(j.x, j.y, m == 0u);
    let hs = select(1.0, 0.5, ns == 1u);
    // Along z: one voxel beyond each end (a one-slice volume spans ±0.5).
    var zlo = -1.0;
    var zhi = f32(count);
    if n.z == 1u {
        zlo = -0.5;
        zhi = 0.5;
    }
    let range = footprint(view, h, cs, cz, vec2<f32>(-hs, zlo), vec2<f32>(hs, zhi));
    let vectors = view_vectors[view];
    // The slices of the column's lanes (see gather_voxel for the vectors).
    let z_lo = f32(j.z) + vec4<f32>(0.0, 1.0, 2.0, 3.0);
    let z_hi = z_lo + 4.0;
    var acc = Column(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var row = range.z; row <= range.w; row++) {
        for (var col = range.x; col <= range.y; col++) {
            let r = ray_of(vectors, u32(row), u32(col));
            let e = permute_f(r.e, m);
            if r.main != m || e.x == 0.0 {
                continue;
            }
            let q = permute_f(r.q, m);
            let inv = 1.0 / e.x;
            let t = (f32(select(j.y, j.x, m == 0u)) - q.x) * inv;
            // Permuted (m, a, b): z is b for m = x and a for m = y.
            let c_s = select(q.z + t * e.z, q.y + t * e.y, m == 0u);
            let c_z = select(q.y + t * e.y, q.z + t * e.z, m == 0u);
            // tap_weight as a hat (one slice: its own rule), as along z below.
            var ws = max(0.0, 1.0 - abs(c_s - f32(js)));
            if ns == 1u {
                ws = tap_weight(c_s, js, 1u);
            }
            let w = abs(inv) * ws * value_at(batch_view, row, col);
            if w == 0.0 {
                continue;
            }
            if n.z == 1u {
                acc.lo.x += w * tap_weight(c_z, 0, 1u);
            } else {
                // tap_weight's two taps (1 - f at floor(c), f at floor(c) + 1) as the hat
                // 1 - |c - z| of every lane's slice z, zero beyond one slice: no lane masks.
                acc.lo += w * max(vec4<f32>(0.0), 1.0 - abs(c_z - z_lo));
                acc.hi += w * max(vec4<f32>(0.0), 1.0 - abs(c_z - z_hi));
            }
        }
    }
    return acc;
}

// What one invocation's column shares across the views: its first voxel, size, the views'
// geometry around it.
struct ColumnSetup {
    j: vec3<i32>,
    count: u32,
    centre: vec3<f32>,
    reach: f32,
    anisotropy: f32,
}

fn column_setup(gid: vec3<u32>) -> ColumnSetup {
    var c: ColumnSetup;
    let z0 = gid.z * COLUMN + params.slab.z0;
    c.j = vec3<i32>(i32(gid.x), i32(gid.y), i32(z0));
    c.count = min(COLUMN, params.slab.z1 - min(z0, params.slab.z1));
    let half_column = 0.5 * f32(max(c.count, 1u) - 1u);
    c.centre = params.origin.xyz + vec3<f32>(f32(gid.x), f32(gid.y), f32(z0) + half_column) * params.spacing.xyz;
    // Rays that tap a voxel pass within 2 voxel diagonals of it, so within `reach` of the
    // column's centre; their directions differ from the source–centre direction by at most
    // reach / distance: only axes within that margin of the largest step can be their main
    // axis (parallel beams: exactly one direction, no margin).
    c.reach = 2.0 * length(params.spacing.xyz) + half_column * params.spacing.z;
    c.anisotropy = max(params.spacing.x, max(params.spacing.y, params.spacing.z))
        / min(params.spacing.x, min(params.spacing.y, params.spacing.z));
    return c;
}

// Steps per mm along x, y, z of the source–column direction, and the least step of an axis
// that can be a main axis of the view's rays through the column.
fn candidate_steps(view: u32, c: ColumnSetup) -> vec4<f32> {
    let vectors = view_vectors[view];
    var d0 = vectors.source.xyz;
    var tolerance = 0.0;
    if BEAM != BEAM_PARALLEL {
        d0 = c.centre - vectors.source.xyz;
        tolerance = 4.0 * c.anisotropy * c.reach / length(d0) + 1e-5;
    }
    let e0 = abs(d0 / params.spacing.xyz);
    var largest = max(e0.x, e0.y);
    if params.nz > 1u {
        largest = max(largest, e0.z);
    }
    return vec4<f32>(e0, largest * (1.0 - tolerance));
}

fn add_to_volume(c: ColumnSetup, acc: Column) {
    for (var k = 0u; k < c.count; k++) {
        let i = slab_index(params.slab, params.nx, params.ny, u32(c.j.x), u32(c.j.y), u32(c.j.z) + k);
        volume[i] += dot(acc.lo, lane(i32(k))) + dot(acc.hi, lane(i32(k) - 4));
    }
}

// Rays whose main axis is x or y.
@compute @workgroup_size(8, 8, 1)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = column_setup(gid);
    if gid.x >= params.nx || gid.y >= params.ny || c.count == 0u {
        return;
    }
    let position = vec4<f32>(vec3<f32>(c.j), 1.0);
    var acc = Column(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var view = 0u; view < params.views; view++) {
        let global_view = params.first_view + view;
        let steps = candidate_steps(global_view, c);
        let row0 = matrices[global_view * 4u];
        let row1 = matrices[global_view * 4u + 1u];
        let row2 = matrices[global_view * 4u + 2u];
        let h = vec3<f32>(dot(row0, position), dot(row1, position), dot(row2, position));
        let cx = vec3<f32>(row0.x, row1.x, row2.x);
        let cy = vec3<f32>(row0.y, row1.y, row2.y);
        let cz = vec3<f32>(row0.z, row1.z, row2.z);
        var axes = select(0u, 1u, steps.x >= steps.w) | select(0u, 2u, steps.y >= steps.w);
        while axes != 0u {
            let m = firstTrailingBit(axes);
            axes &= axes - 1u;
            let g = gather_column(global_view, view, m, c.j, c.count, h, select(cx, cy, m == 0u), cz);
            acc.lo += g.lo;
            acc.hi += g.hi;
        }
    }
    add_to_volume(c, acc);
}

// Rays whose main axis is z (steep rays; dispatched only for geometries that have them):
// voxel by voxel, the column sharing the views' set-up.
@compute @workgroup_size(8, 8, 1)
fn backward_steep(@builtin(global_invocation_id) gid: vec3<u32>) {
    let c = column_setup(gid);
    if gid.x >= params.nx || gid.y >= params.ny || c.count == 0u || params.nz == 1u {
        return;
    }
    let position = vec4<f32>(vec3<f32>(c.j), 1.0);
    let n = vec3<u32>(params.nx, params.ny, params.nz);
    var acc = Column(vec4<f32>(0.0), vec4<f32>(0.0));
    for (var view = 0u; view < params.views; view++) {
        let global_view = params.first_view + view;
        let steps = candidate_steps(global_view, c);
        if steps.z < steps.w {
            continue;
        }
        let row0 = matrices[global_view * 4u];
        let row1 = matrices[global_view * 4u + 1u];
        let row2 = matrices[global_view * 4u + 2u];
        let h = vec3<f32>(dot(row0, position), dot(row1, position), dot(row2, position));
        let cx = vec3<f32>(row0.x, row1.x, row2.x);
        let cy = vec3<f32>(row0.y, row1.y, row2.y);
        let cz = vec3<f32>(row0.z, row1.z, row2.z);
        for (var k = 0u; k < c.count; k++) {
            let jk = c.j + vec3<i32>(0, 0, i32(k));
            let g = gather_voxel(global_view, view, 2u, jk.zxy, n.zxy, h + f32(k) * cz, cx, cy);
            acc.lo += g * lane(i32(k));
            acc.hi += g * lane(i32(k) - 4);
        }
    }
    add_to_volume(c, acc);
}
