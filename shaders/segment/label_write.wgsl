// Labelling, step 5, in place: every voxel's entry becomes its label — a root's is its block's
// first label (from the scan) plus its rank (step 3 stored it flagged with LABEL_NUMBERED), any
// other voxel's is its root's (after step 3 its entry names its root, whose entry holds the
// rank, flagged, or already the label, written plain by the root's own invocation), background
// 0. Each invocation reads its own entry before it writes it, and writes no other.
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@group(0) @binding(2) var<storage, read> counts: array<u32>;

// The label of root `root` whose entry holds its flagged rank.
fn ranked_label(root: u32, entry: u32) -> u32 {
    return counts[root / LABEL_BLOCK] + (entry & ~LABEL_NUMBERED) + 1u;
}

@compute @workgroup_size(WORKGROUP)
fn write_labels(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= params.n) {
        return;
    }
    let p = atomicLoad(&parent[i]);
    var label = 0u;
    if (p != LABEL_BACKGROUND) {
        if ((p & LABEL_NUMBERED) != 0u) {
            label = ranked_label(i, p);
        } else {
            let q = atomicLoad(&parent[p]);
            label = select(q, ranked_label(p, q), (q & LABEL_NUMBERED) != 0u);
        }
    }
    atomicStore(&parent[i], label);
}
