// Voxel-driven forward projection (prepended: float.wgsl, voxel_driven_common.wgsl, splat.wgsl): one
// invocation per voxel of the slab, splatting its value into every view of the batch. WGSL has
// no float atomics in its core, so each add is a compare-exchange loop on the value's bits;
// neighbouring invocations along x meet neighbouring detector columns, so contention stays low.

@group(0) @binding(2) var<storage, read> volume: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn forward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    let z = params.slab.z0 + gid.z;
    if x >= params.nx || y >= params.ny || z >= params.slab.z1 {
        return;
    }
    let value = volume[slab_index(params.slab, params.nx, params.ny, x, y, z)];
    if value == 0.0 {
        return;
    }
    for (var v = 0u; v < params.views; v++) {
        let t = taps(params.first_view + v, x, y, z);
        if !t.hit {
            continue;
        }
        let base = (params.batch_first + v) * params.rows * params.cols;
        let s = value * t.scale;
        add_to(base + t.r0 * params.cols + t.c0, s * (1.0 - t.fc) * (1.0 - t.fr));
        add_to(base + t.r0 * params.cols + t.c1, s * t.fc * (1.0 - t.fr));
        if params.rows > 1u {
            add_to(base + t.r1 * params.cols + t.c0, s * (1.0 - t.fc) * t.fr);
            add_to(base + t.r1 * params.cols + t.c1, s * t.fc * t.fr);
        }
    }
}
