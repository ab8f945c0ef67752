// Filling holes, step 3: the background components that reach the border (the z faces too in
// 3D) are marked at their roots; the others are holes.
// Prepended: common/tile.wgsl, label_params.wgsl, label_find.wgsl.

@group(0) @binding(2) var<storage, read_write> reaches_border: array<atomic<u32>>;
// x: 1 for a volume (its z faces are border), 0 for an image.
@group(0) @binding(3) var<uniform> holes: vec4<u32>;

@compute @workgroup_size(WORKGROUP)
fn mark_border(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.n || atomicLoad(&parent[i]) == LABEL_BACKGROUND {
        return;
    }
    let x = i % params.nx;
    let y = (i / params.nx) % params.ny;
    let z = i / (params.nx * params.ny);
    let on_face = x == 0u || y == 0u || x + 1u == params.nx || y + 1u == params.ny
        || (holes.x != 0u && (z == 0u || z + 1u == params.nz));
    if on_face {
        atomicStore(&reaches_border[find_root(i)], 1u);
    }
}
