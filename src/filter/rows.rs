//! Vectorisable row primitives shared by the CPU paths of separable and stencil filters.
//!
//! Everything works on contiguous `f32` rows so that the compiler emits SIMD code; on x86-64 the
//! hot loops are also compiled for AVX2 and chosen at run time.

use crate::boundary::BoundaryMode;

/// `dst = w[0] * row(0) + Σ_k w[k] * (row(-k) + row(+k))`: a symmetric 1D correlation across
/// rows, where `row(d)` is the row at offset `d` (already boundary-mapped by the caller).
/// `row` returns `None` for a row of constant `cval`.
#[inline]
pub(crate) fn symmetric_rows<'a>(dst: &mut [f32], w: &[f32], cval: f32, row: impl Fn(isize) -> Option<&'a [f32]>) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { symmetric_rows_avx2(dst, w, cval, row) };
            return;
        }
    }
    symmetric_rows_generic(dst, w, cval, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn symmetric_rows_avx2<'a>(dst: &mut [f32], w: &[f32], cval: f32, row: impl Fn(isize) -> Option<&'a [f32]>) {
    symmetric_rows_generic(dst, w, cval, row)
}

#[inline(always)]
fn symmetric_rows_generic<'a>(dst: &mut [f32], w: &[f32], cval: f32, row: impl Fn(isize) -> Option<&'a [f32]>) {
    let n = dst.len();
    match row(0) {
        Some(c) => {
            for (d, &c) in dst.iter_mut().zip(&c[..n]) {
                *d = w[0] * c;
            }
        }
        None => dst.fill(w[0] * cval),
    }
    let r = w.len() - 1;
    let mut k = 1;
    while k <= r {
        // Four taps per sweep over `dst` where all eight rows exist: a quarter of the loads and
        // stores of `dst`, which otherwise dominate.
        if k + 3 <= r
            && let (Some(a1), Some(b1), Some(a2), Some(b2), Some(a3), Some(b3), Some(a4), Some(b4)) = (
                row(-(k as isize)),
                row(k as isize),
                row(-(k as isize + 1)),
                row(k as isize + 1),
                row(-(k as isize + 2)),
                row(k as isize + 2),
                row(-(k as isize + 3)),
                row(k as isize + 3),
            )
        {
            let (w1, w2, w3, w4) = (w[k], w[k + 1], w[k + 2], w[k + 3]);
            let (a1, b1, a2, b2) = (&a1[..n], &b1[..n], &a2[..n], &b2[..n]);
            let (a3, b3, a4, b4) = (&a3[..n], &b3[..n], &a4[..n], &b4[..n]);
            for i in 0..n {
                dst[i] += w1 * (a1[i] + b1[i]) + w2 * (a2[i] + b2[i]) + w3 * (a3[i] + b3[i]) + w4 * (a4[i] + b4[i]);
            }
            k += 4;
            continue;
        }
        let wk = w[k];
        match (row(-(k as isize)), row(k as isize)) {
            (Some(a), Some(b)) => {
                for ((d, &a), &b) in dst.iter_mut().zip(&a[..n]).zip(&b[..n]) {
                    *d += wk * (a + b);
                }
            }
            (Some(a), None) | (None, Some(a)) => {
                for (d, &a) in dst.iter_mut().zip(&a[..n]) {
                    *d += wk * (a + cval);
                }
            }
            (None, None) => {
                let add = wk * (2.0 * cval);
                for d in dst.iter_mut() {
                    *d += add;
                }
            }
        }
        k += 1;
    }
}

/// Symmetric 1D correlation along a row: `dst[i] = Σ_k w[|k|] * src_ext[i + k]`, with `src`
/// extended by `mode`. `pad` is scratch space reused between calls.
#[inline]
pub(crate) fn symmetric_along_row(dst: &mut [f32], src: &[f32], w: &[f32], mode: BoundaryMode, pad: &mut Vec<f32>) {
    let n = src.len();
    let r = w.len() - 1;
    pad.clear();
    pad.resize(n + 2 * r, 0.0);
    let cval = mode.cval();
    pad[r..r + n].copy_from_slice(src);
    let halo = (0..r).chain(r + n..n + 2 * r);
    for i in halo {
        let idx = i as isize - r as isize;
        pad[i] = match mode.map_index(idx, 0, n as isize) {
            Some(m) => src[m as usize],
            None => cval,
        };
    }
    let pad: &[f32] = pad;
    symmetric_rows(dst, w, cval, |d| Some(&pad[(r as isize + d) as usize..]))
}

/// `dst = Σ_j w[j] * row(j - left)`: a general (asymmetric) 1D correlation across rows, where
/// `row(d)` is the already boundary-mapped row at offset `d`, or `None` for a row of `cval`.
#[inline]
pub(crate) fn general_rows<'a>(
    dst: &mut [f32],
    w: &[f32],
    left: usize,
    cval: f32,
    row: impl Fn(isize) -> Option<&'a [f32]>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { general_rows_avx2(dst, w, left, cval, row) };
            return;
        }
    }
    general_rows_generic(dst, w, left, cval, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn general_rows_avx2<'a>(
    dst: &mut [f32],
    w: &[f32],
    left: usize,
    cval: f32,
    row: impl Fn(isize) -> Option<&'a [f32]>,
) {
    general_rows_generic(dst, w, left, cval, row)
}

#[inline(always)]
fn general_rows_generic<'a>(
    dst: &mut [f32],
    w: &[f32],
    left: usize,
    cval: f32,
    row: impl Fn(isize) -> Option<&'a [f32]>,
) {
    let n = dst.len();
    let offset = |j: usize| j as isize - left as isize;
    // Constant rows fold into one value added at the end.
    let mut constant = 0.0f32;
    dst.fill(0.0);
    let mut j = 0;
    while j < w.len() {
        // Three taps per sweep where all three rows exist: fewer loads and stores of `dst`.
        if j + 2 < w.len()
            && let (Some(a), Some(b), Some(c)) = (row(offset(j)), row(offset(j + 1)), row(offset(j + 2)))
        {
            let (wa, wb, wc) = (w[j], w[j + 1], w[j + 2]);
            let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
            for i in 0..n {
                dst[i] += wa * a[i] + wb * b[i] + wc * c[i];
            }
            j += 3;
            continue;
        }
        match row(offset(j)) {
            Some(a) => {
                let wj = w[j];
                for (d, &a) in dst.iter_mut().zip(&a[..n]) {
                    *d += wj * a;
                }
            }
            None => constant += w[j] * cval,
        }
        j += 1;
    }
    if constant != 0.0 {
        dst.iter_mut().for_each(|d| *d += constant);
    }
}

/// Writes `src` extended by `before` voxels on the left and `after` on the right with `mode`
/// into `pad` (resized).
pub(crate) fn extend_row_into(src: &[f32], before: usize, after: usize, mode: BoundaryMode, pad: &mut Vec<f32>) {
    let n = src.len();
    pad.clear();
    pad.resize(n + before + after, 0.0);
    pad[before..before + n].copy_from_slice(src);
    for i in (0..before).chain(before + n..n + before + after) {
        pad[i] = match mode.map_index(i as isize - before as isize, 0, n as isize) {
            Some(m) => src[m as usize],
            None => mode.cval(),
        };
    }
}
