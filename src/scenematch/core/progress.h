// A progress bar on stderr with rate and ETA. On a terminal it redraws one
// line; otherwise (logs, CI) it prints a line every few seconds.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace sm {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  // Advances by n and sets a free-form suffix (e.g. "loss 0.231").
  void step(int64_t n = 1, const std::string& suffix = "");
  void finish();
  static void set_enabled(bool enabled);  // --quiet / --json turn it off

 private:
  void draw(bool final);
  std::string label_, unit_, suffix_;
  int64_t total_, done_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool tty_, finished_ = false;
};

// "1m23s", "4.2s"
std::string format_duration(double seconds);

}  // namespace sm
