// scenematch parse: the caption parser on a caption file, as text or JSON lines.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "command.h"
#include "scenematch/core/atomic_file.h"
#include "scenematch/core/error.h"
#include "scenematch/text/caption_input.h"
#include "scenematch/text/parse_cache.h"

namespace sm::cli {
namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open (no such file?)");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

nlohmann::json to_json(const CaptionGraph& g) {
  nlohmann::json j;
  j["tokens"] = g.tokens;
  auto& pos = j["pos"] = nlohmann::json::array();
  for (Pos p : g.pos) pos.push_back(pos_name(p));
  auto& edges = j["edges"] = nlohmann::json::array();
  for (auto [a, b] : g.edges) edges.push_back({a, b});
  auto& objects = j["objects"] = nlohmann::json::array();
  for (const auto& o : g.objects)
    objects.push_back({{"token", o.token}, {"word", o.word}, {"attributes", o.attributes}, {"count", o.count}});
  auto& relations = j["relations"] = nlohmann::json::array();
  for (const auto& r : g.relations)
    relations.push_back({{"subject", r.subject}, {"predicate", r.predicate}, {"object", r.object}});
  j["quality"] = g.quality;
  return j;
}

// "man/NOUN in/ADP ...  objects: man[] shirt[red]  relations: (man, in, shirt)"
std::string to_text(const CaptionGraph& g) {
  std::string s;
  for (size_t i = 0; i < g.tokens.size(); ++i) s += cat(i ? " " : "", g.tokens[i], "/", pos_name(g.pos[i]));
  s += cat("\n  ", g.quality, "; objects:");
  for (const auto& o : g.objects) {
    s += cat(" ", o.count > 1 ? cat(o.count, "x") : "", o.word, "[");
    for (size_t i = 0; i < o.attributes.size(); ++i) s += cat(i ? "," : "", o.attributes[i]);
    s += "]";
  }
  s += "; relations:";
  for (const auto& r : g.relations) s += cat(" (", r.subject, ", ", r.predicate, ", ", r.object, ")");
  s += "; edges:";
  for (auto [a, b] : g.edges) s += cat(" ", a, "-", b);
  return s;
}

CommandRegistrar reg("parse", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("parse", "parse captions: tokens, POS tags, dependency edges and scene graphs");
  static CommonOptions common;
  static std::string captions_path, out_path;
  cmd->add_option("--captions", captions_path, "caption file, one caption per line (UTF-8)")->required();
  cmd->add_option("--out", out_path, "write the parses here as JSON lines instead of printing them");
  add_common_options(cmd, common);
  cmd->callback([] {
    apply_common_options(common);
    const auto captions = read_lines(captions_path);
    for (size_t i = 0; i < captions.size(); ++i)
      if (std::string problem = describe_caption_problem(captions[i]); !problem.empty())
        std::fprintf(stderr, "%s:%zu: %s\n", captions_path.c_str(), i + 1, problem.c_str());
    // No cache here: this command must not leave files next to the user's data.
    const auto graphs = caption_graphs(captions, "", true, common.threads);
    if (!out_path.empty()) {
      write_file_atomic(out_path, [&](std::ostream& out) {
        for (const auto& g : graphs) out << to_json(g).dump() << '\n';
      });
      return;
    }
    for (size_t i = 0; i < graphs.size(); ++i) {
      if (common.json)
        std::cout << to_json(graphs[i]).dump() << '\n';
      else
        std::cout << captions[i] << "\n  " << to_text(graphs[i]) << '\n';
    }
  });
});

}  // namespace
}  // namespace sm::cli
