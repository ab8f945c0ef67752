// Labelling, step 2: every foreground voxel joins the trees of its foreground backward
// neighbours (lock-free: a compare-and-swap links a root, retried from the new roots when
// another invocation linked it first).
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

fn unite(a0: u32, b0: u32) {
    var a = a0;
    var b = b0;
    loop {
        a = find_root(a);
        b = find_root(b);
        if (a == b) {
            return;
        }
        let low = min(a, b);
        let high = max(a, b);
        if (atomicCompareExchangeWeak(&parent[high], high, low).exchanged) {
            return;
        }
    }
}

@compute @workgroup_size(WORKGROUP)
fn merge(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= params.n || atomicLoad(&parent[i]) == LABEL_BACKGROUND) {
        return;
    }
    let x = i32(i % params.nx);
    let y = i32((i / params.nx) % params.ny);
    let z = i32(i / (params.nx * params.ny));
    for (var k = 0u; k < params.neighbours; k += 1u) {
        let s = params.steps[k];
        let nx = x + s.x;
        let ny = y + s.y;
        let nz = z + s.z;
        if (nx < 0 || ny < 0 || nz < 0 || nx >= i32(params.nx) || ny >= i32(params.ny)) {
            continue;
        }
        let j = u32(i32(i) + s.w);
        if (atomicLoad(&parent[j]) != LABEL_BACKGROUND) {
            unite(i, j);
        }
    }
}
