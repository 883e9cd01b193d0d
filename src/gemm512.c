/* Matrix products with AVX-512 (see blas.h, tsi_gemm512): used instead of
 * OpenBLAS when the CPU has AVX-512F. On a Zen 5, one core: as fast as
 * Debian's OpenBLAS (0.3.21) with its own AVX-512 (Cooperlake) kernels on
 * large products (0.93-1.06x), faster on the convolutions' blocks of few
 * rows (1.1-1.3x), twice its AVX2 (Haswell) kernels, which it runs when
 * OPENBLAS_CORETYPE=Haswell (as on the machine where this was measured).
 *
 * No packing of A: C is computed in blocks of MR rows x NV vectors of
 * columns, the MR x NV sums kept in registers over a block of KC of the
 * inner dimension, each A element broadcast from where it is (so op(A) may
 * be A or A^T at the same cost), each row of B loaded as NV vectors (the last
 * one masked). Blocks of MC rows of A and KC of k keep A's rows in L1/L2
 * while the column panels go by. op(B) = B^T is copied, a KT x (NV vectors)
 * tile at a time, into a buffer on the stack (16 KiB), transposed in
 * registers L x L elements at a time. Every element of C
 * is its inner sum in k order, in blocks of KC (KT for B^T) added to C
 * (the fused multiply-add rounds once per term): the same bits from any
 * split of the rows or columns over threads. */
#include <stdint.h>

#include "blas.h"
#include "vmath.h"

#if defined(TSI_HAVE_CLONES)
#include <immintrin.h>

#define MR 6
#define NV 4
#define KC 512
#define MC 96
#define KT 64

#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

/* Transposes of an L x L tile in registers (L = 16 floats, 8 doubles):
 * vector i in, row i of the tile; vector i out, its column i. */
static inline __attribute__((always_inline)) AVX512 void tr_ps(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
    t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
  }
  for (int c = 0; c < 4; c++) {
    r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
    r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xdd);
  }
}

static inline __attribute__((always_inline)) AVX512 void tr_pd(__m512d r[8]) {
  __m512d t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm512_unpacklo_pd(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; h++) {
    u[4 * h + 0] = _mm512_shuffle_f64x2(t[4 * h + 0], t[4 * h + 2], 0x88);
    u[4 * h + 1] = _mm512_shuffle_f64x2(t[4 * h + 1], t[4 * h + 3], 0x88);
    u[4 * h + 2] = _mm512_shuffle_f64x2(t[4 * h + 0], t[4 * h + 2], 0xdd);
    u[4 * h + 3] = _mm512_shuffle_f64x2(t[4 * h + 1], t[4 * h + 3], 0xdd);
  }
  for (int c = 0; c < 4; c++) {
    r[c] = _mm512_shuffle_f64x2(u[c], u[4 + c], 0x88);
    r[4 + c] = _mm512_shuffle_f64x2(u[c], u[4 + c], 0xdd);
  }
}

/* T: element; V: vector; S: intrinsic suffix; L: lanes; M: mask type. The
 * micro-kernel is always inlined with constant R (rows) and W (vectors), so
 * its sums stay in registers. */
