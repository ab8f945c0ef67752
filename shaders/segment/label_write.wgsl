// Labelling, step 6, in place: every voxel's parent becomes its label — a root's is its number
// (step 5 stored it with LABEL_NUMBERED), any other voxel's is its root's number (after step 3
// its parent is its root, whose entry holds the number, flagged or already written plain by the
// root's own invocation: the same number either way), background 0. Each invocation reads its
// own entry before it writes it, and writes no other.
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@compute @workgroup_size(WORKGROUP)
fn write_labels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= params.n) {
        return;
    }
    let p = atomicLoad(&parent[i]);
    var label = 0u;
    if (p != LABEL_BACKGROUND) {
        var numbered = p;
        if ((p & LABEL_NUMBERED) == 0u) {
            numbered = atomicLoad(&parent[p]);
        }
        label = numbered & ~LABEL_NUMBERED;
    }
    atomicStore(&parent[i], label);
}
