// Labelling, step 5: the roots get their labels 1, 2, … in raster order: a block's first label
// (from the scan) plus the roots before them in the block, stored in place of the root's
// parent with LABEL_NUMBERED set (a root is its own parent only until here; only its block's
// workgroup reads or writes it).
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl, label_workgroup_sum.wgsl.

@group(0) @binding(2) var<storage, read> counts: array<u32>;

const PER_THREAD: u32 = LABEL_BLOCK / LABEL_THREADS;

@compute @workgroup_size(LABEL_THREADS)
fn number(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let block = wid.x + wid.y * groups.x;
    // Each invocation owns PER_THREAD consecutive voxels, so ranks follow raster order.
    let base = block * LABEL_BLOCK + lid * PER_THREAD;
    var flags = 0u;
    var mine = 0u;
    if (block < params.blocks) {
        for (var k = 0u; k < PER_THREAD; k += 1u) {
            let i = base + k;
            if (i < params.n && atomicLoad(&parent[i]) == i) {
                flags |= 1u << k;
                mine += 1u;
            }
        }
    }
    let inclusive = workgroup_inclusive_sum(lid, mine);
    if (block < params.blocks) {
        var next = counts[block] + inclusive - mine + 1u;
        for (var k = 0u; k < PER_THREAD; k += 1u) {
            if ((flags & (1u << k)) != 0u) {
                atomicStore(&parent[base + k], next | LABEL_NUMBERED);
                next += 1u;
            }
        }
    }
}
