// Labelling, step 6: every other voxel takes its root's label (roots were numbered by the
// previous dispatch; this one never writes a root), background 0.
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@group(0) @binding(2) var<storage, read_write> labels: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn write_labels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= params.n) {
        return;
    }
    let p = atomicLoad(&parent[i]);
    if (p == LABEL_BACKGROUND) {
        labels[i] = 0u;
    } else if (p != i) {
        labels[i] = labels[p];
    }
}
