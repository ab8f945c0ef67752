// Labelling, step 3: every foreground voxel points straight at its root; each block of
// LABEL_BLOCK voxels counts its roots (the components it starts).
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

var<workgroup> roots: atomic<u32>;

@compute @workgroup_size(LABEL_THREADS)
fn flatten(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let block = wid.x + wid.y * groups.x;
    if (lid == 0u) {
        atomicStore(&roots, 0u);
    }
    workgroupBarrier();
    var mine = 0u;
    if (block < params.blocks) {
        // Strided by LABEL_THREADS so neighbouring invocations touch neighbouring voxels.
        for (var k = 0u; k < LABEL_BLOCK / LABEL_THREADS; k += 1u) {
            let i = block * LABEL_BLOCK + k * LABEL_THREADS + lid;
            if (i < params.n && atomicLoad(&parent[i]) != LABEL_BACKGROUND) {
                let r = find_root(i);
                atomicStore(&parent[i], r);
                mine += u32(r == i);
            }
        }
    }
    atomicAdd(&roots, mine);
    workgroupBarrier();
    if (lid == 0u && block < params.blocks) {
        counts[block] = atomicLoad(&roots);
    }
}
