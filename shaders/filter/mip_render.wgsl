// Rendered maximum intensity projection about the z (head–foot) axis (twin of
// mip_render.rs): for output pixel (z, u) a ray in slice z, direction (cos θ, sin θ) in
// physical (x, y) mm through the slice centre offset by u along (-sin θ, cos θ), sampled every
// half pixel with bilinear interpolation; samples outside the slice are skipped; a ray that
// misses the slice gives `background`. Prepended: common/tile.wgsl.

struct Params {
    dir: vec2<f32>,     // (cos θ, sin θ)
    spacing: vec2<f32>, // (sx, sy) mm
    centre: vec2<f32>,  // slice centre (x, y) mm
    pixel: f32,         // output pixel, mm
    step: f32,          // sample step, mm
    samples: u32,
    background: f32,
    _pad0: u32,
    _pad1: u32,
}

const EDGE: f32 = 1e-3;

@group(0) @binding(0) var<uniform> mapping: Mapping;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn render(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if (i >= mapping.out_nz * mapping.out_nx) {
        return;
    }
    let k = i % mapping.out_nx;
    let z = i / mapping.out_nx + mapping.out_z0;
    let width = f32(mapping.out_nx);
    let u = (f32(k) - (width - 1.0) * 0.5) * params.pixel;
    let e_u = vec2<f32>(-params.dir.y, params.dir.x);
    let half = f32(params.samples - 1u) * 0.5;
    let nx = mapping.in_nx;
    let ny = mapping.in_ny;
    var best = params.background;
    var hit = false;
    for (var s = 0u; s < params.samples; s++) {
        let t = (f32(s) - half) * params.step;
        let p = params.centre + u * e_u + t * params.dir;
        // Samples on the slice's edge count even when rounding puts them a hair outside.
        let mx = f32(nx - 1u);
        let my = f32(ny - 1u);
        let ex = p.x / params.spacing.x;
        let ey = p.y / params.spacing.y;
        if (ex >= -EDGE && ey >= -EDGE && ex <= mx + EDGE && ey <= my + EDGE) {
            let fx = clamp(ex, 0.0, mx);
            let fy = clamp(ey, 0.0, my);
            let x0 = u32(fx);
            let y0 = u32(fy);
            let x1 = min(x0 + 1u, nx - 1u);
            let y1 = min(y0 + 1u, ny - 1u);
            let wx = fx - f32(x0);
            let wy = fy - f32(y0);
            let top = (1.0 - wx) * src[mapped_in_index(mapping, z, y0, x0)] + wx * src[mapped_in_index(mapping, z, y0, x1)];
            let bottom = (1.0 - wx) * src[mapped_in_index(mapping, z, y1, x0)] + wx * src[mapped_in_index(mapping, z, y1, x1)];
            let v = (1.0 - wy) * top + wy * bottom;
            if (!hit || v > best) {
                best = v;
                hit = true;
            }
        }
    }
    dst[mapping.out_offset + i] = best;
}
