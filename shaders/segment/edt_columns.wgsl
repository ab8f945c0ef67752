// Distance transform on the GPU, first pass (twin of the axis-0 scans of src/segment/edt.rs):
// per (y, x) column, the distance along z, in voxels, to the nearest background voxel.
//
// Distances are stored as 16-bit counts, two columns to a word (EDT_NONE_COUNT: no background
// in reach), so the pass writes and the next one reads half the bytes of float32 squares; the
// next pass scales and squares them. A slice's words are (ny·nx + 1) / 2, so slabs start on
// whole words. One invocation per pair of neighbouring columns (neighbouring invocations read
// neighbouring voxels and write neighbouring words).
//
// Slabs of z run one dispatch each, first to last: the last background slice seen so far is
// carried between them in `carry`, and each slab scans backward within itself only. When the
// volume has several slabs, each also records its first background slice per column in
// `firsts`; `carry_above` turns those into "the first background at or after this slab", which
// the envelope pass along y reads to finish the backward scan (no second pass over the volume).
// Prepended: common/tile.wgsl (linear_invocation).

struct Params {
    nx: u32,
    ny: u32,
    // Slices of this slab, its first global slice.
    nz: u32,
    z0: u32,
    // Element offsets of the slab in the bound mask and word windows, and of this slab's plane
    // in the bound `firsts` window.
    mask_offset: u32,
    out_offset: u32,
    firsts_offset: u32,
    // 1 when the volume has several slabs (carry the last background, record `firsts`).
    slabs: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> carry: array<i32>;
@group(0) @binding(3) var<storage, read_write> firsts: array<i32>;
@group(0) @binding(4) var<storage, read> mask: array<f32>;

fn is_background(i: u32) -> bool {
    // Zero (either sign) is background; NaN and every other value are foreground.
    return (bitcast<u32>(mask[params.mask_offset + i]) & 0x7fffffffu) == 0u;
}

// A distance in voxels as a 16-bit count (none beyond).
fn count_of(d: i32) -> u32 {
    return u32(clamp(d, 0, i32(EDT_NONE_COUNT)));
}

@compute @workgroup_size(WORKGROUP)
fn columns(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let w = linear_invocation(gid, groups);
    let plane = params.nx * params.ny;
    let words = (plane + 1u) / 2u;
    if (w >= words) {
        return;
    }
    let c = vec2<u32>(2u * w, 2u * w + 1u);
    // The second column of an odd plane's last word does not exist: it never sees background.
    let real = vec2<bool>(true, c.y < plane);
    // Forward: the last background slice at or before each slice; the first slab starts with
    // none seen, later ones carry the previous slab's.
    var last = vec2<i32>(-EDT_FAR);
    if (params.z0 != 0u) {
        last.x = carry[c.x];
        if (real.y) {
            last.y = carry[c.y];
        }
    }
    var first = vec2<i32>(EDT_FAR);
    for (var z = 0u; z < params.nz; z += 1u) {
        let global = i32(params.z0 + z);
        let i = z * plane;
        if (is_background(i + c.x)) {
            last.x = global;
            first.x = min(first.x, global);
        }
        if (real.y && is_background(i + c.y)) {
            last.y = global;
            first.y = min(first.y, global);
        }
        let d = vec2<u32>(count_of(global - last.x), count_of(global - last.y));
        counts[params.out_offset + z * words + w] = d.x | (d.y << 16u);
    }
    if (params.slabs != 0u) {
        carry[c.x] = last.x;
        firsts[params.firsts_offset + c.x] = first.x;
        if (real.y) {
            carry[c.y] = last.y;
            firsts[params.firsts_offset + c.y] = first.y;
        }
    }
    // Backward within the slab: the nearer of that and the next background slice after (the
    // background is where the forward count is 0).
    var next = vec2<i32>(EDT_FAR);
    for (var k = 0u; k < params.nz; k += 1u) {
        let z = params.nz - 1u - k;
        let global = i32(params.z0 + z);
        let at = params.out_offset + z * words + w;
        let word = counts[at];
        var d = vec2<u32>(word & 0xffffu, word >> 16u);
        if (d.x == 0u) {
            next.x = global;
        }
        if (d.y == 0u) {
            next.y = global;
        }
        d = min(d, vec2<u32>(count_of(next.x - global), count_of(next.y - global)));
        counts[at] = d.x | (d.y << 16u);
    }
}
