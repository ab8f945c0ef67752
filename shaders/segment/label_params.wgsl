// Parameters of the labelling kernels (twin of LabelParams in src/segment/label_gpu.rs).
// One slab of nz slices (the whole volume when it fits one binding); indices are the slab's.
struct Params {
    nx: u32,
    ny: u32,
    nz: u32,
    // Voxels of the slab.
    n: u32,
    // Blocks of LABEL_BLOCK voxels (flatten, number).
    blocks: u32,
    // Backward neighbours in `steps`.
    neighbours: u32,
    // Element offset of the slab's first voxel in the bound mask window.
    mask_offset: u32,
    _pad: u32,
    // (dx, dy, dz, flat offset) of each backward neighbour: the structure's points before its
    // centre in C order.
    steps: array<vec4<i32>, 13>,
}

@group(0) @binding(0) var<uniform> params: Params;
