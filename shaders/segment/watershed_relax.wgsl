// Watershed on the GPU: one pass of the minimax flood over tiles (twin of WatershedParams and
// PassParams in src/segment/watershed_gpu.rs). WS_TILE_X/Y/Z (the workgroup's block),
// WS_LAYERS (samples an invocation holds along z: the workgroup is WS_TILE_X × WS_TILE_Y ×
// WS_TILE_Z / WS_LAYERS invocations, within WebGPU's 256 for a block of 512) and WS_HALO_Z (1 for
// volumes, 0 for images) are emitted by the Rust side.
//
// A sample's state is (cost as f32 bits, steps along its plateau, label rank, flags), unpacked
// into workgroup memory from one of two layouts in the state buffer:
// - wide (`label_bits` 0), three words: cost, steps, and the label with the flags in its top two
//   bits (WATERSHED_FIXED or WATERSHED_OUTSIDE << WATERSHED_FLAG_SHIFT);
// - packed, two words: cost (all ones outside the mask), and steps << label_bits | label, whose
//   steps field is all ones for a marker (steps 0). A free sample whose steps outgrow the field
//   is stored with the largest and raises the overflow counter: the host then floods again in
//   the wide layout.
// A free sample takes the reached neighbour with the smallest (cost, steps, label) — the one the CPU
// flood would release first, up to its arrival order among equal costs — and becomes
// (max(height, cost), steps + 1 when that stays the neighbour's cost else 0, label). Markers
// and samples outside the mask never change.
//
// A workgroup loads its block and a one-sample halo into workgroup memory and relaxes the block
// there until it settles (a flood front crosses the block in one pass instead of one dispatch
// per sample), then writes back what changed. A pass runs only the blocks asked for in it,
// listed by the pass before: a dispatch's workgroups take the blocks of its slab pair's list,
// whose length the GPU itself writes into the dispatch's indirect arguments, so a pass costs
// what it relaxes and an idle pass nothing but its launch. A block whose changed samples may
// improve a sample outside it (a free neighbour not yet reached, or reached at a cost no lower
// than the changed sample's) asks for that sample's block in the next pass, and a block that did
// not settle within its steps asks for itself: the first to ask appends the block to the next
// pass's list (`work` holds, per block, the last pass it was asked for); the host lists the
// blocks of the markers' footprints for the first pass. A block is thus relaxed about once per
// front that reaches it, and blocks outside the mask never. Blocks write their samples while
// neighbouring blocks may be reading them as halo; a block that read a stale or half-written
// halo was asked for again by the block that wrote it, and the iteration stops after a pass
// that asked for nothing: the fixed point is the one sample-by-sample Jacobi steps reach
// (states only improve, so a stale halo only makes a request superfluous, never missing).
//
// Volumes larger than one storage binding run by z-slabs, two to a dispatch (see `params_b`): a
// slab's window of the state holds its slices and one slice on either side, which are the
// neighbouring slabs' own slices (the windows overlap in one buffer; slices of outside samples pad the volume's
// ends). Requests are global, so a block next to a slab border is asked for by the block across
// it like any other.

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
    // The word offset of the slab's window in the bound state window (alignment).
    state_offset: u32,
    // Bits of the label in the packed layout; 0: the wide layout.
    label_bits: u32,
    // 0, or where a slice keeps a copy of its states from before the pass (words after its
    // states): blocks then load their halo from the copy, so that each sees only the last
    // pass's states, as when every block of a pass runs at once (a diagnostic).
    snapshot_words: u32,
    // Workgroups along x of every dispatch (the lists' lengths fold into x · y workgroups,
    // y written by the GPU): `@builtin(num_workgroups)` is not reliable for indirect dispatches.
    fold_x: u32,
    // Blocks along z of a slab pair (two full slabs): a pair's list holds the blocks of
    // z-blocks [pair · pair_bz, (pair + 1) · pair_bz).
    pair_bz: u32,
    // Where `work` holds the requests (a word per block of the volume) and the lists (two, for
    // passes of either parity, a block's worth of words each; pair by pair within a list).
    requests_at: u32,
    lists_at: u32,
    // (dx, dy, dz, flat offset) of every neighbour of the footprint.
    steps: array<vec4<i32>, 26>,
}

