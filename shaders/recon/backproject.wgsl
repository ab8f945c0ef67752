// Voxel-driven back-projection of one batch of views into one z-slab of the volume (twin of
// accumulate_line in src/recon/backproject.rs). Each invocation owns ZPT voxels along z of one
// (x, y) column: the view's matrix is read once per view for all of them, and neighbouring
// invocations along x read neighbouring detector columns (coalesced).
//
// matrices: 4 vec4 per view: rows U, V, W over (x, y, z, 1) voxel indices, then
// (view weight, 0, 0, 0). Column U/W, row V/W (flat, parallel); column atan2(U, W) * arc_scale
// + arc_centre and row V / hypot(U, W) + arc_centre_row for arcs (cylinders). Distance weight
// 1/W² (flat), 1/(U² + W²) (arc).

struct Params {
    // The output slab (common/volume_slab.wgsl).
    slab: VolumeSlab,
    nx: u32,
    ny: u32,
    cols: u32,
    rows: u32,
    // Views in this batch and the first one's index in `matrices`.
    views: u32,
    first_view: u32,
    arc: u32,
    arc_scale: f32,
    arc_centre: f32,
    arc_centre_row: f32,
    // Voxels with (x - cx)² + (y - cy)² > r2 are set to 0 (r2 < 0: no mask).
    mask_cx: f32,
    mask_cy: f32,
    mask_r2: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> matrices: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> projections: array<f32>;
@group(0) @binding(3) var<storage, read_write> volume: array<f32>;

@compute @workgroup_size(16, 16, 1)
fn backproject(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    let zs = gid.z * ZPT;
    let nz = params.slab.z1 - params.slab.z0;
    if x >= params.nx || y >= params.ny || zs >= nz {
        return;
    }
    var acc = array<f32, ZPT>();
    let pos = vec4<f32>(f32(x), f32(y), f32(params.slab.z0 + zs), 1.0);
    for (var v = 0u; v < params.views; v++) {
        let m = (params.first_view + v) * 4u;
        let mu = matrices[m];
        let mv = matrices[m + 1u];
        let mw = matrices[m + 2u];
        let weight = matrices[m + 3u].x;
        var u = dot(mu, pos);
        var r = dot(mv, pos);
        var w = dot(mw, pos);
        for (var t = 0u; t < ZPT; t++) {
            var col: f32;
            var row: f32;
            var dist: f32;
            if params.arc != 0u {
                col = precise_atan2(u, w) * params.arc_scale + params.arc_centre;
                dist = 1.0 / (u * u + w * w);
                row = r * sqrt(dist) + params.arc_centre_row;
            } else {
                col = u / w;
                row = r / w;
                dist = 1.0 / (w * w);
            }
            acc[t] += weight * dist * sample(v, col, row);
            u += mu.z;
            r += mv.z;
            w += mw.z;
        }
    }
    let dx = f32(x) - params.mask_cx;
    let dy = f32(y) - params.mask_cy;
    let outside = params.mask_r2 >= 0.0 && dx * dx + dy * dy > params.mask_r2;
    for (var t = 0u; t < ZPT; t++) {
        if zs + t < nz {
            let i = slab_index(params.slab, params.nx, params.ny, x, y, params.slab.z0 + zs + t);
            volume[i] = select(volume[i] + acc[t], 0.0, outside);
        }
    }
}
