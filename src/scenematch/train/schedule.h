// The training schedule: step-decayed learning rate and per-epoch seeds.
#pragma once
#include <cstdint>

#include "scenematch/core/config.h"

namespace sm {

// lr0 * lr_decay^(epoch / lr_update), epoch counted from 0, as the released
// VSE++/SCAN/GSMN code does (lr / 10 every lr_update epochs with decay 0.1).
// With `lr_milestones` (a list of epochs, e.g. HREM's release [15, 25]) the
// rate is multiplied by lr_decay at each listed epoch instead, and
// `lr_update` is ignored.
double learning_rate(const Config& config, int epoch);

// The seed of one epoch's shuffle, a function of (seed, epoch) alone, so an
// epoch's batches never depend on what ran before (exact resume).
uint64_t epoch_seed(uint64_t seed, int epoch);

}  // namespace sm
