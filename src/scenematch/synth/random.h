// A random stream that gives the same numbers on every machine and standard
// library: uniforms come straight from mt19937_64's bits (the std
// distributions are implementation-defined) and normals from a sum of
// uniforms (only + and *, so no libm rounding differences either).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace sm::synth {

// SplitMix64 finaliser: turns (seed, stream ids) into independent seeds.
inline uint64_t mix_seed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline uint64_t mix_seed(uint64_t a, uint64_t b) { return mix_seed(mix_seed(a) ^ (b * 0xd6e8feb86659fd93ull)); }
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return mix_seed(mix_seed(a, b), c); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // [0, n); the modulo bias is below 2^-40 for the small n used here.
  int below(int n) { return static_cast<int>(engine_() % static_cast<uint64_t>(n)); }
  int between(int lo, int hi) { return lo + below(hi - lo + 1); }  // inclusive
  bool chance(double p) { return uniform() < p; }
  // Approximately standard normal: Irwin-Hall sum of 4 uniforms, rescaled.
  float normal() {
    double s = uniform() + uniform() + uniform() + uniform() - 2.0;
    return static_cast<float>(s * 1.7320508075688772);
  }
  template <class T>
  const T& pick(const std::vector<T>& items) {
    return items[below(static_cast<int>(items.size()))];
  }
  template <class T>
  void shuffle(std::vector<T>& items) {  // Fisher-Yates with our own below()
    for (int i = static_cast<int>(items.size()) - 1; i > 0; --i) std::swap(items[i], items[below(i + 1)]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace sm::synth
