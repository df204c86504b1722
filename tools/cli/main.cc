#include <cstdio>
#include <map>

#include "command.h"
#include "scenematch/core/error.h"
#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"

namespace sm::cli {
namespace {
std::map<std::string, CommandSetup>& commands() {
  static std::map<std::string, CommandSetup> c;
  return c;
}
}  // namespace

CommandRegistrar::CommandRegistrar(const std::string& name, CommandSetup setup) { commands()[name] = std::move(setup); }

void add_common_options(CLI::App* cmd, CommonOptions& opts, bool with_json) {
  cmd->add_option("--threads", opts.threads, "CPU threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--device", opts.device, "cpu, cuda or cuda:N")->capture_default_str();
  if (with_json) cmd->add_flag("--json", opts.json, "print machine-readable JSON to stdout");
  cmd->add_flag("--quiet", opts.quiet, "no progress bars");
}

void apply_common_options(const CommonOptions& opts) {
  set_threads(opts.threads);
  Progress::set_enabled(!opts.quiet && !opts.json);
}

}  // namespace sm::cli

int main(int argc, char** argv) {
  sm::ensure_blas_kernels(argc, argv);
  CLI::App app{"scenematch: relation-aware image-text matching and retrieval"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "help for every command");
  for (auto& [name, setup] : sm::cli::commands()) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    const auto* sub = app.get_subcommands().empty() ? nullptr : app.get_subcommands().front();
    std::fprintf(stderr, "scenematch %s: error: %s\n", sub ? sub->get_name().c_str() : "", e.what());
    return 1;
  }
  return 0;
}
