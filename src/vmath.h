/* Branch-free float32 math that the compiler can vectorise (libm's expf is a
 * call per element). Cephes' expf: range reduction by ln 2, a degree-5
 * polynomial, scaling by 2^n through the exponent bits in two steps, so
 * that the whole float32 range comes out (finite up to x = 88.72, subnormal
 * results down to x = -103.97); within 2 ulp. */
#ifndef TS_VMATH_H
#define TS_VMATH_H

#include <stdint.h>
#include <string.h>

/* Hot float kernels are built three times, for the x86-64 baseline (SSE2),
 * for AVX2 and for x86-64-v4 (AVX-512 F/BW/DQ/VL, vectorised 512 bits wide:
 * the Makefile's -mprefer-vector-width=512), and the loader picks the best
 * the CPU runs (an ifunc). Without FMA contraction (-std=c11) they give the
 * same bits: no loop sums across vector lanes of the compiler's choosing. */
/* (Not under ThreadSanitizer: an ifunc resolver runs before its runtime is up.) */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TS_NO_CLONES) && \
    !defined(__SANITIZE_THREAD__)
#define TSI_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#define TSI_HAVE_CLONES 1
#else
#define TSI_CLONES
#endif

static inline float tsi_expf(float x) {
  /* Clamped to where the result is still finite or non-zero: exp(89) is
   * already inf in float32, exp(-104) already rounds to 0. */
  float c = x < 89.0f ? x : 89.0f;
  c = c > -104.0f ? c : -104.0f;
  /* round to nearest with the 1.5 * 2^23 trick: float operations only */
  float fn = (c * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = c - fn * 0.693359375f + fn * 2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500E-4f;
  p = p * r + 1.3981999507E-3f;
  p = p * r + 8.3334519073E-3f;
  p = p * r + 4.1665795894E-2f;
  p = p * r + 1.6666665459E-1f;
  p = p * r + 5.0000001201E-1f;
  float e = p * r2 + r + 1.0f;
  /* 2^n (n in [-150, 128]) as 2^n1 * 2^n2, both normal floats: the first
   * product is exact, the second rounds once, into the subnormals or to inf */
  int32_t n = (int32_t)fn, n1 = n >> 1, n2 = n - n1; /* GCC: >> of a negative is arithmetic */
  int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, sizeof s1);
  memcpy(&s2, &b2, sizeof s2);
  float y = e * s1 * s2;
  return x != x ? x : y;
}

/* Cephes' exp in double precision: n = round(x / ln 2), r = x - n ln 2 (in
 * two parts), exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)), times 2^n in two
 * halves so that results down to the subnormals come out right. About 1 ulp;
 * branch-free, so the compiler vectorises it. Outside (-745.13, 709.78) and
 * for NaN the arithmetic gives garbage (no trap: -fno-trapping-math) that the
 * last three selects replace, so x is not clamped first (17% faster, the
 * same bits). */
static inline double tsi_exp(double x) {
  /* n = round(x / ln 2) by the 1.5 * 2^52 trick; n1 + n2 = n, each a small
   * integer, turned into 2^n1 and 2^n2 by integer adds and shifts of bits */
  const double magic = 6755399441055744.0;
  double fn = (x * 1.4426950408889634073599 + magic) - magic;
  double r = x - fn * 6.93145751953125E-1 - fn * 1.42860682030941723212E-6;
  double rr = r * r;
  double px = r * ((1.26177193074810590878E-4 * rr + 3.02994407707441961300E-2) * rr +
                   9.99999999999999999910E-1);
  double qx = ((3.00198505138664455042E-6 * rr + 2.52448340349684104192E-3) * rr +
               2.27265548208155028766E-1) * rr + 2.00000000000000000009E0;
  double e = 1.0 + 2.0 * px / (qx - px);
  double t1 = fn * 0.5 + magic, fn1 = t1 - magic, t2 = (fn - fn1) + magic;
  uint64_t b1, b2;
  memcpy(&b1, &t1, sizeof b1);
  memcpy(&b2, &t2, sizeof b2);
  b1 = (b1 + 1023) << 52;
  b2 = (b2 + 1023) << 52;
  double s1, s2;
  memcpy(&s1, &b1, sizeof s1);
  memcpy(&s2, &b2, sizeof s2);
  double y = e * s1 * s2;
  y = x > 709.782712893384 ? __builtin_inf() : y;
  y = x < -745.1332191019412 ? 0.0 : y;
  return x != x ? x : y;
}

/* expm1 in float32, branch-free: below 1 in magnitude the Taylor series to
 * x^10 (the first term left out is under 3e-8 of the result), from there
 * tsi_expf(x) - 1; -0, NaN and +-inf as expm1f's. (libm's expm1f is a call
 * per element: elu, selu and celu were 30x slower than exp.) */
static inline float tsi_expm1f(float x) {
  float p = 1.0f / 3628800.0f;
  p = p * x + 1.0f / 362880.0f;
  p = p * x + 1.0f / 40320.0f;
  p = p * x + 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  float small = x == 0 ? x : x + x * x * p;
  float big = tsi_expf(x) - 1.0f;
  return (x < 1.0f && x > -1.0f) ? small : big;
}

/* expm1 in double precision, the same way: below ln 2 in magnitude the
 * Taylor series to x^17 (the first term left out is under 1e-18 of the
 * result), from there tsi_exp(x) - 1 (whose result is then at least 1/2 in
 * magnitude, so the subtraction adds no more than rounding). */
