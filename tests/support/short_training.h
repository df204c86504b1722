// A few optimiser steps on one fixed batch, for the model tests' "training
// lowers the loss" checks: every model's loss must fall when it trains on
// the same pairs, or its gradients do not reach what the loss measures.
#pragma once
#include <torch/torch.h>

#include "scenematch/models/matcher.h"

namespace sm::testing {

struct LossCurve {
  double first = 0, last = 0;  // the loss at the first and at the last step
};

// `steps` Adam steps at learning rate `lr` on model.loss(images, captions).
inline LossCurve adam_steps(Matcher& model, const ImageBatch& images, const CaptionBatch& captions, double lr,
                            int steps) {
  torch::optim::Adam adam(model.parameters(), torch::optim::AdamOptions(lr));
  LossCurve curve;
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    LossOutput out = model.loss(images, captions);
    out.total.backward();
    adam.step();
    (step == 0 ? curve.first : curve.last) = out.total.item<double>();
  }
  return curve;
}

}  // namespace sm::testing
