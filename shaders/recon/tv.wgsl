// Total variation for FISTA-TV (twin of src/recon/iterative/tv.rs): forward differences with a
// Neumann boundary (0 at each axis's last index), the divergence −∇ᵀ, and one step of
// Chambolle's projection algorithm on the dual field p (one volume per axis: z, y, x).
// Every entry point is one invocation per output voxel of a z-slab; neighbours along z come
// from the one-slice halo the runtime binds.

struct Params {
    // combine_divergence: dst = alpha · src + beta · div p.
    alpha: f32,
    beta: f32,
    // dual_step: Chambolle's step τ, and the axis (0 z, 1 y, 2 x) whose component this
    // dispatch updates.
    tau: f32,
    axis: u32,
}

@group(0) @binding(0) var<uniform> tile: Tile;
@group(0) @binding(1) var<uniform> params: Params;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<storage, read> pz: array<f32>;
@group(0) @binding(5) var<storage, read> py: array<f32>;
@group(0) @binding(6) var<storage, read> px: array<f32>;

// Forward differences of `src` at a voxel, as (z, y, x) components.
fn forward_gradient(v: vec3<i32>) -> vec3<f32> {
    let c = src[tile_in_index(tile, v.z, v.y, v.x)];
    var g = vec3<f32>(0.0);
    if v.z + 1 < i32(tile.nz) {
        g.x = src[tile_in_index(tile, v.z + 1, v.y, v.x)] - c;
    }
    if v.y + 1 < i32(tile.ny) {
        g.y = src[tile_in_index(tile, v.z, v.y + 1, v.x)] - c;
    }
    if v.x + 1 < i32(tile.nx) {
        g.z = src[tile_in_index(tile, v.z, v.y, v.x + 1)] - c;
    }
    return g;
}

fn in_slab(i: u32) -> bool {
    return i < tile.out_nz * tile.ny * tile.nx;
}

// dst = alpha · src + beta · div p, div p = Σ_a p_a[v] (below the last index) − p_a[v − e_a]
// (above the first).
@compute @workgroup_size(WORKGROUP)
fn combine_divergence(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if !in_slab(i) {
        return;
    }
    let v = slab_voxel(tile, i);
    let k = tile_in_index(tile, v.z, v.y, v.x);
    var div = 0.0;
    if v.z + 1 < i32(tile.nz) {
        div += pz[k];
    }
    if v.z > 0 {
        div -= pz[tile_in_index(tile, v.z - 1, v.y, v.x)];
    }
    if v.y + 1 < i32(tile.ny) {
        div += py[k];
    }
    if v.y > 0 {
        div -= py[tile_in_index(tile, v.z, v.y - 1, v.x)];
    }
    if v.x + 1 < i32(tile.nx) {
        div += px[k];
    }
    if v.x > 0 {
        div -= px[tile_in_index(tile, v.z, v.y, v.x - 1)];
    }
    dst[tile.out_offset + i] = params.alpha * src[k] + params.beta * div;
}

// p_axis ← (p_axis + τ g_axis) / (1 + τ |g|), g = ∇ src (src = div p − z / μ).
@compute @workgroup_size(WORKGROUP)
fn dual_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if !in_slab(i) {
        return;
    }
    let g = forward_gradient(slab_voxel(tile, i));
    let o = tile.out_offset + i;
    dst[o] = (dst[o] + params.tau * g[params.axis]) / (1.0 + params.tau * length(g));
}

// dst = |∇ src| (summed on the host from the moments reduction: the total variation).
@compute @workgroup_size(WORKGROUP)
fn gradient_magnitude(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = linear_invocation(gid, groups);
    if !in_slab(i) {
        return;
    }
    // `params` is bound for a uniform layout; the scale is 1 here.
    dst[tile.out_offset + i] = params.alpha * length(forward_gradient(slab_voxel(tile, i)));
}
