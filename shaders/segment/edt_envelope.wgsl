// Distance transform on the GPU, later passes (twin of `Envelope::line` in src/segment/edt.rs):
// along y or x, each line of squared distances g becomes min_q g(q) + (s·(p − q))², the lower
// envelope of parabolas (Felzenszwalb & Huttenlocher). One invocation per line; its envelope's
// parabola positions v live in a scratch buffer interleaved across lines (element k of line l at
// k·lines + l) so neighbouring invocations touch neighbouring words. The boundaries between
// neighbouring parabolas are recomputed from v and the line (two reads of a line already in
// cache) rather than stored: a scratch buffer the size of the volume less to write and read.
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
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<u32>;

fn overtakes(q: u32, gq: f32, vk: u32, base: u32, stride: u32, s2: f32) -> f32 {
    let gv = g[params.in_offset + base + vk * stride];
    return (gq - gv) / (2.0 * s2 * f32(q - vk)) + 0.5 * f32(q + vk);
}

// The boundary below parabola k ≥ 1 of line l's envelope: where it overtakes parabola k − 1,
// the value the construction compared when it pushed parabola k onto parabola k − 1.
fn boundary(k: u32, l: u32, base: u32, stride: u32, s2: f32) -> f32 {
    let lines = params.lines;
    let vk = v[k * lines + l];
    return overtakes(vk, g[params.in_offset + base + vk * stride], v[(k - 1u) * lines + l], base, stride, s2);
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
    if ((params.axis & 3u) == 1u) {
        // Line (z, x): along y.
        base = (l / params.nx) * params.nx * params.ny + l % params.nx;
        stride = params.nx;
        len = params.ny;
    } else {
        base = l * params.nx;
        stride = 1u;
        len = params.nx;
    }
    let lines = params.lines;
    let s2 = params.spacing * params.spacing;
    var k = 0u;
    var started = false;
    // (Written without `continue` and with the pop as a plain `while`: the GL backend of
    // lavapipe mistranslated the first form.)
    for (var q = 0u; q < len; q += 1u) {
        let gq = g[params.in_offset + base + q * stride];
        if (gq < EDT_NONE) {
            if (started) {
                // Where q's parabola overtakes the envelope's last one, written so that the large
                // terms do not cancel in float32: (g(q) − g(v)) / (2 s² (q − v)) + (q + v) / 2.
                var cross = overtakes(q, gq, v[k * lines + l], base, stride, s2);
                while (k > 0u && cross <= boundary(k, l, base, stride, s2)) {
                    k -= 1u;
                    cross = overtakes(q, gq, v[k * lines + l], base, stride, s2);
                }
                k += 1u;
                v[k * lines + l] = q;
            } else {
                v[l] = q;
                started = true;
            }
        }
    }
    if (!started) {
        for (var p = 0u; p < len; p += 1u) {
            out[params.out_offset + base + p * stride] = EDT_NONE;
        }
        return;
    }
    let top = k;
    k = 0u;
    // Where parabola k + 1 takes over from parabola k (none after the last).
    var next = EDT_NONE;
    if (top > 0u) {
        next = boundary(1u, l, base, stride, s2);
    }
    for (var p = 0u; p < len; p += 1u) {
        while (next < f32(p)) {
            k += 1u;
            next = EDT_NONE;
            if (k < top) {
                next = boundary(k + 1u, l, base, stride, s2);
            }
        }
        let vk = v[k * lines + l];
        let t = (f32(vk) - f32(p)) * params.spacing;
        let d2 = g[params.in_offset + base + vk * stride] + t * t;
        out[params.out_offset + base + p * stride] = select(d2, sqrt(d2), root);
    }
}
