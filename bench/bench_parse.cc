// Caption parsing throughput on 1 and 2 threads (and the time to parse a
// COCO-train-sized file of 566,000 captions), the cost of Link Grammar alone
// (one parse of each caption: the floor), the full/partial/tagger-only
// counts, and, given the generator's ground truth, how many of its relation
// triplets the parser recovers.
//
//   build/bench_parse CAPTIONS [GROUND_TRUTH.jsonl] [LIMIT]
//   build/bench_parse worlds/small/dev_caps.txt worlds/small/dev_caps_gt.jsonl
//   build/bench_parse ../shared/real/f30k_dev_caps.txt - 5070
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "scenematch/core/progress.h"
#include "scenematch/text/caption_parser.h"
#include "scenematch/text/parse_cache.h"

namespace {

std::vector<std::string> read_lines(const std::string& path, size_t limit) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; lines.size() < limit && std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct Seconds {
  double wall, cpu;
};

// Wall and process CPU time: on a machine shared with other jobs the CPU
// time says what the parser costs, the wall time what it got.
Seconds seconds_to_parse(const std::vector<std::string>& captions, int threads, std::vector<sm::CaptionGraph>& graphs) {
  const auto start = std::chrono::steady_clock::now();
  const std::clock_t cpu_start = std::clock();
  graphs = sm::caption_graphs(captions, "", true, threads);  // no cache file: always parses
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          double(std::clock() - cpu_start) / CLOCKS_PER_SEC};
}

void triplet_recovery(const std::vector<std::string>& captions, const std::string& gt_path) {
  const auto graphs = sm::caption_graphs(captions, "", true, 2);
  std::ifstream in(gt_path);
  size_t truth = 0, predicted = 0, matched = 0, line = 0;
  std::map<std::string, int> missed;
  for (std::string text; line < graphs.size() && std::getline(in, text); ++line) {
    std::multiset<std::string> want, got;
    const auto gt = nlohmann::json::parse(text);
    for (const auto& r : gt["relations"])
      want.insert(r["subject"].get<std::string>() + "|" + r["predicate"].get<std::string>() + "|" +
                  r["object"].get<std::string>());
    for (const auto& r : graphs[line].relations) got.insert(r.subject + "|" + r.predicate + "|" + r.object);
    truth += want.size();
    predicted += got.size();
    for (const auto& t : want) {
      if (auto it = got.find(t); it != got.end()) {
        ++matched;
        got.erase(it);
      } else if (missed.size() < 12) {
        missed[captions[line] + "  -> want " + t]++;
      }
    }
  }
  std::printf("triplets: %zu in the ground truth, %zu predicted, %zu matched: recall %.1f%%, precision %.1f%%\n", truth,
              predicted, matched, 100.0 * matched / std::max<size_t>(truth, 1),
              100.0 * matched / std::max<size_t>(predicted, 1));
  for (const auto& [example, n] : missed) std::printf("  missed: %s\n", example.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CAPTIONS [GROUND_TRUTH.jsonl|-] [LIMIT]\n", argv[0]);
    return 2;
  }
  sm::Progress::set_enabled(false);
  const size_t limit = argc > 3 ? std::stoul(argv[3]) : 3000;
  const auto captions = read_lines(argv[1], limit);
  std::vector<sm::CaptionGraph> graphs;
  for (int threads : {1, 2}) {
    const Seconds s = seconds_to_parse(captions, threads, graphs);
    const double rate = captions.size() / s.wall;
    std::printf(
        "%d thread%s: %zu captions in %.2f s = %.0f captions/s; 566,000 captions: %.1f min; "
        "%.2f s CPU = %.0f captions per CPU-second\n",
        threads, threads > 1 ? "s" : "", captions.size(), s.wall, rate, 566000.0 / rate / 60.0, s.cpu,
        captions.size() / s.cpu);
  }
  // The floor: Link Grammar alone, one parse of each caption as written, on
  // this thread. parse() pays it up to five times (sentence and "I see"
  // readings, inner articles, null words).
  {
    sm::CaptionParser parser;
    size_t complete = 0;
    const std::clock_t cpu_start = std::clock();
    for (const auto& caption : captions) complete += parser.parse_once(caption);
    const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    std::printf(
        "Link Grammar alone, one parse of each caption as written: %.2f s CPU = %.0f captions per CPU-second "
        "(%zu complete linkages)\n",
        cpu, captions.size() / cpu, complete);
  }
  std::map<std::string, size_t> quality;
  size_t with_relation = 0;
  for (const auto& g : graphs) {
    ++quality[g.quality];
    with_relation += !g.relations.empty();
  }
  std::printf("quality: %zu full, %zu partial, %zu tagger-only, %zu empty; %zu (%.1f%%) with at least one relation\n",
              quality["full"], quality["partial"], quality["tagger"], quality["empty"], with_relation,
              100.0 * with_relation / std::max<size_t>(graphs.size(), 1));
  if (argc > 2 && std::string(argv[2]) != "-") triplet_recovery(captions, argv[2]);
  return 0;
}
