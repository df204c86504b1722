// scenematch launch: runs N copies of a scenematch command on this machine as
// one distributed job, with torchrun's variables set for each (RANK,
// LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and the threads divided
// among them. The first rank to fail ends the job: the others are stopped and
// the launcher exits non-zero naming that rank.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "command.h"
#include "scenematch/core/error.h"
#include "scenematch/core/process_group.h"

namespace sm::cli {
namespace {

struct LaunchOptions {
  int nproc = 2, nnodes = 1, node_rank = 0, threads = 0, master_port = 0;
  std::string master_addr = "127.0.0.1";
  std::vector<std::string> command;
};

std::string describe_status(int status) {
  if (WIFEXITED(status)) return cat("exited with status ", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return cat("was killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  return cat("ended with wait status ", status);
}

// Stops every rank still running: SIGTERM, then SIGKILL after a grace period.
void stop_all(std::vector<pid_t>& pids) {
  for (pid_t pid : pids)
    if (pid > 0) ::kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (pid_t& pid : pids) {
    while (pid > 0) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = 0;
      } else if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = 0;
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
}

void launch(const LaunchOptions& o) {
  if (o.nproc < 1 || o.nnodes < 1 || o.node_rank < 0 || o.node_rank >= o.nnodes)
    fail("launch: need --nproc >= 1, --nnodes >= 1 and 0 <= --node-rank < --nnodes");
  if (o.command.empty()) fail("launch: give the command after --, e.g. scenematch launch --nproc 2 -- train ...");
  if (o.nnodes > 1 && o.master_port == 0)
    fail("launch: a job on several machines needs the same --master-port (and --master-addr) on every machine");
  const int port = o.master_port > 0 ? o.master_port : free_loopback_port();
  const int total_threads = o.threads > 0 ? o.threads : static_cast<int>(std::thread::hardware_concurrency());
  const int threads = std::max(1, total_threads / o.nproc);
  bool has_threads = false;
  for (const auto& a : o.command) has_threads |= a == "--threads" || a.rfind("--threads=", 0) == 0;

  std::vector<std::string> args = {"/proc/self/exe"};
  args.insert(args.end(), o.command.begin(), o.command.end());
  if (!has_threads) args.insert(args.end(), {"--threads", std::to_string(threads)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::fflush(nullptr);
  std::vector<pid_t> pids(o.nproc, 0);
  for (int local = 0; local < o.nproc; ++local) {
    const int rank = o.node_rank * o.nproc + local;
    const pid_t pid = ::fork();
    if (pid < 0) {
      stop_all(pids);
      fail("launch: cannot start rank ", rank, " (fork failed)");
    }
    if (pid == 0) {
      // A launcher that is killed takes its ranks with it.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::setenv("RANK", std::to_string(rank).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(o.nnodes * o.nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", o.master_addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
      ::execv(argv[0], argv.data());
      std::fprintf(stderr, "launch: cannot run %s for rank %d\n", argv[0], rank);
      std::_Exit(127);
    }
    pids[local] = pid;
    std::fprintf(stderr, "launch: rank %d is pid %d\n", rank, static_cast<int>(pid));
  }

  for (int running = o.nproc; running > 0; --running) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) break;
    int local = 0;
    while (local < o.nproc && pids[local] != pid) ++local;
    if (local == o.nproc) continue;
    pids[local] = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) continue;
    const int rank = o.node_rank * o.nproc + local;
    stop_all(pids);
    fail("launch: rank ", rank, " ", describe_status(status), "; stopped the other ranks");
  }
}

CommandRegistrar reg("launch", [](CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "launch", "run a scenematch command as N local processes of one distributed job (like torchrun)");
  static LaunchOptions o;
  cmd->add_option("--nproc", o.nproc, "processes on this machine")->capture_default_str();
  cmd->add_option("--nnodes", o.nnodes, "machines in the job (run the same command on each)")->capture_default_str();
  cmd->add_option("--node-rank", o.node_rank, "this machine's index, 0 on the machine at --master-addr")
      ->capture_default_str();
  cmd->add_option("--master-addr", o.master_addr, "address of the machine with rank 0")->capture_default_str();
  cmd->add_option("--master-port", o.master_port, "rank 0's TCP port (default: a free port, one machine only)");
  cmd->add_option("--threads", o.threads, "threads of this machine, divided among its processes (default: all)");
  cmd->add_option("command", o.command, "the scenematch command and its flags, after --")->required();
  cmd->callback([] { launch(o); });
});

}  // namespace
}  // namespace sm::cli
