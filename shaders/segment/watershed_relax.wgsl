// Watershed on the GPU: one pass of the minimax flood over tiles (twin of WatershedParams and
// PassParams in src/segment/watershed_gpu.rs). WS_TILE_X/Y/Z (the workgroup's block) and
// WS_HALO_Z (1 for volumes, 0 for images) are emitted by the Rust side.
//
// A sample's state is (cost as f32 bits, steps along its plateau, label rank, flags). A free
// sample takes the reached neighbour with the smallest (cost, steps, label) — the one the CPU
// flood would release first, up to its arrival order among equal costs — and becomes
// (max(height, cost), steps + 1 when that stays the neighbour's cost else 0, label). Markers
// and samples outside the mask never change.
//
// A workgroup loads its block and a one-sample halo into workgroup memory and relaxes the block
// there until it settles (a flood front crosses the block in one pass instead of one dispatch
// per sample), then writes back what changed and stamps its block with the pass number. A
// block none of whose neighbouring blocks (itself included) changed in the previous pass has
// nothing new to read and is skipped, so late passes cost little outside the front. Blocks
// write their samples while neighbouring blocks may be reading them as halo; a block that
// read a stale or half-written halo is a neighbour of a block that changed, so the next pass
// relaxes it again, and the iteration stops only after a pass in which nothing changed: the
// fixed point is the one sample-by-sample Jacobi steps reach.
//
// Volumes larger than one storage binding run by z-slabs, one dispatch each: a slab's window of
// the state holds its slices and a ghost slice on either side, which the host refreshes from
// the neighbouring slabs after every pass. Block stamps are global, so a block next to a slab
// border wakes up the pass after its neighbour across the border changed, and reads the ghost
// copied since.

struct Params {
    nx: u32,
    ny: u32,
    nz: u32,
    // The slab's first slice (a multiple of WS_TILE_Z): `heights` starts there, `state` one
    // ghost slice earlier for volumes (WS_HALO_Z).
    z0: u32,
    neighbours: u32,
    // Blocks of the volume along x, y, z; blocks of the slab along z.
    bx: u32,
    by: u32,
    bz: u32,
    slab_bz: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    // (dx, dy, dz, flat offset) of every neighbour of the footprint.
    steps: array<vec4<i32>, 26>,
}

