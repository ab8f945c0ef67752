// Filling holes, step 1: every background voxel of the mask (±0.0; NaN counts as foreground, as
// `v != 0`) is its own root, so the labelling's merge links the background components.
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@group(0) @binding(2) var<storage, read> mask: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn init_background(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.n {
        return;
    }
    let bits = bitcast<u32>(mask[i]) & 0x7fffffffu;
    atomicStore(&parent[i], select(LABEL_BACKGROUND, i, bits == 0u));
}
