// One step of hole filling (twin of fill_holes.rs): background voxels connected to the border
// (through faces: connectivity 1) are "reached"; a step extends the reached set by one voxel
// and counts the voxels it added in `changed`, so the host knows when it has converged.
// Prepended: common/boundary.wgsl, common/tile.wgsl.

struct Params {
    three_d: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> mask: array<f32>;
@group(0) @binding(3) var<storage, read> reached: array<f32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;
@group(0) @binding(5) var<storage, read_write> changed: atomic<u32>;

// Whether the neighbour at (z, y, x) is reached; outside the volume it is not.
fn reached_at(z: i32, y: i32, x: i32) -> bool {
    if (x < 0 || y < 0 || x >= i32(tile.nx) || y >= i32(tile.ny) || z < 0 || z >= i32(tile.nz)) {
        return false;
    }
    return reached[tile_in_index(tile, z, y, x)] > 0.5;
}

@compute @workgroup_size(WORKGROUP)
fn fill_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= tile.out_nz * tile.ny * tile.nx) {
        return;
    }
    let voxel = slab_voxel(tile, i);
    let x = voxel.x;
    let y = voxel.y;
    let z = voxel.z;
    let at = tile_in_index(tile, z, y, x);
    var out = 0.0;
    if (mask[at] < 0.5) {
        let was = reached[at] > 0.5;
        var border = x == 0 || y == 0 || x == i32(tile.nx) - 1 || y == i32(tile.ny) - 1;
        var near = reached_at(z, y, x - 1) || reached_at(z, y, x + 1) || reached_at(z, y - 1, x) || reached_at(z, y + 1, x);
        if (params.three_d == 1u) {
            border = border || z == 0 || z == i32(tile.nz) - 1;
            near = near || reached_at(z - 1, y, x) || reached_at(z + 1, y, x);
        }
        if (was || border || near) {
            out = 1.0;
            if (!was) {
                atomicAdd(&changed, 1u);
            }
        }
    }
    dst[tile.out_offset + i] = out;
}
