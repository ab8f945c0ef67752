// Puts each filtered value back at the view it was sorted from (twin of scatter_back in
// src/recon/corrections/stripes.rs): one invocation per (rank, pixel). Prepended:
// common/tile.wgsl (linear_invocation).

struct Params {
    views: u32,
    pixels: u32,
    n: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> filtered: array<f32>;
@group(0) @binding(2) var<storage, read> from_view: array<u32>;
@group(0) @binding(3) var<storage, read_write> output: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn scatter_columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if i >= params.views * params.pixels {
        return;
    }
    let pixel = i % params.pixels;
    output[from_view[i] * params.pixels + pixel] = filtered[i];
}
