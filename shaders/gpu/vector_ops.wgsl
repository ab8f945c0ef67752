// Elementwise vector operations of the iterative methods (twin of VectorOp in vector_ops.rs):
// `a` is the destination (and an input where the op reads it), `b` and `c` inputs. Every
// operand is a window of the same length; the offsets place each window in its binding.

struct Params {
    op: u32,
    count: u32,
    off_a: u32,
    off_b: u32,
    off_c: u32,
    s0: f32,
    s1: f32,
    s2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;

@compute @workgroup_size(64)
fn vector_op(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 64u;
    if i >= p.count {
        return;
    }
    let ia = p.off_a + i;
    let x = a[ia];
    switch p.op {
        // Fill.
        case 0u: { a[ia] = p.s0; }
        // a = b · c.
        case 1u: { a[ia] = b[p.off_b + i] * c[p.off_c + i]; }
        // a = clamp(a + s0 · b · c, s1, s2): the SIRT/SART update with its box.
        case 2u: { a[ia] = clamp(x + p.s0 * b[p.off_b + i] * c[p.off_c + i], p.s1, p.s2); }
        // a = b − c.
        case 3u: { a[ia] = b[p.off_b + i] - c[p.off_c + i]; }
        // a = a + s0 · b.
        case 4u: { a[ia] = x + p.s0 * b[p.off_b + i]; }
        // a = b + s0 · a.
        case 5u: { a[ia] = b[p.off_b + i] + p.s0 * x; }
        // a = b / c where c > 0, else 0.
        case 6u: {
            let d = c[p.off_c + i];
            a[ia] = select(0.0, b[p.off_b + i] / d, d > 0.0);
        }
        // a = clamp(a · b / c, s1, s2) where c > 0, else 0: the EM update.
        case 7u: {
            let d = c[p.off_c + i];
            a[ia] = select(0.0, clamp(x * b[p.off_b + i] / d, p.s1, p.s2), d > 0.0);
        }
        // a = 1 / a where a > 1e-6, else 0.
        case 8u: { a[ia] = select(0.0, 1.0 / x, x > 1e-6); }
        // a = a · b (masks).
        case 9u: { a[ia] = x * b[p.off_b + i]; }
        // a = clamp(a, s1, s2).
        case 10u: { a[ia] = clamp(x, p.s1, p.s2); }
        // a = s0 · a.
        case 11u: { a[ia] = p.s0 * x; }
        // a = s0 · b + s1 · c.
        case 12u: { a[ia] = p.s0 * b[p.off_b + i] + p.s1 * c[p.off_c + i]; }
        // a = b + s0 · (b − c).
        default: {
            let v = b[p.off_b + i];
            a[ia] = v + p.s0 * (v - c[p.off_c + i]);
        }
    }
}
