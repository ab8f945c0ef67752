// Resampling with nearest or (tri)linear interpolation (twin of resample.rs): output voxel o
// along each axis samples input coordinate c = clamp((o + out_start) · scale, 0, last) -
// in_start (a window of a larger call shifts by whole voxels; plain calls have zero starts);
// linear blends the 2×2 rows around (cz, cy) and then along x, in the same order as the CPU.
// Prepended: common/tile.wgsl.

struct Params {
    scale: vec4<f32>, // (z, y, x, _)
    linear: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    out_start: vec4<u32>,
    last: vec4<f32>,
    in_start: vec4<f32>,
}

@group(0) @binding(0) var<uniform> mapping: Mapping;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn coordinate(o: u32, scale: f32, start: u32, last: f32, shift: f32) -> f32 {
    return clamp(f32(o + start) * scale, 0.0, last) - shift;
}

fn at(z: u32, y: u32, x: u32) -> f32 {
    return src[mapped_in_index(mapping, z, y, x)];
}

@compute @workgroup_size(WORKGROUP)
fn resample(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= mapping.out_nz * mapping.out_ny * mapping.out_nx) {
        return;
    }
    let ox = i % mapping.out_nx;
    let rest = i / mapping.out_nx;
    let oy = rest % mapping.out_ny;
    let oz = rest / mapping.out_ny + mapping.out_z0;
    let cz = coordinate(oz, params.scale.x, params.out_start.x, params.last.x, params.in_start.x);
    let cy = coordinate(oy, params.scale.y, params.out_start.y, params.last.y, params.in_start.y);
    let cx = coordinate(ox, params.scale.z, params.out_start.z, params.last.z, params.in_start.z);
    var v: f32;
    if (params.linear == 0u) {
        v = at(u32(floor(cz + 0.5)), u32(floor(cy + 0.5)), u32(floor(cx + 0.5)));
    } else {
        let z0 = u32(cz);
        let y0 = u32(cy);
        let x0 = u32(cx);
        let z1 = min(z0 + 1u, mapping.in_nz - 1u);
        let y1 = min(y0 + 1u, mapping.in_ny - 1u);
        let x1 = min(x0 + 1u, mapping.in_nx - 1u);
        let wz = cz - f32(z0);
        let wy = cy - f32(y0);
        let wx = cx - f32(x0);
        let a = (1.0 - wz) * (1.0 - wy);
        let b = (1.0 - wz) * wy;
        let c = wz * (1.0 - wy);
        let d = wz * wy;
        let left = a * at(z0, y0, x0) + b * at(z0, y1, x0) + c * at(z1, y0, x0) + d * at(z1, y1, x0);
        let right = a * at(z0, y0, x1) + b * at(z0, y1, x1) + c * at(z1, y0, x1) + d * at(z1, y1, x1);
        v = (1.0 - wx) * left + wx * right;
    }
    dst[mapping.out_offset + i] = v;
}