#define DEF_GEMM512(T, V, S, L, M)                                                 \
  static inline __attribute__((always_inline)) AVX512 void mk_##S(               \
      const int R, const int W, int64_t k, const T *A, int64_t ra, int64_t ca,    \
      const T *B, int64_t ldb, T *C, int64_t ldc, int acc, M last) {               \
    V c[MR][NV];                                                                   \
    _Pragma("GCC unroll 6") for (int i = 0; i < R; i++)                            \
      _Pragma("GCC unroll 4") for (int v = 0; v < W; v++) c[i][v] = _mm512_setzero_##S(); \
    for (int64_t p = 0; p < k; p++) {                                              \
      V b[NV];                                                                     \
      const T *bp = B + p * ldb, *ap = A + p * ca;                                 \
      _Pragma("GCC unroll 4") for (int v = 0; v < W; v++)                          \
        b[v] = v == W - 1 ? _mm512_maskz_loadu_##S(last, bp + L * v)               \
                          : _mm512_loadu_##S(bp + L * v);                          \
      _Pragma("GCC unroll 6") for (int i = 0; i < R; i++) {                        \
        V a = _mm512_set1_##S(ap[i * ra]);                                         \
        _Pragma("GCC unroll 4") for (int v = 0; v < W; v++)                        \
          c[i][v] = _mm512_fmadd_##S(a, b[v], c[i][v]);                            \
      }                                                                            \
    }                                                                              \
    _Pragma("GCC unroll 6") for (int i = 0; i < R; i++)                            \
      _Pragma("GCC unroll 4") for (int v = 0; v < W; v++) {                        \
        T *cp = C + i * ldc + L * v;                                               \
        M mv = v == W - 1 ? last : (M)~(M)0;                                       \
        V r = c[i][v];                                                             \
        if (acc) r = _mm512_add_##S(r, _mm512_maskz_loadu_##S(mv, cp));            \
        _mm512_mask_storeu_##S(cp, mv, r);                                         \
      }                                                                            \
  }                                                                                \
  /* Rows [0, m) of C's columns [0, w) (w <= NV * L), k of A and B. */            \
  static AVX512 void panel_##S(int64_t m, int64_t w, int64_t k, const T *A,        \
                               int64_t ra, int64_t ca, const T *B, int64_t ldb,    \
                               T *C, int64_t ldc, int acc) {                       \
    int nv = (int)((w + L - 1) / L), rem = (int)(w - L * (nv - 1));                \
    M last = (M)(((uint32_t)1 << rem) - 1);                                        \
    for (int64_t i0 = 0; i0 < m; i0 += MR) {                                       \
      int r = m - i0 < MR ? (int)(m - i0) : MR;                                    \
      const T *Ai = A + i0 * ra;                                                   \
      T *Ci = C + i0 * ldc;                                                        \
      switch (r * 8 + nv) {                                                        \
        CASES_##S(1) CASES_##S(2) CASES_##S(3) CASES_##S(4) CASES_##S(5) CASES_##S(6) \
      }                                                                            \
    }                                                                              \
  }                                                                                \
  /* buf[p][j] = Bt[j][p] for j < w, p < kc: whole L x L tiles transposed in \
   * registers, the edges one element at a time. */                               \
  static inline AVX512 void pack_##S(const T *Bt, int64_t ldb, int64_t w, int64_t kc, \
                                     T *restrict buf, int64_t ldbuf) {             \
    int64_t wf = w - w % L, kf = kc - kc % L;                                      \
    for (int64_t j = 0; j < wf; j += L)                                            \
      for (int64_t p = 0; p < kf; p += L) {                                        \
        V r[L];                                                                    \
        for (int i = 0; i < L; i++) r[i] = _mm512_loadu_##S(Bt + (j + i) * ldb + p); \
        tr_##S(r);                                                                 \
        for (int i = 0; i < L; i++) _mm512_storeu_##S(buf + (p + i) * ldbuf + j, r[i]); \
      }                                                                            \
    for (int64_t j = 0; j < w; j++)                                                \
      for (int64_t p = j < wf ? kf : 0; p < kc; p++) buf[p * ldbuf + j] = Bt[j * ldb + p]; \
  }                                                                                \
  static AVX512 void gemm_##S(int ta, int tb, int64_t m, int64_t n, int64_t k,     \
                              const T *A, int64_t lda, const T *B, int64_t ldb,    \
                              int beta, T *C, int64_t ldc) {                       \
    int64_t ra = ta ? 1 : lda, ca = ta ? lda : 1, NW = NV * L;                     \
    if (tb) {                                                                      \
      T buf[KT * NV * L];                                                          \
      for (int64_t p0 = 0; p0 < k; p0 += KT) {                                     \
        int64_t kc = k - p0 < KT ? k - p0 : KT;                                    \
        for (int64_t j0 = 0; j0 < n; j0 += NW) {                                   \
          int64_t w = n - j0 < NW ? n - j0 : NW;                                   \
          pack_##S(B + j0 * ldb + p0, ldb, w, kc, buf, NW);                        \
          panel_##S(m, w, kc, A + p0 * ca, ra, ca, buf, NW, C + j0, ldc, beta || p0 > 0); \
        }                                                                          \
      }                                                                            \
      return;                                                                      \
    }                                                                              \
    for (int64_t p0 = 0; p0 < k; p0 += KC) {                                       \
      int64_t kc = k - p0 < KC ? k - p0 : KC;                                      \
      for (int64_t i0 = 0; i0 < m; i0 += MC) {                                     \
        int64_t mc = m - i0 < MC ? m - i0 : MC;                                    \
        for (int64_t j0 = 0; j0 < n; j0 += NW)                                     \
          panel_##S(mc, n - j0 < NW ? n - j0 : NW, kc, A + i0 * ra + p0 * ca, ra, ca, \
                    B + p0 * ldb + j0, ldb, C + i0 * ldc + j0, ldc, beta || p0 > 0); \
      }                                                                            \
    }                                                                              \
  }

