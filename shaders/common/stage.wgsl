// Workgroup staging for neighbourhood kernels (STAGE_X×STAGE_Y×STAGE_Z outputs per workgroup,
// declared in Rust: gpu::STAGE_BLOCK): the (X+2rx)×(Y+2ry)×(Z+2rz) input block a workgroup
// reads is loaded once into workgroup memory, x contiguous across threads, extended by the
// boundary mode; radius ≤ STAGE_RADIUS on every axis.
// The kernel declares `src` (its input binding) and `tile` (the Tile uniform), and calls
// `stage` from uniform control flow followed by workgroupBarrier().
// Prepended before this: common/boundary.wgsl, common/tile.wgsl.

const TX: u32 = STAGE_X;
const TY: u32 = STAGE_Y;
const TZ: u32 = STAGE_Z;
// The largest block: (8 + 6) * (8 + 6) * (4 + 6) = 1960 values (7.7 KiB) for radius 3.
const SHARED: u32 = (TX + 2u * STAGE_RADIUS) * (TY + 2u * STAGE_RADIUS) * (TZ + 2u * STAGE_RADIUS);

var<workgroup> cache: array<f32, SHARED>;

// Input voxel (z, y, x) in global coordinates, extended by the boundary mode.
fn fetch(z: i32, y: i32, x: i32, mode: u32, cval: f32) -> f32 {
    let mz = map_index(z, tile.z_lo, tile.z_hi, mode);
    let my = map_index(y, 0, i32(tile.ny), mode);
    let mx = map_index(x, 0, i32(tile.nx), mode);
    if (mz == OUTSIDE || my == OUTSIDE || mx == OUTSIDE) {
        return cval;
    }
    return src[tile_in_index(tile, mz, my, mx)];
}

// First output voxel (x, y, z) of workgroup `wid`, in global coordinates.
fn block_origin(wid: vec3<u32>) -> vec3<i32> {
    return vec3<i32>(i32(wid.x * TX), i32(wid.y * TY), i32(wid.z * TZ + tile.out_z0));
}

// Loads the block around `origin` with radius r = (rx, ry, rz) into `cache`.
fn stage(li: u32, origin: vec3<i32>, r: vec3<i32>, mode: u32, cval: f32) {
    let sx = i32(TX) + 2 * r.x;
    let sy = i32(TY) + 2 * r.y;
    let sz = i32(TZ) + 2 * r.z;
    let total = u32(sx * sy * sz);
    for (var i = li; i < total; i += TX * TY * TZ) {
        let tx = i32(i) % sx;
        let ty = (i32(i) / sx) % sy;
        let tz = i32(i) / (sx * sy);
        cache[i] = fetch(origin.z + tz - r.z, origin.y + ty - r.y, origin.x + tx - r.x, mode, cval);
    }
}

// The staged value at offset (dx, dy, dz) from local voxel `lid`.
fn staged(lid: vec3<u32>, d: vec3<i32>, r: vec3<i32>) -> f32 {
    let sx = i32(TX) + 2 * r.x;
    let sy = i32(TY) + 2 * r.y;
    let c = ((i32(lid.z) + d.z + r.z) * sy + i32(lid.y) + d.y + r.y) * sx + i32(lid.x) + d.x + r.x;
    return cache[u32(c)];
}

// Whether voxel `lid` of the block is inside the output slab.
fn in_output(origin: vec3<i32>, lid: vec3<u32>) -> bool {
    let p = origin + vec3<i32>(lid);
    return p.x < i32(tile.nx) && p.y < i32(tile.ny) && p.z < i32(tile.out_z0 + tile.out_nz);
}

// Element of output voxel `lid` of the block in the output window.
fn out_index(origin: vec3<i32>, lid: vec3<u32>) -> u32 {
    let p = origin + vec3<i32>(lid);
    return tile.out_offset + (u32(p.z) - tile.out_z0) * tile.ny * tile.nx + u32(p.y) * tile.nx + u32(p.x);
}
