// Labelling, step 3: each block of LABEL_BLOCK voxels finds its roots (the components it
// starts), stores in each root's entry its rank among them (raster order) flagged with
// LABEL_NUMBERED, and counts them; every other foreground voxel points straight at its root.
// Each entry is written by one invocation only, its own: a path-halving store from another
// invocation could put back an ancestor short of the root over a flattened entry, and step 5
// trusts every entry to name its root. (Roots are fixed once step 2 is done: an entry equal to
// its index, or flagged, is a root whenever it is read.)
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl, label_workgroup_sum.wgsl.

@group(0) @binding(2) var<storage, read_write> counts: array<u32>;

const PER_THREAD: u32 = LABEL_BLOCK / LABEL_THREADS;

@compute @workgroup_size(LABEL_THREADS)
fn flatten(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let block = wid.x + wid.y * groups.x;
    let first = block * LABEL_BLOCK;
    // The roots: each invocation owns PER_THREAD consecutive voxels, so ranks follow raster
    // order.
    let base = first + lid * PER_THREAD;
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
    if (block >= params.blocks) {
        return;
    }
    var rank = inclusive - mine;
    for (var k = 0u; k < PER_THREAD; k += 1u) {
        if ((flags & (1u << k)) != 0u) {
            atomicStore(&parent[base + k], rank | LABEL_NUMBERED);
            rank += 1u;
        }
    }
    if (lid == LABEL_THREADS - 1u) {
        counts[block] = inclusive;
    }
    // Every other voxel, strided so neighbouring invocations touch neighbouring voxels. The
    // background is flagged too (LABEL_BACKGROUND has the top bit set).
    for (var k = 0u; k < PER_THREAD; k += 1u) {
        let i = first + k * LABEL_THREADS + lid;
        if (i < params.n) {
            let p = atomicLoad(&parent[i]);
            if (p != i && (p & LABEL_NUMBERED) == 0u) {
                atomicStore(&parent[i], root_of(p));
            }
        }
    }
}
