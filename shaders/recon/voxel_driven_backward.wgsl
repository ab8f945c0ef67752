// Transpose of the voxel-driven projector (prepended: float.wgsl, voxel_driven_common.wgsl):
// one invocation per voxel of the slab gathers, over the batch's views, the same four pixels
// with the same weights the forward splat writes — a gather, so no atomics.

@group(0) @binding(2) var<storage, read_write> volume: array<f32>;
@group(0) @binding(3) var<storage, read> projections: array<f32>;

@compute @workgroup_size(8, 8, 1)
fn backward(@builtin(global_invocation_id) gid: vec3<u32>) {
    let x = gid.x;
    let y = gid.y;
    let z = params.slab.z0 + gid.z;
    if x >= params.nx || y >= params.ny || z >= params.slab.z1 {
        return;
    }
    var acc = 0.0;
    for (var v = 0u; v < params.views; v++) {
        let t = taps(params.first_view + v, x, y, z);
        if !t.hit {
            continue;
        }
        let base = (params.batch_first + v) * params.rows * params.cols;
        var sum = projections[base + t.r0 * params.cols + t.c0] * (1.0 - t.fc) * (1.0 - t.fr)
            + projections[base + t.r0 * params.cols + t.c1] * t.fc * (1.0 - t.fr);
        if params.rows > 1u {
            sum += projections[base + t.r1 * params.cols + t.c0] * (1.0 - t.fc) * t.fr
                + projections[base + t.r1 * params.cols + t.c1] * t.fc * t.fr;
        }
        acc += sum * t.scale;
    }
    let i = slab_index(params.slab, params.nx, params.ny, x, y, z);
    volume[i] += acc;
}
