// The voxel-driven projector pair on the GPU, shared by the forward splat and its transpose
// (twin of VoxelDriven::taps in src/recon/voxel_driven.rs): a voxel centre is projected onto
// the detector by its view's matrix and meets four pixels (two on a one-row detector) with
// bilinear weights, times the voxel's footprint scale. Both kernels call `taps`, so the pair is
// adjoint to rounding.

struct Params {
    // The volume slab of this dispatch (common/volume_slab.wgsl).
    slab: VolumeSlab,
    nx: u32,
    ny: u32,
    cols: u32,
    rows: u32,
    // Views of this batch and the first one's index in `views`.
    views: u32,
    first_view: u32,
    // BEAM_PARALLEL, BEAM_FLAT or BEAM_ARC.
    beam: u32,
    // 1 for a one-row detector (2D geometry: the volume is one slice).
    two_d: u32,
    arc_scale: f32,
    arc_centre: f32,
    centre_col: f32,
    centre_row: f32,
    // The first of this dispatch's views in the bound projections (loop-limited adapters split
    // a batch's views over several dispatches).
    batch_first: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Per view: rows U, V, W of the projection matrix over (x, y, z, 1) voxel indices, then
// (k, sdd, du, dv): the footprint constant, source–detector distance and pixel size, mm.
struct ViewTable {
    mu: vec4<f32>,
    mv: vec4<f32>,
    mw: vec4<f32>,
    footprint: vec4<f32>,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> views: array<ViewTable>;

// Where a voxel meets one view: pixel indices (c0, c1, r0, r1), weights (fc, fr) and scale.
struct Taps {
    hit: bool,
    c0: u32,
    c1: u32,
    r0: u32,
    r1: u32,
    fc: f32,
    fr: f32,
    scale: f32,
}

// (column, row) of a point from its (U, V, W), W > 0 (twin of VoxelDriven::position).
fn detector_position(u: f32, v: f32, w: f32) -> vec2<f32> {
    if params.beam == BEAM_ARC {
        // A cylinder about the source: the angle across, the height where the ray meets it
        // (the matrix's V is in rows over SID; a one-row detector has V = 0).
        return vec2<f32>(
            precise_atan2(u, w) * params.arc_scale + params.arc_centre,
            select(v / sqrt(u * u + w * w) + params.centre_row, 0.0, params.two_d != 0u),
        );
    }
    return vec2<f32>(u / w, v / w);
}

// The footprint scale of a voxel centred at (U, ., W) landing at (col, row) (twin of
// VoxelDriven::scale): its measure over the pixel's ray-bundle cross-section there.
fn point_scale(f: vec4<f32>, u: f32, w: f32, col: f32, row: f32) -> f32 {
    if params.beam == BEAM_PARALLEL {
        return f.x;
    }
    if params.beam == BEAM_ARC {
        if params.two_d != 0u {
            return f.x / sqrt(u * u + w * w);
        }
        let dv = (row - params.centre_row) * f.w;
        return f.x * sqrt(f.y * f.y + dv * dv) / (u * u + w * w);
    }
    let du = (col - params.centre_col) * f.z;
    if params.two_d != 0u {
        return f.x * sqrt(f.y * f.y + du * du) / w;
    }
    let dv = (row - params.centre_row) * f.w;
    return f.x * sqrt(f.y * f.y + du * du + dv * dv) / (w * w);
}

fn taps(view: u32, x: u32, y: u32, z: u32) -> Taps {
    var t: Taps;
    t.hit = false;
    let table = views[view];
    let pos = vec4<f32>(f32(x), f32(y), f32(z), 1.0);
    let u = dot(table.mu, pos);
    let v = dot(table.mv, pos);
    let w = dot(table.mw, pos);
    if !(w > 0.0) {
        return t;
    }
    let at = detector_position(u, v, w);
    let col = at.x;
    let row = at.y;
    let last_col = f32(params.cols - 1u);
    let last_row = f32(params.rows - 1u);
    if !(col >= 0.0 && col <= last_col && row >= 0.0 && row <= last_row) {
        return t;
    }
    t.c0 = min(u32(col), params.cols - 1u);
    t.r0 = min(u32(row), params.rows - 1u);
    t.c1 = min(t.c0 + 1u, params.cols - 1u);
    t.r1 = min(t.r0 + 1u, params.rows - 1u);
    t.fc = col - f32(t.c0);
    t.fr = row - f32(t.r0);
    t.scale = point_scale(table.footprint, u, w, col, row);
    t.hit = true;
    return t;
}
