// Transpose of the separable-footprint projector (prepended: float.wgsl, volume_slab.wgsl,
// voxel_driven_common.wgsl, footprint_common.wgsl): one invocation per voxel of the slab gathers
// the pixels its footprint covers with the forward's weights — a gather, so no atomics.

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
        let f = footprint(params.first_view + v, x, y, z);
        if !f.hit {
            continue;
        }
        let cs = footprint_span(f.across, params.cols);
        let rs = footprint_rows(f);
        let base = (params.batch_first + v) * params.rows * params.cols;
        var sum = 0.0;
        for (var r = rs.x; r <= rs.y; r++) {
            let wr = footprint_row_weight(r, f);
            if wr == 0.0 {
                continue;
            }
            var line = 0.0;
            for (var c = cs.x; c <= cs.y; c++) {
                line += projections[base + u32(r) * params.cols + u32(c)] * footprint_weight(c, f.across);
            }
            sum += line * wr;
        }
        acc += sum * f.scale;
    }
    let i = slab_index(params.slab, params.nx, params.ny, x, y, z);
    volume[i] += acc;
}
