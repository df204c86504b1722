// scenematch import: an authors' released checkpoint as a scenematch checkpoint
// (docs/models/gsmn.md, "Importing the released models").
#include <cstdio>

#include "command.h"
#include "scenematch/models/release_import.h"

namespace sm::cli {
namespace {

CommandRegistrar reg("import", [](CLI::App& app) {
  auto* cmd = app.add_subcommand("import", "convert an authors' released checkpoint into a scenematch checkpoint");
  static ImportOptions options;
  static std::string out;
  cmd->add_option("--from", options.from, "whose release: gsmn or vse_infty")
      ->required()
      ->check(CLI::IsMember({"gsmn", "vse_infty"}));
  cmd->add_option("--checkpoint", options.checkpoint, "the released file (e.g. model_best.pth.tar)")->required();
  cmd->add_option("--vocab", options.vocab, "the release's vocab.json (SCAN format; the checkpoints hold none)");
  cmd->add_option("--out", out, "scenematch checkpoint to write")->required();
  cmd->callback([] {
    ImportedModel m = import_release(options);
    save_checkpoint(out, m.bundle, Json{{"imported", m.provenance}});
    std::printf("%s: %s from %s (its epoch %s, best rSum %s)\n", out.c_str(), m.bundle.name.c_str(),
                options.checkpoint.c_str(), m.provenance["epoch"].dump().c_str(),
                m.provenance["best_rsum"].dump().c_str());
  });
});

}  // namespace
}  // namespace sm::cli
