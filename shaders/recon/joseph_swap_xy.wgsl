// The [z][x][y] copy of a volume slab's window (x and y swapped in every slice) for the forward
// projection's rays along x: neighbouring rays of such a view differ in y, which this layout
// makes contiguous, so a warp's samples fall on a few cache lines instead of one each. A 16 × 16
// tile goes through workgroup memory so that both the read and the write are coalesced (a
// column of padding keeps the transposed reads off one bank).

struct SwapParams {
    nx: u32,
    ny: u32,
    slices: u32,
    // Element offset of the slab's first slice in the bound window.
    offset: u32,
}

@group(0) @binding(0) var<uniform> swap: SwapParams;
@group(0) @binding(1) var<storage, read> volume: array<f32>;
@group(0) @binding(2) var<storage, read_write> swapped: array<f32>;

var<workgroup> tile: array<array<f32, 17>, 16>;

@compute @workgroup_size(16, 16, 1)
fn swap_xy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let z = wid.z;
    if z >= swap.slices {
        return;
    }
    let x = wid.x * 16u + lid.x;
    let y = wid.y * 16u + lid.y;
    if x < swap.nx && y < swap.ny {
        tile[lid.y][lid.x] = volume[swap.offset + (z * swap.ny + y) * swap.nx + x];
    }
    workgroupBarrier();
    let xo = wid.x * 16u + lid.y;
    let yo = wid.y * 16u + lid.x;
    if xo < swap.nx && yo < swap.ny {
        swapped[(z * swap.nx + xo) * swap.ny + yo] = tile[lid.x][lid.y];
    }
}