#define CASE_(S, R, W)                                                             \
  case R * 8 + W:                                                                  \
    mk_##S(R, W, k, Ai, ra, ca, B, ldb, Ci, ldc, acc, last);                        \
    break;
#define CASES_ps(R) CASE_(ps, R, 1) CASE_(ps, R, 2) CASE_(ps, R, 3) CASE_(ps, R, 4)
#define CASES_pd(R) CASE_(pd, R, 1) CASE_(pd, R, 2) CASE_(pd, R, 3) CASE_(pd, R, 4)

DEF_GEMM512(float, __m512, ps, 16, __mmask16)
DEF_GEMM512(double, __m512d, pd, 8, __mmask8)

/* y[c] = sum over taps t of xs[t][c] * ws[t][c] (products and sums rounded
 * one by one, in t order: the bits of the plain loop), 64 channels at a time
 * in registers (16 for doubles: 32), the rest masked. */
#define DEF_TAPS512(T, V, S, L, M)                                                 \
  static AVX512 void taps_##S(int64_t C, int nt, const T *const *xs, const T *const *ws, \
                              T *y) {                                              \
    int64_t c = 0;                                                                 \
    for (; c + 4 * L <= C; c += 4 * L) {                                           \
      V a0 = _mm512_setzero_##S(), a1 = a0, a2 = a0, a3 = a0;                      \
      for (int t = 0; t < nt; t++) {                                               \
        const T *x = xs[t] + c, *w = ws[t] + c;                                    \
        a0 = _mm512_add_##S(a0, _mm512_mul_##S(_mm512_loadu_##S(x), _mm512_loadu_##S(w))); \
        a1 = _mm512_add_##S(a1, _mm512_mul_##S(_mm512_loadu_##S(x + L), _mm512_loadu_##S(w + L))); \
        a2 = _mm512_add_##S(a2, _mm512_mul_##S(_mm512_loadu_##S(x + 2 * L),      \
                                               _mm512_loadu_##S(w + 2 * L)));     \
        a3 = _mm512_add_##S(a3, _mm512_mul_##S(_mm512_loadu_##S(x + 3 * L),      \
                                               _mm512_loadu_##S(w + 3 * L)));     \
      }                                                                            \
      _mm512_storeu_##S(y + c, a0);                                                \
      _mm512_storeu_##S(y + c + L, a1);                                            \
      _mm512_storeu_##S(y + c + 2 * L, a2);                                        \
      _mm512_storeu_##S(y + c + 3 * L, a3);                                        \
    }                                                                              \
    for (; c < C; c += L) {                                                        \
      M mk = C - c >= L ? (M)~(M)0 : (M)(((uint32_t)1 << (C - c)) - 1);            \
      V a = _mm512_setzero_##S();                                                  \
      for (int t = 0; t < nt; t++)                                                 \
        a = _mm512_add_##S(a, _mm512_mul_##S(_mm512_maskz_loadu_##S(mk, xs[t] + c), \
                                             _mm512_maskz_loadu_##S(mk, ws[t] + c))); \
      _mm512_mask_storeu_##S(y + c, mk, a);                                        \
    }                                                                              \
  }

DEF_TAPS512(float, __m512, ps, 16, __mmask16)
DEF_TAPS512(double, __m512d, pd, 8, __mmask8)

int tsi_have512(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

void tsi_taps512(int dtype, int64_t C, int nt, const void *const *xs, const void *const *ws,
                 void *y) {
  if (dtype == TS_FLOAT32)
    taps_ps(C, nt, (const float *const *)xs, (const float *const *)ws, y);
  else
    taps_pd(C, nt, (const double *const *)xs, (const double *const *)ws, y);
}

int tsi_gemm512(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *A,
                int64_t lda, const void *B, int64_t ldb, int beta, void *C, int64_t ldc) {
  if (!tsi_have512()) return 0;
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  if (dtype == TS_FLOAT32)
    gemm_ps(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
  else
    gemm_pd(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
  return 1;
}
#else
int tsi_have512(void) { return 0; }

void tsi_taps512(int dtype, int64_t C, int nt, const void *const *xs, const void *const *ws,
                 void *y) {
  (void)dtype, (void)C, (void)nt, (void)xs, (void)ws, (void)y;
}

int tsi_gemm512(int dtype, int ta, int tb, int64_t m, int64_t n, int64_t k, const void *A,
                int64_t lda, const void *B, int64_t ldb, int beta, void *C, int64_t ldc) {
  (void)dtype, (void)ta, (void)tb, (void)m, (void)n, (void)k, (void)A, (void)lda, (void)B;
  (void)ldb, (void)beta, (void)C, (void)ldc;
  return 0;
}
#endif
