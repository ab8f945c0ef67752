// Distance transform on the GPU, first pass (twin of the axis-0 scans of src/segment/edt.rs):
// per (y, x) column, the distance along z to the nearest background voxel, squared and scaled.
// One invocation per column (neighbouring invocations read neighbouring voxels); slabs of z run
// one dispatch each, the last background slice seen so far carried between them in `carry`
// (forward: slabs first to last; backward: last to first).
// Prepended: common/tile.wgsl (linear_invocation).

struct Params {
    nx: u32,
    ny: u32,
    // Slices of this slab, its first global slice, and the volume's slices.
    nz: u32,
    z0: u32,
    nz_total: u32,
    // Element offsets of the slab in the bound mask and distance windows.
    mask_offset: u32,
    out_offset: u32,
    // Spacing along z.
    spacing: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> dist: array<f32>;
@group(0) @binding(2) var<storage, read_write> carry: array<i32>;
// Last, so that the backward scan (which reads no mask) binds just the first three.
@group(0) @binding(3) var<storage, read> mask: array<f32>;

fn is_background(i: u32) -> bool {
    // Zero (either sign) is background; NaN and every other value are foreground.
    return (bitcast<u32>(mask[params.mask_offset + i]) & 0x7fffffffu) == 0u;
}

// Forward: the distance to the last background voxel at or before each slice.
fn scan_forward(c: u32, plane: u32) {
    // The first slab starts with no background seen; later ones carry the previous slab's.
    var last = select(carry[c], -EDT_FAR, params.z0 == 0u);
    for (var z = 0u; z < params.nz; z += 1u) {
        let i = z * plane + c;
        let global = i32(params.z0 + z);
        if (is_background(i)) {
            last = global;
        }
        dist[params.out_offset + i] = f32(min(global - last, EDT_FAR));
    }
    carry[c] = last;
}

@compute @workgroup_size(WORKGROUP)
fn columns_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_invocation(gid, groups);
    let plane = params.nx * params.ny;
    if (c < plane) {
        scan_forward(c, plane);
    }
}

// Both scans of a column in one invocation, for a volume that is one slab (the backward scan
// needs no other column's forward result, only the whole column's): one pass over the volume's
// windows instead of two.
@compute @workgroup_size(WORKGROUP)
fn columns_both(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_invocation(gid, groups);
    let plane = params.nx * params.ny;
    if (c < plane) {
        scan_forward(c, plane);
        scan_backward(c, plane);
    }
}

@compute @workgroup_size(WORKGROUP)
fn columns_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_invocation(gid, groups);
    let plane = params.nx * params.ny;
    if (c < plane) {
        scan_backward(c, plane);
    }
}

// Backward: the nearer of that and the next background voxel after, squared and scaled;
// EDT_NONE where the column has no background at all. The background is where the forward
// distance is 0, so this scan reads no mask (the slab-by-slab dispatch does not bind it).
fn scan_backward(c: u32, plane: u32) {
    var next = select(carry[c], EDT_FAR, params.z0 + params.nz == params.nz_total);
    for (var k = 0u; k < params.nz; k += 1u) {
        let z = params.nz - 1u - k;
        let i = z * plane + c;
        let global = i32(params.z0 + z);
        let forward = dist[params.out_offset + i];
        if (forward == 0.0) {
            next = global;
        }
        let d = min(forward, f32(min(next - global, EDT_FAR)));
        let t = d * params.spacing;
        dist[params.out_offset + i] = select(t * t, EDT_NONE, d > f32(params.nz_total));
    }
    carry[c] = next;
}
