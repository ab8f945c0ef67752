// Distance transform on the GPU, later passes (twin of `Envelope::line` in src/segment/edt.rs):
// along y or x, each line of squared distances g becomes min_q g(q) + (s·(p − q))², the lower
// envelope of parabolas (Felzenszwalb & Huttenlocher). One invocation per line. The envelope's
// parabola positions live in the line's own output words until the line is written: no scratch
// buffer (a volume's worth of words less to write and read). That is safe because the envelope
// keeps only parabolas that are lowest at some sample (a parabola lowest only between two samples
// is popped too), so the k-th parabola's samples lie at or after sample k; the output is then
// written from the last sample to the first, and writing sample p only overwrites entries the
// walk down has passed. The boundaries between neighbouring parabolas are recomputed from the
// positions and the line (two reads of a line already in cache) rather than stored.
//
// Along y the input is the column pass's 16-bit counts (edt_columns.wgsl), scaled and squared
// here; a volume of several slabs also has, per column, the first background slice after this
// slab (edt_above.wgsl), which finishes the column's backward scan. Along x the input is the
// y pass's float32 output.
// Prepended: common/tile.wgsl (linear_invocation).

struct Params {
    nx: u32,
    ny: u32,
    nz: u32,
    // 1: lines along y, 2: lines along x; + EDT_ROOT: the last pass, which stores square roots.
    axis: u32,
    lines: u32,
    in_offset: u32,
    out_offset: u32,
    spacing: f32,
    // Along y: the slab's first global slice, the offset of the slab's plane of "first
    // background after" in `above` (when `has_above`), and the spacing along z.
    z0: u32,
    above_offset: u32,
    has_above: u32,
    z_spacing: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
// Along y: packed 16-bit counts; along x: float32 bits.
@group(0) @binding(1) var<storage, read> g: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// Along y with several slabs: per column, the first background slice after this slab.
@group(0) @binding(3) var<storage, read> above: array<i32>;

// Along y, the line's slice in the slab and its x.
var<private> line_z: u32;
var<private> line_x: u32;
var<private> along_y: bool;

// The squared distance at sample q of the line.
fn g_at(base: u32, stride: u32, q: u32) -> f32 {
    if (!along_y) {
        return bitcast<f32>(g[params.in_offset + base + q * stride]);
    }
    let c = q * params.nx + line_x;
    let words = (params.nx * params.ny + 1u) / 2u;
    let word = g[params.in_offset + line_z * words + c / 2u];
    var d = (word >> (16u * (c % 2u))) & 0xffffu;
    if (params.has_above != 0u) {
        let next = above[params.above_offset + c] - i32(params.z0 + line_z);
        d = min(d, u32(clamp(next, 0, i32(EDT_NONE_COUNT))));
    }
    if (d == EDT_NONE_COUNT) {
        return EDT_NONE;
    }
    let t = f32(d) * params.z_spacing;
    return t * t;
}

// Entry k of the line's envelope: the position of its k-th parabola, kept in output word k (as
// an f32, exact below 2^24: no denormal bit patterns in a float array).
fn vertex(k: u32, base: u32, stride: u32) -> u32 {
    return u32(out[params.out_offset + base + k * stride]);
}

// Where the parabola at q (value gq) overtakes the one at vk < q, written so that the large terms
// do not cancel in float32: (g(q) − g(v)) / (2 s² (q − v)) + (q + v) / 2.
fn overtakes(q: u32, gq: f32, vk: u32, base: u32, stride: u32, s2: f32) -> f32 {
    let gv = g_at(base, stride, vk);
    return (gq - gv) / (2.0 * s2 * f32(q - vk)) + 0.5 * f32(q + vk);
}

// The lower boundary of the envelope's parabola k (at vk): where it overtakes parabola k − 1,
// the value the construction compared when it kept parabola k; −1 for the first (samples start
// at 0).
fn lower_boundary(k: u32, vk: u32, base: u32, stride: u32, s2: f32) -> f32 {
    if (k == 0u) {
        return -1.0;
    }
    return overtakes(vk, g_at(base, stride, vk), vertex(k - 1u, base, stride), base, stride, s2);
}

@compute @workgroup_size(WORKGROUP)
fn envelope(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let l = linear_invocation(gid, groups);
    if (l >= params.lines) {
        return;
    }
    var base: u32;
    var stride: u32;
    var len: u32;
    let root = (params.axis & EDT_ROOT) != 0u;
    along_y = (params.axis & 3u) == 1u;
    if (along_y) {
        // Line (z, x): along y.
        line_z = l / params.nx;
        line_x = l % params.nx;
        base = line_z * params.nx * params.ny + line_x;
        stride = params.nx;
        len = params.ny;
    } else {
        base = l * params.nx;
        stride = 1u;
        len = params.nx;
    }
    let s2 = params.spacing * params.spacing;
    // Parabolas kept (entries 0 .. count − 1).
    var count = 0u;
    // (Written without `continue`, with plain `while` loops: the GL backend of lavapipe
    // mistranslated other forms.)
    for (var q = 0u; q < len; q += 1u) {
        let gq = g_at(base, stride, q);
        if (gq < EDT_NONE) {
            // Pop the last parabola while q's overtakes it at or before its first sample: the
            // samples it is lowest at are those above its lower boundary and at most where q's
            // takes over, and there are none when that is no further than floor(cross).
            var popping = count > 0u;
            while (popping) {
                let top = count - 1u;
                let vt = vertex(top, base, stride);
                let cross = overtakes(q, gq, vt, base, stride, s2);
                popping = floor(cross) <= lower_boundary(top, vt, base, stride, s2);
                if (popping) {
                    count = top;
                    popping = count > 0u;
                }
            }
            out[params.out_offset + base + count * stride] = f32(q);
            count += 1u;
        }
    }
    if (count == 0u) {
        for (var p = 0u; p < len; p += 1u) {
            out[params.out_offset + base + p * stride] = EDT_NONE;
        }
        return;
    }
    // From the last sample down: parabola k serves the samples above its lower boundary. Its
    // position is held here, so writing sample p ≥ k spares entries 0 .. k − 1 (the walk never
    // lets k pass p, which only a rounding difference between the two computations of a
    // boundary could ask for).
    var k = count - 1u;
    var vk = vertex(k, base, stride);
    var lower = lower_boundary(k, vk, base, stride, s2);
    var gv = g_at(base, stride, vk);
    for (var i = 0u; i < len; i += 1u) {
        let p = len - 1u - i;
        while (k > 0u && (k > p || !(lower < f32(p)))) {
            k -= 1u;
            vk = vertex(k, base, stride);
            lower = lower_boundary(k, vk, base, stride, s2);
            gv = g_at(base, stride, vk);
        }
        let t = (f32(vk) - f32(p)) * params.spacing;
        let d2 = gv + t * t;
        out[params.out_offset + base + p * stride] = select(d2, sqrt(d2), root);
    }
}
