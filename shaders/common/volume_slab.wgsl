// The z-slab of a volume one projector or back-projector dispatch works on (twin of
// VolumeSlabParams in src/gpu/tiling.rs, made by for_each_volume_slab): slices [z0, z1) are
// this dispatch's; the bound volume window starts at slice z0, whose first element is at
// `offset` (a window may hold slices past z1 that a kernel only reads).
struct VolumeSlab {
    z0: u32,
    z1: u32,
    offset: u32,
    _pad: u32,
}

// Element of voxel (x, y, z) of an nx × ny volume (z global, inside the bound window).
fn slab_index(s: VolumeSlab, nx: u32, ny: u32, x: u32, y: u32, z: u32) -> u32 {
    return s.offset + ((z - s.z0) * ny + y) * nx + x;
}
