// Distance transform on the GPU, between the column pass and the envelope along y, for volumes
// of several slabs: per column, the first background slice at or after slab s, from the first
// background slice of slab s (`here`, overwritten) and the first at or after slab s + 1 (`after`,
// done the dispatch before). Runs from the second-to-last slab down to the second.
// Prepended: common/tile.wgsl (linear_invocation).

struct Params {
    plane: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> here: array<i32>;
// Another window of the same buffer, bound read-write like `here` (one buffer is not bound
// read-only and read-write in one dispatch).
@group(0) @binding(2) var<storage, read_write> after: array<i32>;

@compute @workgroup_size(WORKGROUP)
fn carry_above(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let c = linear_invocation(gid, groups);
    if (c < params.plane) {
        here[c] = min(here[c], after[c]);
    }
}
