// Labelling, step 1: every foreground voxel (non-zero or NaN in the f32 mask) is its own root.
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@group(0) @binding(2) var<storage, read> mask: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn init(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= params.n) {
        return;
    }
    // `v != 0.0` is true for NaN; compare through bits so GL's float rules cannot differ.
    let bits = bitcast<u32>(mask[params.mask_offset + i]) & 0x7fffffffu;
    atomicStore(&parent[i], select(LABEL_BACKGROUND, i, bits != 0u));
}
