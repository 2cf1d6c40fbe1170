// Parameter checks live apart from the sampler so the CLI and server can validate user input
// before any model is loaded.
#include <cmath>
#include <cstdio>
#include <string>

#include "smol/error.hpp"
#include "smol/sampler.hpp"

namespace smol {
namespace {

[[noreturn]] void reject(const char* field, double value, const char* rule) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "sampling parameter %s = %g is invalid: %s", field, value, rule);
  throw Error(buf);
}

}  // namespace

void SamplingParams::validate() const {
  // Written as !(ok) so that NaN is rejected too.
  if (!(temperature >= 0.0f) || std::isinf(temperature))
    reject("temperature", temperature, "must be a finite number >= 0 (0 means greedy)");
  if (!(top_p > 0.0f && top_p <= 1.0f))
    reject("top_p", top_p, "must be in (0, 1] (1 disables it)");
  if (!(min_p >= 0.0f && min_p <= 1.0f))
    reject("min_p", min_p, "must be in [0, 1] (0 disables it)");
  if (!(repeat_penalty > 0.0f) || std::isinf(repeat_penalty))
    reject("repeat_penalty", repeat_penalty, "must be a finite number > 0 (1 disables it)");
  if (repeat_last_n < -1)
    reject("repeat_last_n", repeat_last_n, "must be >= -1 (-1: whole history, 0: off)");
  if (!std::isfinite(presence_penalty))
    reject("presence_penalty", presence_penalty, "must be finite");
  if (!std::isfinite(frequency_penalty))
    reject("frequency_penalty", frequency_penalty, "must be finite");
}

}  // namespace smol
