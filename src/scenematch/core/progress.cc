#include "scenematch/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace sm {
namespace {
bool g_enabled = true;
}

void Progress::set_enabled(bool enabled) { g_enabled = enabled; }

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s)) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  }
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      tty_(isatty(2)) {}

Progress::~Progress() { finish(); }

void Progress::step(int64_t n, const std::string& suffix) {
  done_ += n;
  if (!suffix.empty()) suffix_ = suffix;
  if (done_ >= total_) return finish();
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final) {
  if (!g_enabled) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = elapsed > 0 ? done_ / elapsed : 0;
  double eta = rate > 0 ? (total_ - done_) / rate : NAN;
  const int width = 24;
  int filled = total_ > 0 ? static_cast<int>(width * std::min<double>(1.0, double(done_) / total_)) : 0;
  std::string bar(filled, '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "%s%s [%s] %lld/%lld %.1f %s/s elapsed %s eta %s %s%s", tty_ ? "\r\033[K" : "", label_.c_str(),
               bar.c_str(), static_cast<long long>(done_), static_cast<long long>(total_), rate, unit_.c_str(),
               format_duration(elapsed).c_str(), final ? "0s" : format_duration(eta).c_str(), suffix_.c_str(),
               (!tty_ || final) ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace sm
