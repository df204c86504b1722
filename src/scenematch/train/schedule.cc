#include "scenematch/train/schedule.h"

#include <cmath>

namespace sm {

double learning_rate(const Config& config, int epoch) {
  const double lr = cfg_get<double>(config, "lr");
  const double decay = cfg_get<double>(config, "lr_decay", 0.1);
  if (config.contains("lr_milestones")) {
    const Json& milestones = config.at("lr_milestones");
    if (!milestones.is_array())
      fail("config: key 'lr_milestones' must be a list of epochs, e.g. [15, 25]; got ", milestones.dump());
    int passed = 0;
    for (const Json& m : milestones) {
      if (!m.is_number_integer() || m.get<int>() <= 0)
        fail("config: key 'lr_milestones' holds ", m.dump(), "; each milestone must be a positive epoch number");
      if (epoch >= m.get<int>()) ++passed;
    }
    return lr * std::pow(decay, passed);
  }
  const int every = cfg_get<int>(config, "lr_update", 0);
  if (every <= 0) return lr;
  return lr * std::pow(decay, epoch / every);
}

uint64_t epoch_seed(uint64_t seed, int epoch) {
  // SplitMix64 finaliser over both inputs: nearby seeds and epochs give unrelated streams.
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace sm
