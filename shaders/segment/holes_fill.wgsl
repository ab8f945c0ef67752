// Filling holes, step 4: foreground stays 1; a background voxel becomes 1 when its component
// never reaches the border. Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

// Foreground voxels are the labelling's background (LABEL_BACKGROUND in `parent`).
@group(0) @binding(2) var<storage, read> reaches_border: array<u32>;
@group(0) @binding(3) var<storage, read_write> filled: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn fill(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.n {
        return;
    }
    if atomicLoad(&parent[i]) == LABEL_BACKGROUND {
        filled[i] = 1.0;
        return;
    }
    filled[i] = select(1.0, 0.0, reaches_border[find_root(i)] != 0u);
}
