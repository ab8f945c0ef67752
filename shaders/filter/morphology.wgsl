// Grey-level erosion (min) and dilation (max) with flat structuring elements (twin of the CPU
// path in morphology.rs). Prepended: common/boundary.wgsl, common/tile.wgsl, common/stage.wgsl.
//
// extreme_axis: one separable pass over a box, min or max of 2r+1 voxels along `params.axis`.
// extreme_footprint: any footprint given as rows (dz, dy, half-width along x), e.g. a ball;
// staged in workgroup memory when its radius is at most 3.

struct Params {
    axis: u32,
    radius: u32,
    is_max: u32,
    mode: u32,
    cval: f32,
    rows: u32,
    use_cache: u32,
    footprint_radius: u32,
    // 1: combine with what dst holds (a later part of a footprint split into parts).
    resume: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> rows: array<vec4<i32>>;
@group(0) @binding(3) var<storage, read> src: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

fn combine(a: f32, b: f32) -> f32 {
    return select(min(a, b), max(a, b), params.is_max == 1u);
}

@compute @workgroup_size(WORKGROUP)
fn extreme_axis(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let voxel = slab_voxel(tile, i);
    let x = voxel.x;
    let y = voxel.y;
    let z = voxel.z;
    let r = i32(params.radius);
    var acc = fetch(z, y, x, params.mode, params.cval);
    for (var d = -r; d <= r; d++) {
        var v: f32;
        switch params.axis {
            case 0u: {
                v = fetch(z + d, y, x, params.mode, params.cval);
            }
            case 1u: {
                v = fetch(z, y + d, x, params.mode, params.cval);
            }
            default: {
                v = fetch(z, y, x + d, params.mode, params.cval);
            }
        }
        acc = combine(acc, v);
    }
    // Both entry points share one bind group layout (bindings 0..4); touch `rows` so that the
    // layout derived from this entry point keeps it. `rows` is never that long.
    if (params.rows > 0x7fffffffu) {
        acc = f32(rows[0].x);
    }
    dst[tile.out_offset + i] = acc;
}

@compute @workgroup_size(STAGE_X, STAGE_Y, STAGE_Z)
fn extreme_footprint(
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
) {
    let fr = i32(params.footprint_radius);
    let r = vec3<i32>(fr, fr, fr);
    let origin = block_origin(wid);
    if (params.use_cache == 1u) {
        stage(li, origin, r, params.mode, params.cval);
    }
    workgroupBarrier();
    if (!in_output(origin, lid)) {
        return;
    }
    let p = origin + vec3<i32>(lid);
    var acc = select(bitcast<f32>(0x7f800000u), -bitcast<f32>(0x7f800000u), params.is_max == 1u);
    if (params.resume == 1u) {
        acc = dst[out_index(origin, lid)];
    }
    for (var k = 0u; k < params.rows; k++) {
        let row = rows[k];
        for (var dx = -row.z; dx <= row.z; dx++) {
            var v: f32;
            if (params.use_cache == 1u) {
                v = staged(lid, vec3<i32>(dx, row.y, row.x), r);
            } else {
                v = fetch(p.z + row.x, p.y + row.y, p.x + dx, params.mode, params.cval);
            }
            acc = combine(acc, v);
        }
    }
    dst[out_index(origin, lid)] = acc;
}