struct Pass {
    // This pass's number (from 1); block stamps hold the last pass that changed the block.
    number: u32,
    // Relaxation steps a block may take in one pass (a block that has not settled by then is
    // stamped as changed and relaxed again).
    max_steps: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> pass_info: Pass;
@group(0) @binding(2) var<storage, read> heights: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> stamps: array<u32>;
// [0]: whether any block changed (the host's convergence check); [1]: blocks relaxed, for the
// work model (skipped blocks read only their 27 stamps).
@group(0) @binding(5) var<storage, read_write> counters: array<atomic<u32>, 2>;

const HX: u32 = WS_TILE_X + 2u;
const HY: u32 = WS_TILE_Y + 2u;
const HZ: u32 = WS_TILE_Z + 2u * WS_HALO_Z;
const HALO: u32 = HX * HY * HZ;
const INVOCATIONS: u32 = WS_TILE_X * WS_TILE_Y * WS_TILE_Z;

var<workgroup> block: array<vec4<u32>, HALO>;
var<workgroup> flag: atomic<u32>;
var<workgroup> settled: u32;

// Where the sample at `p` (volume coordinates) lies in the slab's state window.
fn state_index(p: vec3<i32>) -> u32 {
    return u32(p.x) + u32(p.y) * params.nx + u32(p.z - i32(params.z0) + i32(WS_HALO_Z)) * params.nx * params.ny;
}

// `a` leaves the flood before `b`: smaller cost, then fewer plateau steps, then smaller label.
fn leaves_first(a: vec4<u32>, b: vec4<u32>) -> bool {
    let ca = bitcast<f32>(a.x);
    let cb = bitcast<f32>(b.x);
    if (ca != cb) {
        return ca < cb;
    }
    if (a.y != b.y) {
        return a.y < b.y;
    }
    return a.z < b.z;
}

// The flag's value, the same in every invocation, and the flag cleared for the next use.
fn take_flag(local: u32) -> u32 {
    workgroupBarrier();
    if (local == 0u) {
        settled = atomicExchange(&flag, 0u);
    }
    return workgroupUniformLoad(&settled);
}

@compute @workgroup_size(WS_TILE_X, WS_TILE_Y, WS_TILE_Z)
fn relax(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let b = wid.x + wid.y * groups.x;
    let blocks = params.bx * params.by * params.slab_bz;
    // Uniform in the workgroup: whole groups past the blocks leave together.
    if (b >= blocks) {
        return;
    }
    let bz = b / (params.bx * params.by) + params.z0 / WS_TILE_Z;
    let bc = vec3<i32>(i32(b % params.bx), i32((b / params.bx) % params.by), i32(bz));
    // The block's stamp among the volume's blocks.
    let global = (b % (params.bx * params.by)) + bz * params.bx * params.by;
    let bdims = vec3<i32>(i32(params.bx), i32(params.by), i32(params.bz));
    // Active when a block of the 3 × 3 × 3 around it (itself included) changed last pass.
    if (local < 27u) {
        let nb = bc + vec3<i32>(i32(local % 3u) - 1, i32((local / 3u) % 3u) - 1, i32(local / 9u) - 1);
        if (all(nb >= vec3<i32>(0)) && all(nb < bdims)) {
            let stamp = stamps[u32(nb.x) + u32(nb.y) * params.bx + u32(nb.z) * params.bx * params.by];
            if (stamp + 1u >= pass_info.number) {
                atomicOr(&flag, 1u);
            }
        }
    }
    if (take_flag(local) == 0u) {
        return;
    }
    if (local == 0u) {
        atomicAdd(&counters[1], 1u);
    }

    let dims = vec3<i32>(i32(params.nx), i32(params.ny), i32(params.nz));
    let tile = vec3<i32>(i32(WS_TILE_X), i32(WS_TILE_Y), i32(WS_TILE_Z));
    // The halo's first sample in the volume.
    let origin = bc * tile - vec3<i32>(1, 1, i32(WS_HALO_Z));
    for (var k = local; k < HALO; k += INVOCATIONS) {
        let p = origin + vec3<i32>(i32(k % HX), i32((k / HX) % HY), i32(k / (HX * HY)));
        var s = vec4<u32>(WATERSHED_UNREACHED, 0u, 0u, WATERSHED_OUTSIDE);
        if (all(p >= vec3<i32>(0)) && all(p < dims)) {
            s = state[state_index(p)];
        }
        block[k] = s;
    }
    workgroupBarrier();

    let me = vec3<i32>(lid) + bc * tile;
    let inside = all(me < dims);
    let slot = (lid.x + 1u) + (lid.y + 1u) * HX + (lid.z + WS_HALO_Z) * HX * HY;
    let first = block[slot];
    let free = inside && (first.w & (WATERSHED_FIXED | WATERSHED_OUTSIDE)) == 0u;
    var h = 0.0;
    if (free) {
        h = heights[u32(me.x) + u32(me.y) * params.nx + u32(me.z - i32(params.z0)) * params.nx * params.ny];
    }
    var current = first;
    // Whether the last step changed a state: still so after the last allowed step means the
    // block has not settled.
    var moving = 1u;
    for (var step = 0u; step < pass_info.max_steps; step++) {
        var next = current;
        if (free) {
            // Label 0: nothing reached yet.
            var best = vec4<u32>(WATERSHED_UNREACHED, 0u, 0u, 0u);
            for (var k = 0u; k < params.neighbours; k++) {
                let st = params.steps[k].xyz;
                let at = u32(i32(slot) + st.x + st.y * i32(HX) + st.z * i32(HX * HY));
                let t = block[at];
                // Written without `continue` (the GL backend's loops need it so).
                if (t.z != 0u && (t.w & WATERSHED_OUTSIDE) == 0u && leaves_first(t, best)) {
                    best = t;
                }
            }
            if (best.z != 0u) {
                let c = bitcast<f32>(best.x);
                next = vec4<u32>(bitcast<u32>(max(h, c)), select(0u, best.y + 1u, c >= h), best.z, 0u);
            }
        }
        // Every read of this step before any write (a Jacobi step inside the block).
        workgroupBarrier();
        if (any(next != current)) {
            block[slot] = next;
            current = next;
            atomicOr(&flag, 1u);
        }
        moving = take_flag(local);
        if (moving == 0u) {
            break;
        }
    }

    if (inside && any(current != first)) {
        state[state_index(me)] = current;
        atomicOr(&flag, 1u);
    }
    if ((take_flag(local) | moving) != 0u && local == 0u) {
        stamps[global] = pass_info.number;
        atomicOr(&counters[0], 1u);
    }
}
