/* Branch-free float32 math that the compiler can vectorise (libm's expf is a
 * call per element). Cephes' expf: range reduction by ln 2, a degree-5
 * polynomial, scaling by 2^n through the exponent bits; within 2 ulp. */
#ifndef TS_VMATH_H
#define TS_VMATH_H

#include <stdint.h>
#include <string.h>

/* Hot float kernels are built twice, for the x86-64 baseline (SSE2) and for
 * AVX2, and the loader picks the one the CPU runs (an ifunc). Without FMA
 * contraction (-std=c11) both give the same bits. */
/* (Not under ThreadSanitizer: an ifunc resolver runs before its runtime is up.) */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) && !defined(__SANITIZE_THREAD__)
#define __SANITIZE_THREAD__ 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TS_NO_CLONES) && \
    !defined(__SANITIZE_THREAD__)
#define TSI_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define TSI_CLONES
#endif

static inline float tsi_expf(float x) {
  float c = x < 88.3762626647949f ? x : 88.3762626647949f;
  c = c > -87.3365447505531f ? c : -87.3365447505531f;
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
  int32_t bits = ((int32_t)fn + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float y = e * scale;
  y = x > 88.3762626647949f ? __builtin_inff() : y;
  y = x < -87.3365447505531f ? 0.0f : y;
  return x != x ? x : y;
}

#endif
