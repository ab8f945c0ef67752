// The slab a tiled kernel works on (twin of TileParams in src/gpu/tiling.rs).
// The runtime binds a window of each input and of the output; indices below are relative to
// those windows. Along x and y the kernel always sees the whole volume; along z it sees the
// slices in_z_first.. of the input and writes out_z0..out_z0+out_nz. Boundary handling along
// z uses the domain z_lo..z_hi (the volume, or a padded tile whose halo the runtime filled).
struct Tile {
    nx: u32,
    ny: u32,
    nz: u32,
    out_z0: u32,
    out_nz: u32,
    out_offset: u32,
    in_z_first: i32,
    in_offset: u32,
    z_lo: i32,
    z_hi: i32,
    _pad0: u32,
    _pad1: u32,
}

// Linear invocation index over a dispatch folded into 2D (see Recorder::dispatch_linear).
fn linear_invocation(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * WORKGROUP;
}

// Global voxel (x, y, z) of output element i of the slab (one invocation per output voxel).
fn slab_voxel(t: Tile, i: u32) -> vec3<i32> {
    let rest = i / t.nx;
    return vec3<i32>(i32(i % t.nx), i32(rest % t.ny), i32(rest / t.ny + t.out_z0));
}

// Element index of global voxel (z, y, x) in the bound input window.
fn tile_in_index(t: Tile, z: i32, y: i32, x: i32) -> u32 {
    return t.in_offset + (u32(z - t.in_z_first) * t.ny + u32(y)) * t.nx + u32(x);
}

// The slab of a kernel whose input and output differ in shape (twin of MappingParams in
// src/gpu/tiling.rs): the bound input window holds input slices in_z_first.., the output
// window output slices out_z0..out_z0+out_nz of an output of out_nx × out_ny × out_nz_total.
struct Mapping {
    in_nx: u32,
    in_ny: u32,
    in_nz: u32,
    in_z_first: u32,
    in_z_count: u32,
    in_offset: u32,
    out_nx: u32,
    out_ny: u32,
    out_nz_total: u32,
    out_z0: u32,
    out_nz: u32,
    out_offset: u32,
}

// Element of input voxel (z, y, x) (global coordinates, z inside the window).
fn mapped_in_index(m: Mapping, z: u32, y: u32, x: u32) -> u32 {
    return m.in_offset + ((z - m.in_z_first) * m.in_ny + y) * m.in_nx + x;
}
