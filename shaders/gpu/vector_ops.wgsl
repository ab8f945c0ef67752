// Elementwise vector operations of the iterative methods (twin of VectorOp::element in
// vector_ops.rs, which emits the OP_* codes and RECIPROCAL_CUTOFF):
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
    // COEF_*: s0 is multiplied by num / den or 1 / √den, scalars reduced on the device
    // (gpu/scalars.rs), 0 where den is not positive.
    coefficient: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read> num: array<f32>;
@group(0) @binding(5) var<storage, read> den: array<f32>;

fn first_scalar() -> f32 {
    if p.coefficient == COEF_ONE {
        return p.s0;
    }
    let d = den[0];
    if !(d > 0.0) {
        return 0.0;
    }
    if p.coefficient == COEF_INVERSE_ROOT {
        return p.s0 / sqrt(d);
    }
    return p.s0 * (num[0] / d);
}

@compute @workgroup_size(WORKGROUP)
fn vector_op(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * WORKGROUP;
    if i >= p.count {
        return;
    }
    let ia = p.off_a + i;
    let x = a[ia];
    let s0 = first_scalar();
    switch p.op {
        // Fill.
        case OP_FILL: { a[ia] = s0; }
        // a = b · c.
        case OP_MUL_TO: { a[ia] = b[p.off_b + i] * c[p.off_c + i]; }
        // a = clamp(a + s0 · b · c, s1, s2): the SIRT/SART update with its box.
        case OP_UPDATE: { a[ia] = clamp(x + s0 * b[p.off_b + i] * c[p.off_c + i], p.s1, p.s2); }
        // a = b − c.
        case OP_DIFF_TO: { a[ia] = b[p.off_b + i] - c[p.off_c + i]; }
        // a = a + s0 · b.
        case OP_AXPY: { a[ia] = x + s0 * b[p.off_b + i]; }
        // a = b + s0 · a.
        case OP_XPBY: { a[ia] = b[p.off_b + i] + s0 * x; }
        // a = b / c where c > 0, else 0.
        case OP_DIV_TO: {
            let d = c[p.off_c + i];
            a[ia] = select(0.0, b[p.off_b + i] / d, d > 0.0);
        }
        // a = clamp(a · b / c, s1, s2) where c > 0, else 0: the EM update.
        case OP_EM_UPDATE: {
            let d = c[p.off_c + i];
            a[ia] = select(0.0, clamp(x * b[p.off_b + i] / d, p.s1, p.s2), d > 0.0);
        }
        // a = 1 / a where a > 1e-6, else 0.
        case OP_RECIPROCAL: { a[ia] = select(0.0, 1.0 / x, x > RECIPROCAL_CUTOFF); }
        // a = a · b (masks).
        case OP_MUL: { a[ia] = x * b[p.off_b + i]; }
        // a = clamp(a, s1, s2).
        case OP_CLAMP: { a[ia] = clamp(x, p.s1, p.s2); }
        // a = s0 · a.
        case OP_SCALE: { a[ia] = s0 * x; }
        // a = s0 · b + s1 · c.
        case OP_LINCOMB: { a[ia] = s0 * b[p.off_b + i] + p.s1 * c[p.off_c + i]; }
        // a = b + s0 · (b − c).
        case OP_EXTRAPOLATE: {
            let v = b[p.off_b + i];
            a[ia] = v + s0 * (v - c[p.off_c + i]);
        }
        default: {}
    }
}
