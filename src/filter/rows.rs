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
    for (k, &wk) in w.iter().enumerate().skip(1) {
        let k = k as isize;
        match (row(-k), row(k)) {
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