static inline double tsi_expm1(double x) {
  double p = 1.0 / 355687428096000.0; /* 1/17!, then 1/16! ... 1/2! */
  p = p * x + 1.0 / 20922789888000.0;
  p = p * x + 1.0 / 1307674368000.0;
  p = p * x + 1.0 / 87178291200.0;
  p = p * x + 1.0 / 6227020800.0;
  p = p * x + 1.0 / 479001600.0;
  p = p * x + 1.0 / 39916800.0;
  p = p * x + 1.0 / 3628800.0;
  p = p * x + 1.0 / 362880.0;
  p = p * x + 1.0 / 40320.0;
  p = p * x + 1.0 / 5040.0;
  p = p * x + 1.0 / 720.0;
  p = p * x + 1.0 / 120.0;
  p = p * x + 1.0 / 24.0;
  p = p * x + 1.0 / 6.0;
  p = p * x + 0.5;
  double small = x == 0 ? x : x + x * x * p;
  double big = tsi_exp(x) - 1.0;
  return (x < 0.6931471805599453 && x > -0.6931471805599453) ? small : big;
}

/* Cephes' tanhf, branch-free: |x| >= 0.625, 1 - 2 / (exp(2|x|) + 1) with
 * the sign of x (exp's overflow to inf gives 1); below, x + x^3 P(x^2) with
 * Cephes' degree-4 P. Within 1 ulp of mpmath on spec/fixtures/tanh.lua's
 * 4118 cases (libm's: 2); -0, NaN and +-inf come out as tanhf's.
 * (libm's tanhf is a call per element, 60x slower on 1M floats.) */
static inline float tsi_tanhf(float x) {
  float z = x < 0 ? -x : x;
  float e = tsi_expf(z + z), big = 1.0f - 2.0f / (e + 1.0f);
  big = x < 0 ? -big : big;
  float w = x * x;
  float p = -5.70498872745E-3f;
  p = p * w + 2.06390887954E-2f;
  p = p * w - 5.37397155531E-2f;
  p = p * w + 1.33314422036E-1f;
  p = p * w - 3.33332819422E-1f;
  float small = x == 0 ? x : p * w * x + x;
  return z >= 0.625f ? big : small;
}

/* Cephes' tanh in double precision, the same way: x + x^3 P(x^2) / Q(x^2)
 * (degrees 2 and 3) below 0.625. Within 1 ulp on the same cases (libm's: 2). */
static inline double tsi_tanh(double x) {
  double z = x < 0 ? -x : x;
  double e = tsi_exp(z + z), big = 1.0 - 2.0 / (e + 1.0);
  big = x < 0 ? -big : big;
  double w = x * x;
  double p = (-9.64399179425052238628E-1 * w - 9.92877231001918586564E1) * w -
             1.61468768441708447952E3;
  double q = ((w + 1.12811678491632931402E2) * w + 2.23548839060100448583E3) * w +
             4.84406305325125486048E3;
  double small = x == 0 ? x : x + x * w * (p / q);
  return z >= 0.625 ? big : small;
}

/* fdlibm's log in double precision, branch-free: x = 2^k (1 + f) with
 * 1 + f in [sqrt(2)/2, sqrt(2)), s = f / (2 + f), log(1 + f) = f - f^2/2 +
 * s (f^2/2 + R(s^2)) with fdlibm's degree-14 R, plus k ln 2 in two parts.
 * Under 1 ulp. Subnormals are scaled by 2^54 first; 0 gives -inf, a negative
 * number NaN, inf and NaN themselves. k comes out of the exponent bits as a
 * double by the 2^52 trick, so the loop stays in 64-bit lanes (AVX2 has no
 * int64 to double conversion). */
static inline double tsi_log(double x) {
  const double two54 = 18014398509481984.0, magic = 4503599627370496.0;
  double xs = x < 2.2250738585072014e-308 ? x * two54 : x;
  double kadj = x < 2.2250738585072014e-308 ? 54.0 : 0.0;
  uint64_t u;
  memcpy(&u, &xs, sizeof u);
  /* exponent + 1 when the mantissa is at least sqrt(2) */
  u += (uint64_t)(0x3ff00000 - 0x3fe6a09e) << 32;
  uint64_t kb = (u >> 52) | 0x4330000000000000ull; /* 2^52 + biased exponent */
  double dk;
  memcpy(&dk, &kb, sizeof dk);
  dk = dk - (magic + 1023.0) - kadj;
  u = (u & 0x000fffffffffffffull) + ((uint64_t)0x3fe6a09e << 32);
  double m;
  memcpy(&m, &u, sizeof m);
  double f = m - 1.0, hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, w = z * z;
  double t1 = w * (3.999999999940941908e-01 +
                   w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  double t2 = z * (6.666666666666735130e-01 +
                   w * (2.857142874366239149e-01 +
                        w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  double r = t2 + t1;
  double y = s * (hfsq + r) + dk * 1.90821492927058770002e-10 - hfsq + f +
             dk * 6.93147180369123816490e-01;
  y = x == 0 ? -__builtin_inf() : y;
  y = x < 0 ? __builtin_nan("") : y;
  y = x == __builtin_inf() ? x : y;
  return x != x ? x : y;
}

/* float32 log through tsi_log: the double result rounds once to float. */
static inline float tsi_logf(float x) { return (float)tsi_log((double)x); }

/* log1p in float32: 1 + x is exact in double for |x| >= 2^-29 (a float has
 * 24 significant bits), and below that log1p(x) rounds to x; -0, -1, NaN and
 * +-inf as log1pf's. Branch-free, so it vectorises (libm's log1pf does not). */
static inline float tsi_log1pf(float x) {
  float l = (float)tsi_log(1.0 + (double)x);
  return (x < 0x1p-29f && x > -0x1p-29f) ? x : l;
}

#endif
