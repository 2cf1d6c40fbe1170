// Reference encoders/decoders of the 256-element K-quant super-blocks (Q4_K, Q6_K).
// Decoding follows ggml's dequantize_row_q4_K / _q6_K exactly; encoding is our own search
// (see quant.hpp): good enough for tests and conversion, not tuned like ggml's imatrix path.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/quant_internal.hpp"
#include "smol/half.hpp"

namespace smol {

namespace {

int nearest_int(float f) { return static_cast<int>(std::lrintf(f)); }

struct ScaleMin {
  float scale = 0.0f;
  float min = 0.0f;  // subtracted: x ~ scale * q - min, min >= 0
};

// Fits x[0..n) ~ scale * q - min with q in [0, qmax] and min >= 0.
ScaleMin fit_scale_min(const float* x, int n, int qmax) {
  float lo = 0.0f, hi = x[0];
  for (int i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  if (hi <= lo) return {0.0f, -lo};
  auto error_of = [&](float scale, float min) {
    double err = 0.0;
    for (int i = 0; i < n; ++i) {
      const int q = scale > 0 ? std::clamp(nearest_int((x[i] + min) / scale), 0, qmax) : 0;
      const double diff = scale * q - min - x[i];
      err += diff * diff;
    }
    return err;
  };
  ScaleMin best{(hi - lo) / qmax, -lo};
  double best_err = error_of(best.scale, best.min);
  // Stretch or shrink the grid a little around the min/max fit, then refit scale and offset
  // to the chosen quants by least squares (the offset clamped so that min stays >= 0).
  for (int step = -8; step <= 8; ++step) {
    const float iscale = (qmax + 0.1f * step) / (hi - lo);
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int i = 0; i < n; ++i) {
      const int q = std::clamp(nearest_int(iscale * (x[i] - lo)), 0, qmax);
      sq += q;
      sqq += static_cast<double>(q) * q;
      sx += x[i];
      sqx += q * static_cast<double>(x[i]);
    }
    const double det = n * sqq - sq * sq;
    if (det <= 0) continue;
    double scale = (n * sqx - sq * sx) / det;
    double offset = (sqq * sx - sq * sqx) / det;
    if (offset > 0) {
      offset = 0;
      scale = sqx / sqq;
    }
    if (scale <= 0) continue;
    const ScaleMin cand{static_cast<float>(scale), static_cast<float>(-offset)};
    const double err = error_of(cand.scale, cand.min);
    if (err < best_err) {
      best = cand;
      best_err = err;
    }
  }
  return best;
}

// Fits x[0..n) ~ scale * q with q in [-32, 31]; the scale may be negative so that the
// extreme value can take the -32 end of the asymmetric range.
float fit_symmetric_scale(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0.0f) return 0.0f;
  float best = -max / 32.0f;
  double best_err = INFINITY;
  for (int k = 0; k <= 8; ++k) {
    const float c = 32.0f - 0.5f * k;
    for (float scale : {-max / c, max / (c - 1.0f)}) {
      double sqq = 0, sqx = 0;
      for (int i = 0; i < n; ++i) {
        const int q = std::clamp(nearest_int(x[i] / scale), -32, 31);
        sqq += static_cast<double>(q) * q;
        sqx += q * static_cast<double>(x[i]);
      }
      if (sqq <= 0) continue;
      const auto refined = static_cast<float>(sqx / sqq);
      double err = 0;
      for (int i = 0; i < n; ++i) {
        const int q = std::clamp(nearest_int(x[i] / refined), -32, 31);
        const double diff = refined * q - x[i];
        err += diff * diff;
      }
      if (err < best_err) {
        best_err = err;
        best = refined;
      }
    }
  }
  return best;
}

}  // namespace

void quantize_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    ScaleMin sub[8];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
      sub[j] = fit_scale_min(x + 32 * j, 32, 15);
      max_scale = std::max(max_scale, sub[j].scale);
      max_min = std::max(max_min, sub[j].min);
    }
    BlockQ4_K& out = y[b];
    out.d = f32_to_f16(max_scale / 63.0f);
    out.dmin = f32_to_f16(max_min / 63.0f);
    const float d = f16_to_f32(out.d), dmin = f16_to_f32(out.dmin);
    int ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
      ls[j] = d > 0 ? std::clamp(nearest_int(sub[j].scale / d), 0, 63) : 0;
      lm[j] = dmin > 0 ? std::clamp(nearest_int(sub[j].min / dmin), 0, 63) : 0;
    }
    std::memset(out.scales, 0, sizeof(out.scales));
    for (int j = 0; j < 8; ++j) {
      if (j < 4) {
        out.scales[j] = static_cast<uint8_t>(ls[j]);
        out.scales[j + 4] = static_cast<uint8_t>(lm[j]);
      } else {
        out.scales[j + 4] = static_cast<uint8_t>((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
        out.scales[j - 4] |= static_cast<uint8_t>((ls[j] >> 4) << 6);
        out.scales[j] |= static_cast<uint8_t>((lm[j] >> 4) << 6);
      }
    }
    uint8_t q[256];
    for (int j = 0; j < 8; ++j) {
      const float scale = d * ls[j], min = dmin * lm[j];
      for (int i = 0; i < 32; ++i) {
        q[32 * j + i] = scale > 0 ? static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + i] + min) / scale), 0, 15)) : 0;
      }
    }
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        out.qs[32 * c + l] = static_cast<uint8_t>(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
      }
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b) {
    const float d = f16_to_f32(x[b].d), dmin = f16_to_f32(x[b].dmin);
    const uint8_t* q = x[b].qs;
    for (int c = 0; c < 4; ++c, q += 32) {
      int sc0, m0, sc1, m1;
      q4_k_scale_min(2 * c, x[b].scales, &sc0, &m0);
      q4_k_scale_min(2 * c + 1, x[b].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
      for (int l = 0; l < 32; ++l) *y++ = d0 * (q[l] & 0xF) - min0;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] >> 4) - min1;
    }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b, x += 256) {
    float sub[16];
    float amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
      sub[j] = fit_symmetric_scale(x + 16 * j, 16);
      amax = std::max(amax, std::fabs(sub[j]));
    }
    BlockQ6_K& out = y[b];
    out.d = f32_to_f16(amax / 127.0f);
    const float d = f16_to_f32(out.d);
    int8_t q[256];
    for (int j = 0; j < 16; ++j) {
      const int sc = d > 0 ? std::clamp(nearest_int(sub[j] / d), -127, 127) : 0;
      out.scales[j] = static_cast<int8_t>(sc);
      const float scale = d * sc;
      for (int i = 0; i < 16; ++i) {
        q[16 * j + i] = static_cast<int8_t>(scale != 0 ? std::clamp(nearest_int(x[16 * j + i] / scale), -32, 31) : 0);
      }
    }
    std::memset(out.ql, 0, sizeof(out.ql));
    std::memset(out.qh, 0, sizeof(out.qh));
    for (int e = 0; e < 256; ++e) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int u = q[e] + 32;  // 0..63
      out.ql[64 * h + 32 * (k & 1) + l] |= static_cast<uint8_t>((u & 0xF) << (k < 2 ? 0 : 4));
      out.qh[32 * h + l] |= static_cast<uint8_t>((u >> 4) << (2 * k));
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / 256; ++b) {
    const float d = f16_to_f32(x[b].d);
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* sc = x[b].scales;
    for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

}  // namespace smol
