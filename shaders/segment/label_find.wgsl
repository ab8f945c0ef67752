// The union-find forest of the labelling kernels: parent[i] is a voxel of i's component no
// later than i in raster order, i itself for a root, LABEL_BACKGROUND for background. Every link
// puts the larger root under the smaller, so a component's root is its first voxel.

@group(0) @binding(1) var<storage, read_write> parent: array<atomic<u32>>;

// The root of x. Path halving stores a grandparent (an ancestor), which keeps every tree intact
// when other invocations store to the same voxel.
fn find_root(start: u32) -> u32 {
    var x = start;
    loop {
        let p = atomicLoad(&parent[x]);
        if (p == x) {
            break;
        }
        let g = atomicLoad(&parent[p]);
        if (g != p) {
            atomicStore(&parent[x], g);
        }
        x = g;
    }
    return x;
}

// The root of x without storing anything (see label_flatten.wgsl): the first entry on the way
// that is its own index or flagged with LABEL_NUMBERED (a root whose block has ranked it).
fn root_of(start: u32) -> u32 {
    var x = start;
    loop {
        let p = atomicLoad(&parent[x]);
        if (p == x || (p & LABEL_NUMBERED) != 0u) {
            break;
        }
        x = p;
    }
    return x;
}
