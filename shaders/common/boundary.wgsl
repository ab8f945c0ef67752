// Boundary modes (twin of BoundaryMode::map_index in src/boundary.rs; keep them in step).
const MODE_REFLECT: u32 = 0u;
const MODE_MIRROR: u32 = 1u;
const MODE_NEAREST: u32 = 2u;
const MODE_CONSTANT: u32 = 3u;
const MODE_WRAP: u32 = 4u;
// Returned by map_index where the value is the constant (Constant mode, outside the range).
const OUTSIDE: i32 = -2147483647;

// a mod n in 0..n for n > 0. `%` only ever sees non-negative operands: WGSL defines `%` for
// negative i32, but GLSL (the GL backend's target) leaves it undefined, and Mesa gets it wrong.
fn positive_mod(a: i32, n: i32) -> i32 {
    if (a >= 0) {
        return a % n;
    }
    let r = (-a) % n;
    return select(n - r, 0, r == 0);
}

// Index inside lo..hi that supplies the value at index i of the extended range.
fn map_index(i: i32, lo: i32, hi: i32, mode: u32) -> i32 {
    let n = hi - lo;
    let j = i - lo;
    if (j >= 0 && j < n) {
        return i;
    }
    switch mode {
        case MODE_CONSTANT: {
            return OUTSIDE;
        }
        case MODE_NEAREST: {
            return lo + clamp(j, 0, n - 1);
        }
        case MODE_WRAP: {
            return lo + positive_mod(j, n);
        }
        case MODE_MIRROR: {
            if (n == 1) {
                return lo;
            }
            let k = positive_mod(j, 2 * n - 2);
            return lo + select(k, 2 * n - 2 - k, k >= n);
        }
        default: {
            // MODE_REFLECT
            let k = positive_mod(j, 2 * n);
            return lo + select(k, 2 * n - 1 - k, k >= n);
        }
    }
}
