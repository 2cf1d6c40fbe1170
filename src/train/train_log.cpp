// The JSONL training log and its SVG loss curve.
#include "train/train_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "smol/atomic_file.hpp"
#include "smol/error.hpp"

namespace smol {

TrainLog::TrainLog(const std::filesystem::path& file, int64_t resume_step) : file_(file) {
  if (resume_step > 0) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      try {
        nlohmann::json r = nlohmann::json::parse(line);
        if (r.value("step", int64_t{0}) <= resume_step) records_.push_back(std::move(r));
      } catch (const nlohmann::json::exception&) {
        // A line torn by a crash: drop it.
      }
    }
  }
  // The kept records replace the file in one rename: a crash now cannot lose the history.
  std::string kept;
  for (const auto& r : records_) kept += r.dump() + "\n";
  write_file_atomic(file, kept);
  out_.open(file, std::ios::app);
  if (!out_) throw Error(file.string() + ": cannot write the training log");
}

void TrainLog::append(const nlohmann::json& record) {
  records_.push_back(record);
  out_ << record.dump() << "\n";
  out_.flush();
}

namespace {

// A "nice" tick step (1, 2 or 5 times a power of ten) giving about `target` ticks.
double nice_step(double span, int target) {
  const double raw = span / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10.0 * mag;
}

std::string polyline(const std::vector<std::pair<double, double>>& pts, const char* color, double width) {
  std::string s = fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" points=\"", color, width);
  for (const auto& [x, y] : pts) s += fmt::format("{:.1f},{:.1f} ", x, y);
  return s + "\"/>\n";
}

}  // namespace

void write_loss_svg(const std::filesystem::path& file, const std::vector<nlohmann::json>& records) {
  std::vector<std::pair<double, double>> train, val;
  for (const auto& r : records) {
    const std::string type = r.value("type", "");
    if (type == "train" && r.contains("loss") && r["loss"].is_number()) train.emplace_back(r["step"], r["loss"]);
    if (type == "eval" && r.contains("val_loss") && r["val_loss"].is_number()) val.emplace_back(r["step"], r["val_loss"]);
  }
  constexpr double W = 800, H = 450, left = 70, right = 20, top = 40, bottom = 50;
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (!train.empty() || !val.empty()) {
    x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
    for (const auto* series : {&train, &val}) {
      for (const auto& [x, y] : *series) {
        if (!std::isfinite(y)) continue;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
    }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    const double pad = 0.05 * (y1 - y0);
    y0 -= pad, y1 += pad;
  }
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * (W - left - right); };
  auto sy = [&](double y) { return top + (y1 - y) / (y1 - y0) * (H - top - bottom); };

  std::ostringstream svg;
  svg << fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
                     "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n", W, H);
  svg << fmt::format("<text x=\"{}\" y=\"24\" font-size=\"15\" text-anchor=\"middle\">smol train: loss</text>\n", W / 2);
  const double ystep = nice_step(y1 - y0, 6), xstep = nice_step(x1 - x0, 8);
  for (double y = std::ceil(y0 / ystep) * ystep; y <= y1; y += ystep) {
    svg << fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", left,
                       W - right, sy(y), sy(y));
    svg << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.4g}</text>\n", left - 6, sy(y) + 4, y);
  }
  for (double x = std::ceil(x0 / xstep) * xstep; x <= x1; x += xstep) {
    svg << fmt::format("<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", sx(x), sx(x),
                       top, H - bottom);
    svg << fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.6g}</text>\n", sx(x), H - bottom + 16, x);
  }
  svg << fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n", left, top,
                     W - left - right, H - top - bottom);
  svg << fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">step</text>\n", (left + W - right) / 2, H - 12);
  auto scaled = [&](const std::vector<std::pair<double, double>>& pts) {
    std::vector<std::pair<double, double>> out;
    for (const auto& [x, y] : pts) {
      if (std::isfinite(y)) out.emplace_back(sx(x), sy(y));
    }
    return out;
  };
  if (!train.empty()) svg << polyline(scaled(train), "#1f77b4", 1.5);
  if (!val.empty()) {
    svg << polyline(scaled(val), "#ff7f0e", 2);
    for (const auto& [x, y] : scaled(val)) {
      svg << fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#ff7f0e\"/>\n", x, y);
    }
  }
  svg << fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#1f77b4\" stroke-width=\"2\"/>"
                     "<text x=\"{3}\" y=\"{4}\">train loss</text>\n", W - 200, W - 180, top + 16, W - 175, top + 20);
  svg << fmt::format("<line x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\" stroke=\"#ff7f0e\" stroke-width=\"2\"/>"
                     "<text x=\"{3}\" y=\"{4}\">validation loss</text>\n", W - 200, W - 180, top + 34, W - 175, top + 38);
  svg << "</svg>\n";

  write_file_atomic(file, svg.str());
}

}  // namespace smol