struct Pass {
    // This pass's number (from 1); a block's request holds the last pass it was asked for.
    number: u32,
    // Relaxation steps a block may take in one pass (a block that has not settled by then is
    // asked for again in the next pass).
    max_steps: u32,
    // The word of this pass's schedule in `now` and of the next pass's in `next`: per slab
    // pair, the indirect arguments (fold_x, groups along y, 1) and the list's length.
    now_slot: u32,
    next_slot: u32,
    // The counter of `work` that counts the blocks this pass relaxes.
    relaxed_counter: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> pass_info: Pass;
@group(0) @binding(2) var<storage, read> heights: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<u32>;
// [0]: whether steps overflowed the packed layout; [1 + k]: blocks relaxed in the batch's pass k
// (the work model's count and the host's trace); then the requests and the lists (see `Params`).
@group(0) @binding(4) var<storage, read_write> work: array<atomic<u32>>;
// This pass's schedule (also the buffer its dispatches take their arguments from) and the next
// pass's, which this pass's requests append to.
@group(0) @binding(5) var<storage, read> now: array<u32>;
@group(0) @binding(9) var<storage, read_write> next: array<atomic<u32>>;
// A second slab in the same dispatch (its blocks in the pair's list with the first's; none where
// `params_b`'s slab_bz is 0): its parameters, heights and state window. Two slabs a dispatch halve the
// dispatches of volumes larger than one binding; the fields other than z0, slab_bz and
// state_offset are the same in both parameters.
@group(0) @binding(6) var<uniform> params_b: Params;
@group(0) @binding(7) var<storage, read> heights_b: array<f32>;
@group(0) @binding(8) var<storage, read_write> state_b: array<u32>;

// Which slab this workgroup's block is in, that slab's first slice and state offset.
var<private> in_b: bool;
var<private> slab_z0: u32;
var<private> slab_offset: u32;

const HX: u32 = WS_TILE_X + 2u;
const HY: u32 = WS_TILE_Y + 2u;
const HZ: u32 = WS_TILE_Z + 2u * WS_HALO_Z;
const HALO: u32 = HX * HY * HZ;
const GROUP_Z: u32 = WS_TILE_Z / WS_LAYERS;
const INVOCATIONS: u32 = WS_TILE_X * WS_TILE_Y * GROUP_Z;

var<workgroup> block: array<vec4<u32>, HALO>;
var<workgroup> flag: atomic<u32>;
var<workgroup> settled: u32;
// The block this workgroup relaxes (a volume's block index), or NO_BLOCK.
var<workgroup> chosen: u32;
const NO_BLOCK: u32 = 0xffffffffu;
// The blocks of the 3 × 3 × 3 around this one (itself at 13) that this one asks for.
var<workgroup> wanted: array<atomic<u32>, 27>;

// The first word of the sample at `p` (volume coordinates) in the slab's state window. A slice
// holds its samples' first words, then their second words (and third, in the wide layout):
// word k of a sample is `plane_words()` · k further; then, with a snapshot, the same again.
fn state_index(p: vec3<i32>) -> u32 {
    let words = select(2u, 3u, params.label_bits == 0u);
    return slab_offset + u32(p.x) + u32(p.y) * params.nx
        + u32(p.z - i32(slab_z0) + i32(WS_HALO_Z)) * (plane_words() * words + params.snapshot_words);
}

fn plane_words() -> u32 {
    return params.nx * params.ny;
}

fn state_word(at: u32) -> u32 {
    if (in_b) {
        return state_b[at];
    }
    return state[at];
}

fn set_state_word(at: u32, value: u32) {
    if (in_b) {
        state_b[at] = value;
    } else {
        state[at] = value;
    }
}

fn height(at: u32) -> f32 {
    if (in_b) {
        return heights_b[at];
    }
    return heights[at];
}

fn load_state(at: u32) -> vec4<u32> {
    if (params.label_bits == 0u) {
        let tagged = state_word(at + 2u * plane_words());
        return vec4<u32>(state_word(at), state_word(at + plane_words()), tagged & WATERSHED_LABEL_MASK, tagged >> WATERSHED_FLAG_SHIFT);
    }
    let cost = state_word(at);
    if (cost == 0xffffffffu) {
        return vec4<u32>(WATERSHED_UNREACHED, 0u, 0u, WATERSHED_OUTSIDE);
    }
    let packed = state_word(at + plane_words());
    let steps = packed >> params.label_bits;
    let label = packed & ((1u << params.label_bits) - 1u);
    if (steps == (0xffffffffu >> params.label_bits)) {
        return vec4<u32>(cost, 0u, label, WATERSHED_FIXED);
    }
    return vec4<u32>(cost, steps, label, 0u);
}

// Only free samples are written: their flags are 0.
fn store_state(at: u32, s: vec4<u32>) {
    set_state_word(at, s.x);
    if (params.label_bits == 0u) {
        set_state_word(at + plane_words(), s.y);
        set_state_word(at + 2u * plane_words(), s.z);
        return;
    }
    let most = (0xffffffffu >> params.label_bits) - 1u;
    if (s.y > most) {
        atomicOr(&work[0], 1u);
    }
    set_state_word(at + plane_words(), (min(s.y, most) << params.label_bits) | s.z);
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

// The word of `work` where the list of `pair`'s blocks for a pass of `parity` starts.
fn list_start(parity: u32, pair: u32) -> u32 {
    return params.lists_at + parity * (params.lists_at - params.requests_at) + pair * params.pair_bz * params.bx * params.by;
}

@compute @workgroup_size(WS_TILE_X, WS_TILE_Y, GROUP_Z)
fn relax(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    // This dispatch's slab pair, and its list for this pass.
    let pair = params.z0 / WS_TILE_Z / params.pair_bz;
    if (local == 0u) {
        let raw = wid.x + wid.y * params.fold_x;
        let listed = now[pass_info.now_slot + 4u * pair + 3u];
        chosen = NO_BLOCK;
        atomicStore(&flag, 0u);
        if (raw < listed) {
            // Even passes take the list in reverse order: a block run after its neighbour in the
            // same pass already reads the neighbour's update, so fronts travel along the order
            // within a pass, and alternating the order lets them travel either way.
            let ordered = select(raw, listed - 1u - raw, pass_info.number % 2u == 0u);
            chosen = atomicLoad(&work[list_start(pass_info.number % 2u, pair) + ordered]);
            atomicAdd(&work[pass_info.relaxed_counter], 1u);
        }
    }
    if (local < 27u) {
        atomicStore(&wanted[local], 0u);
    }
    // Workgroup memory starts undefined (the pipelines skip zero-initialisation): `chosen`,
    // `flag` and `wanted` are stored in every workgroup before they are read.
    let global = workgroupUniformLoad(&chosen);
    // The folded grid's last row may hold a few workgroups past the list.
    if (global == NO_BLOCK) {
        return;
    }
    let plane_blocks = params.bx * params.by;
    let bc = vec3<i32>(i32(global % params.bx), i32((global / params.bx) % params.by), i32(global / plane_blocks));
    // Which slab of the pair holds the block (the second only where `params_b` has blocks).
    in_b = params_b.slab_bz > 0u && u32(bc.z) >= params_b.z0 / WS_TILE_Z;
    slab_z0 = select(params.z0, params_b.z0, in_b);
    slab_offset = select(params.state_offset, params_b.state_offset, in_b);
    let bdims = vec3<i32>(i32(params.bx), i32(params.by), i32(params.bz));

    let dims = vec3<i32>(i32(params.nx), i32(params.ny), i32(params.nz));
    let tile = vec3<i32>(i32(WS_TILE_X), i32(WS_TILE_Y), i32(WS_TILE_Z));
    // The halo's first sample in the volume.
    let origin = bc * tile - vec3<i32>(1, 1, i32(WS_HALO_Z));
    for (var k = local; k < HALO; k += INVOCATIONS) {
        let p = origin + vec3<i32>(i32(k % HX), i32((k / HX) % HY), i32(k / (HX * HY)));
        var s = vec4<u32>(WATERSHED_UNREACHED, 0u, 0u, WATERSHED_OUTSIDE);
        if (all(p >= vec3<i32>(0)) && all(p < dims)) {
            s = load_state(state_index(p) + params.snapshot_words);
        }
        block[k] = s;
    }
    workgroupBarrier();

    // This invocation's samples: (lid.x, lid.y, lid.z + l · GROUP_Z) of the block.
    var at_tile: array<vec3<i32>, WS_LAYERS>;
    var slot: array<u32, WS_LAYERS>;
    var first: array<vec4<u32>, WS_LAYERS>;
    var current: array<vec4<u32>, WS_LAYERS>;
    var free: array<bool, WS_LAYERS>;
    var inside: array<bool, WS_LAYERS>;
    var h: array<f32, WS_LAYERS>;
    for (var l = 0u; l < WS_LAYERS; l++) {
        let t = vec3<i32>(lid) + vec3<i32>(0, 0, i32(l * GROUP_Z));
        let me = t + bc * tile;
        at_tile[l] = t;
        inside[l] = all(me < dims);
        slot[l] = u32(t.x + 1) + u32(t.y + 1) * HX + (u32(t.z) + WS_HALO_Z) * HX * HY;
        first[l] = block[slot[l]];
        current[l] = first[l];
        free[l] = inside[l] && (first[l].w & (WATERSHED_FIXED | WATERSHED_OUTSIDE)) == 0u;
        h[l] = 0.0;
        if (free[l]) {
            h[l] = height(u32(me.x) + u32(me.y) * params.nx + u32(me.z - i32(slab_z0)) * params.nx * params.ny);
        }
    }
    // Whether the last step changed a state: still so after the last allowed step means the
    // block has not settled.
    var moving = 1u;
    for (var step = 0u; step < pass_info.max_steps; step++) {
        var next = current;
        for (var l = 0u; l < WS_LAYERS; l++) {
            if (free[l]) {
                // Label 0: nothing reached yet.
                var best = vec4<u32>(WATERSHED_UNREACHED, 0u, 0u, 0u);
                for (var k = 0u; k < params.neighbours; k++) {
                    let st = params.steps[k].xyz;
                    let at = u32(i32(slot[l]) + st.x + st.y * i32(HX) + st.z * i32(HX * HY));
                    let t = block[at];
                    // Written without `continue` (the GL backend's loops need it so).
                    if (t.z != 0u && (t.w & WATERSHED_OUTSIDE) == 0u && leaves_first(t, best)) {
                        best = t;
                    }
                }
                if (best.z != 0u) {
                    let c = bitcast<f32>(best.x);
                    next[l] = vec4<u32>(bitcast<u32>(max(h[l], c)), select(0u, best.y + 1u, c >= h[l]), best.z, 0u);
                }
            }
        }
        // Every read of this step before any write (a Jacobi step inside the block).
        workgroupBarrier();
        for (var l = 0u; l < WS_LAYERS; l++) {
            if (any(next[l] != current[l])) {
                block[slot[l]] = next[l];
                current[l] = next[l];
                atomicOr(&flag, 1u);
            }
        }
        moving = take_flag(local);
        if (moving == 0u) {
            break;
        }
    }

    for (var l = 0u; l < WS_LAYERS; l++) {
        if (inside[l] && any(current[l] != first[l])) {
            store_state(state_index(at_tile[l] + bc * tile), current[l]);
            // Ask for the blocks of the neighbours outside this block that the change may improve:
            // free, and not reached or reached at a cost no lower than this sample's (a higher
            // cost cannot be improved by it). Their states are the halo as loaded, which only
            // errs towards asking.
            let cost = bitcast<f32>(current[l].x);
            for (var k = 0u; k < params.neighbours; k++) {
                let st = params.steps[k].xyz;
                let there = at_tile[l] + st;
                let out_low = there < vec3<i32>(0);
                let out_high = there >= tile;
                if (any(out_low) || any(out_high)) {
                    let t = block[u32(i32(slot[l]) + st.x + st.y * i32(HX) + st.z * i32(HX * HY))];
                    let free_there = (t.w & (WATERSHED_FIXED | WATERSHED_OUTSIDE)) == 0u;
                    if (free_there && (t.z == 0u || cost <= bitcast<f32>(t.x))) {
                        let d = select(vec3<i32>(0), vec3<i32>(-1), out_low) + select(vec3<i32>(0), vec3<i32>(1), out_high);
                        atomicOr(&wanted[u32(d.x + 1 + 3 * (d.y + 1) + 9 * (d.z + 1))], 1u);
                    }
                }
            }
        }
    }
    // Not settled within the steps: this block again.
    if (moving != 0u && local == 0u) {
        atomicOr(&wanted[13], 1u);
    }
    workgroupBarrier();
    if (local < 27u && atomicLoad(&wanted[local]) != 0u) {
        let nb = bc + vec3<i32>(i32(local % 3u) - 1, i32((local / 3u) % 3u) - 1, i32(local / 9u) - 1);
        if (all(nb >= vec3<i32>(0)) && all(nb < bdims)) {
            let asked = u32(nb.x) + u32(nb.y) * params.bx + u32(nb.z) * plane_blocks;
            // The first to ask for the block in the next pass lists it there.
            let number = pass_info.number + 1u;
            if (atomicMax(&work[params.requests_at + asked], number) < number) {
                let to = u32(nb.z) / params.pair_bz;
                let at = pass_info.next_slot + 4u * to;
                let index = atomicAdd(&next[at + 3u], 1u);
                atomicStore(&work[list_start(number % 2u, to) + index], asked);
                atomicMax(&next[at + 1u], index / params.fold_x + 1u);
            }
        }
    }
}
