// Separable-footprint forward projection (prepended: float.wgsl, volume_slab.wgsl,
// voxel_driven_common.wgsl, splat.wgsl, footprint_common.wgsl): one invocation per voxel of the
// slab spreads its value over every pixel its footprint covers, in every view of the batch.

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
        let f = footprint(params.first_view + v, x, y, z);
        if !f.hit {
            continue;
        }
        let cs = footprint_span(f.across, params.cols);
        let rs = footprint_rows(f);
        let base = (params.batch_first + v) * params.rows * params.cols;
        let s = value * f.scale;
        for (var r = rs.x; r <= rs.y; r++) {
            let wr = footprint_row_weight(r, f);
            if wr == 0.0 {
                continue;
            }
            for (var c = cs.x; c <= cs.y; c++) {
                let wc = footprint_weight(c, f.across);
                if wc != 0.0 {
                    add_to(base + u32(r) * params.cols + u32(c), s * wr * wc);
                }
            }
        }
    }
}
