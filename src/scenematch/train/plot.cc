#include "scenematch/train/plot.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "scenematch/core/error.h"

namespace sm {
namespace {

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  return false;
}

// gnuplot single-quoted string: no escapes except '' for a quote.
std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool warn_once(const std::string& why) {
  static bool warned = false;
  if (!warned) std::fprintf(stderr, "warning: no training-curve plot: %s\n", why.c_str());
  warned = true;
  return false;
}

}  // namespace

bool plot_curves(const std::vector<Json>& records, const std::string& png_path, const std::string& title) {
  if (!on_path("gnuplot")) return warn_once("gnuplot is not installed (scripts/install-deps.sh installs it)");
  const std::string tmp = cat(png_path, ".tmp.", getpid()), err = tmp + ".err";
  std::ostringstream script;
  script << "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) { set terminal pngcairo size 960,540 } "
            "else { set terminal png size 960,540 }\n"
         << "set output " << quoted(tmp) << "\n"
         << "set title " << quoted(title) << " noenhanced\n"
         << "set xlabel 'epoch'\nset ylabel 'training loss (mean per step)'\nset y2label 'validation rSum'\n"
         << "set ytics nomirror\nset y2tics\nset grid\nset key top center\nset xtics 1\n"
         << "$curves << EOD\n";
  for (const auto& r : records)
    script << r.value("epoch", 0) << " " << r.value("loss", 0.0) << " " << r.value("rsum", 0.0) << "\n";
  script << "EOD\n"
         << "plot $curves using 1:2 with linespoints lw 2 axes x1y1 title 'loss', "
            "$curves using 1:3 with linespoints lw 2 axes x1y2 title 'validation rSum'\n";

  FILE* pipe = ::popen(("gnuplot >/dev/null 2>" + shell_quoted(err)).c_str(), "w");
  if (!pipe) return warn_once("cannot start gnuplot");
  const std::string text = script.str();
  // A gnuplot that dies early must not take the training run down with SIGPIPE.
  auto previous = std::signal(SIGPIPE, SIG_IGN);
  std::fwrite(text.data(), 1, text.size(), pipe);
  const int status = ::pclose(pipe);
  std::signal(SIGPIPE, previous);
  std::string reason;
  {
    std::ifstream in(err);
    std::getline(in, reason);
  }
  std::remove(err.c_str());
  if (status != 0 || std::rename(tmp.c_str(), png_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return warn_once(cat("gnuplot failed", reason.empty() ? "" : ": " + reason));
  }
  return true;
}

}  // namespace sm
