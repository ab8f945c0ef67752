// Joseph's method on the GPU, shared by the forward projector and its exact transpose (twin
// of Joseph::ray_steps and Joseph::ray_taps in src/recon/joseph/rays.rs). Both kernels build
// every ray and its taps with the functions below, in the same float operations, so the pair
// is adjoint to rounding. BEAM (one of BEAM_CODES) is emitted per compiled variant: branching
// on a uniform would cost every beam's code on adapters that run untaken branches masked.

struct JosephParams {
    // Forward: samples whose owning slice is in [slab.z0, slab.z1) belong to this dispatch (the
    // window holds one more slice). Backward: the output slab.
    slab: VolumeSlab,
    // Whole volume.
    nx: u32,
    ny: u32,
    nz: u32,
    cols: u32,
    rows: u32,
    // Views of this batch and the first one's index in the view tables.
    views: u32,
    first_view: u32,
    // BEAM_PARALLEL, BEAM_FLAT or BEAM_ARC (the kernels use their compiled BEAM).
    beam: u32,
    sdd: f32,
    centre_col: f32,
    centre_row: f32,
    // Backward: the first of this dispatch's views in the bound projections (loop-limited
    // adapters split a batch's views over several dispatches).
    batch_first: u32,
    // Voxel (0, 0, 0) centre and voxel size, (x, y, z) in mm.
    origin: vec4<f32>,
    spacing: vec4<f32>,
}

// Per view: source (ray direction for parallel beams), detector centre, u and v steps (mm).
struct ViewVectors {
    source: vec4<f32>,
    detector: vec4<f32>,
    u: vec4<f32>,
    v: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: JosephParams;
@group(0) @binding(1) var<storage, read> view_vectors: array<ViewVectors>;

// A ray in continuous voxel coordinates: q + t e, with its main axis.
struct Ray {
    q: vec3<f32>,
    e: vec3<f32>,
    main: u32,
}

fn ray_through(view: u32, row: u32, col: u32) -> Ray {
    return ray_of(view_vectors[view], row, col);
}

// The ray of pixel (row, col) of the view whose vectors are `w` (callers that build many rays of
// one view load them once).
fn ray_of(w: ViewVectors, row: u32, col: u32) -> Ray {
    let cu = f32(col) - params.centre_col;
    let cv = f32(row) - params.centre_row;
    var p: vec3<f32>;
    var d: vec3<f32>;
    if BEAM == BEAM_PARALLEL {
        p = w.detector.xyz + cu * w.u.xyz + cv * w.v.xyz;
        d = w.source.xyz;
    } else if BEAM == BEAM_FLAT {
        let pixel = w.detector.xyz + cu * w.u.xyz + cv * w.v.xyz;
        p = w.source.xyz;
        d = normalize(pixel - p);
    } else {
        let gamma = cu * length(w.u.xyz) / params.sdd;
        let central = normalize(w.detector.xyz - w.source.xyz);
        let along = central * (cos(gamma) * params.sdd) + normalize(w.u.xyz) * (sin(gamma) * params.sdd);
        p = w.source.xyz;
        d = normalize(along + cv * w.v.xyz);
    }
    var r: Ray;
    let inv_spacing = 1.0 / params.spacing.xyz;
    r.q = (p - params.origin.xyz) * inv_spacing;
    r.e = d * inv_spacing;
    // Main axis: the largest step in voxels per mm (ties go to the later axis, as on the CPU);
    // a one-slice volume never steps along z.
    let a = abs(r.e);
    var main = 0u;
    if a.y >= a.x {
        main = 1u;
    }
    if params.nz > 1u && a.z >= max(a.x, a.y) {
        main = 2u;
    }
    r.main = main;
    return r;
}

fn axis_len(axis: u32) -> u32 {
    return select(select(params.nz, params.ny, axis == 1u), params.nx, axis == 0u);
}

// Interpolation weight of voxel index j along an axis of n voxels for coordinate c
// (a one-slice axis counts the slice's thickness: weight 1 within ±0.5).
fn tap_weight(c: f32, j: i32, n: u32) -> f32 {
    if n == 1u {
        return select(0.0, 1.0, abs(c) <= 0.5);
    }
    let i0 = floor(c);
    let w = c - i0;
    if j == i32(i0) {
        return 1.0 - w;
    }
    if j == i32(i0) + 1 {
        return w;
    }
    return 0.0;
}
