#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "scenematch/core/progress.h"
#include "scenematch/core/runtime.h"
#include "scenematch/eval/model_data.h"
#include "scenematch/models/losses.h"
#include "scenematch/synth/generator.h"
#include "scenematch/text/caption_parser.h"
#include "scenematch/text/hard_negatives.h"
#include "scenematch/text/parse_cache.h"
#include "scenematch/train/hard_negative_loss.h"
#include "scenematch/train/run.h"
#include "support/eval_fixture.h"

using namespace sm;

namespace {

using Edges = std::vector<std::pair<int, int>>;

// A parse written by hand: tokens with their tags, edges, objects (head,
// attribute tokens) and relations (subject head, predicate tokens, object head).
struct Parse {
  std::vector<std::pair<std::string, Pos>> words;
  Edges edges;
  std::vector<std::pair<int, std::vector<int>>> objects;
  std::vector<std::tuple<int, std::vector<int>, int>> relations;

  CaptionGraph graph() const {
    CaptionGraph g;
    for (const auto& [w, p] : words) {
      g.tokens.push_back(w);
      g.pos.push_back(p);
    }
    g.edges = edges;
    for (const auto& [head, attrs] : objects) {
      SceneObject o;
      o.token = head;
      o.word = g.tokens[head];
      o.attribute_tokens = attrs;
      for (int a : attrs) o.attributes.push_back(g.tokens[a]);
      g.objects.push_back(o);
    }
    for (const auto& [s, pred, o] : relations) {
      SceneRelation r;
      r.subject_token = s;
      r.object_token = o;
      r.predicate_tokens = pred;
      r.subject = g.tokens[s];
      r.object = g.tokens[o];
      for (int t : pred) r.predicate += (r.predicate.empty() ? "" : " ") + g.tokens[t];
      g.relations.push_back(r);
    }
    return g;
  }
};

constexpr Pos D = Pos::DET, N = Pos::NOUN, V = Pos::VERB, A = Pos::ADJ, P = Pos::ADP;

// "a man riding a brown horse next to a tree"
Parse man_riding_horse() {
  return {{{"a", D},
           {"man", N},
           {"riding", V},
           {"a", D},
           {"brown", A},
           {"horse", N},
           {"next", P},
           {"to", P},
           {"a", D},
           {"tree", N}},
          {{0, 1}, {1, 2}, {2, 5}, {3, 5}, {4, 5}, {5, 6}, {6, 7}, {7, 9}, {8, 9}},
          {{1, {}}, {5, {4}}, {9, {}}},
          {{1, {2}, 5}, {5, {6, 7}, 9}}};
}

// "a red car behind a big blue truck"
Parse red_car_blue_truck() {
  return {{{"a", D}, {"red", A}, {"car", N}, {"behind", P}, {"a", D}, {"big", A}, {"blue", A}, {"truck", N}},
          {{0, 2}, {1, 2}, {2, 3}, {3, 7}, {4, 7}, {5, 7}, {6, 7}},
          {{2, {1}}, {7, {5, 6}}},
          {{2, {3}, 7}}};
}

std::string text(const CaptionGraph& g) {
  std::string s;
  for (const auto& t : g.tokens) s += (s.empty() ? "" : " ") + t;
  return s;
}

std::vector<std::string> sorted(std::vector<std::string> words) {
  std::sort(words.begin(), words.end());
  return words;
}

}  // namespace

TEST(HardNegatives, RelationSwapExchangesTheNounPhrasesAndKeepsTheOtherRoles) {
  const CaptionGraph g = man_riding_horse().graph();
  auto neg = swap_relation(g, 0);
  ASSERT_TRUE(neg);
  EXPECT_EQ(text(*neg), "a brown horse riding a man next to a tree");
  EXPECT_EQ(neg->pos, (std::vector<Pos>{D, A, N, V, D, N, P, P, D, N}));
  // The swapped relation: its subject and object exchanged, its predicate kept.
  const SceneRelation& r = neg->relations[0];
  EXPECT_EQ(r.subject, "horse");
  EXPECT_EQ(r.subject_token, 2);
  EXPECT_EQ(r.object, "man");
  EXPECT_EQ(r.object_token, 5);
  EXPECT_EQ(r.predicate_tokens, (std::vector<int>{3}));
  // "next to a tree" now follows "man": the place's relation reads so.
  EXPECT_EQ(neg->relations[1].subject, "man");
  EXPECT_EQ(neg->relations[1].object, "tree");
  // Each object keeps its own attributes.
  ASSERT_EQ(neg->objects.size(), 3u);
  EXPECT_EQ(neg->objects[1].word, "horse");
  EXPECT_EQ(neg->objects[1].token, 2);
  EXPECT_EQ(neg->objects[1].attribute_tokens, (std::vector<int>{1}));
  EXPECT_EQ(neg->tokens[neg->objects[0].token], "man");
  // Links inside a phrase travel with it; a role's links reach the new filler.
  EXPECT_EQ(neg->edges, (Edges{{0, 2}, {1, 2}, {2, 3}, {3, 5}, {4, 5}, {5, 6}, {6, 7}, {7, 9}, {8, 9}}));
  EXPECT_EQ(sorted(neg->tokens), sorted(g.tokens));
}

TEST(HardNegatives, RelationSwapRefusesWhatItCannotExchangeCleanly) {
  Parse same = man_riding_horse();
  same.words[5].first = "man";  // "a man riding a brown man"
  EXPECT_FALSE(swap_relation(same.graph(), 0));
  Parse predicative = red_car_blue_truck();
  predicative.objects[0].second = {1, 3};  // an attribute after the head would change owner
  EXPECT_FALSE(swap_relation(predicative.graph(), 0));
  EXPECT_FALSE(swap_relation(man_riding_horse().graph(), 7));
}

TEST(HardNegatives, AttributeSwapExchangesOneAttributeBetweenTwoObjects) {
  const CaptionGraph g = red_car_blue_truck().graph();
  auto neg = swap_attributes(g, 0, 0, 1, 1);
  ASSERT_TRUE(neg);
  EXPECT_EQ(text(*neg), "a blue car behind a big red truck");
  EXPECT_EQ(neg->objects[0].attributes, (std::vector<std::string>{"blue"}));
  EXPECT_EQ(neg->objects[1].attributes, (std::vector<std::string>{"big", "red"}));
  EXPECT_EQ(neg->edges, g.edges);
  EXPECT_EQ(neg->relations[0].subject, "car");
  EXPECT_EQ(neg->relations[0].object, "truck");
  Parse both_red = red_car_blue_truck();
  both_red.words[6].first = "red";
  EXPECT_FALSE(swap_attributes(both_red.graph(), 0, 0, 1, 0));  // the truck is red already
  EXPECT_FALSE(swap_attributes(both_red.graph(), 0, 0, 1, 1));  // red for red changes nothing
  EXPECT_FALSE(swap_attributes(g, 0, 0, 0, 0));
}

TEST(HardNegatives, AbsentObjectReplacesTheHeadAndTheRelationsFollow) {
  const CaptionGraph g = man_riding_horse().graph();
  const CaptionGraph neg = replace_object(g, 1, "zebra");
  EXPECT_EQ(text(neg), "a man riding a brown zebra next to a tree");
  EXPECT_EQ(neg.objects[1].word, "zebra");
  EXPECT_EQ(neg.objects[1].attributes, (std::vector<std::string>{"brown"}));
  EXPECT_EQ(neg.relations[0].object, "zebra");
  EXPECT_EQ(neg.relations[1].subject, "zebra");
  EXPECT_EQ(neg.edges, g.edges);
}

TEST(HardNegatives, OneOfEachKindTheCaptionAllowsAndAbsentMeansAbsent) {
  Parse two_dogs = {{{"two", Pos::NUM}, {"dogs", N}}, {{0, 1}}, {{1, {}}}, {}};
  CaptionGraph plural = two_dogs.graph();
  plural.objects[0].count = 2;
  const CategoryPool pool =
      CategoryPool::from_graphs({man_riding_horse().graph(), red_car_blue_truck().graph(), plural});
  EXPECT_EQ(pool.plural, (std::vector<std::string>{"dogs"}));
  EXPECT_EQ(pool.singular, (std::vector<std::string>{"car", "horse", "man", "tree", "truck"}));

  const CaptionGraph g = red_car_blue_truck().graph();
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    const auto negatives = make_hard_negatives(g, {"horse", "man"}, pool, rng);
    ASSERT_EQ(negatives.size(), 3u);
    EXPECT_EQ(negatives[0].kind, NegativeKind::relation_swap);
    EXPECT_EQ(text(negatives[0].graph), "a big blue truck behind a red car");
    EXPECT_EQ(negatives[1].kind, NegativeKind::attribute_swap);
    EXPECT_EQ(negatives[2].kind, NegativeKind::absent_object);
    // The only category neither in the image nor in the caption.
    std::vector<std::string> words;
    for (const auto& o : negatives[2].graph.objects) words.push_back(o.word);
    EXPECT_TRUE(words == (std::vector<std::string>{"tree", "truck"}) ||
                words == (std::vector<std::string>{"car", "tree"}))
        << text(negatives[2].graph);
  }
  // Two dogs: no relation, no pair of attributes, and the only plural is theirs.
  std::mt19937_64 rng(1);
  const auto only = make_hard_negatives(plural, {}, pool, rng);
  EXPECT_TRUE(only.empty());
}

TEST(HardNegatives, RealCaptionsGiveNegativesOfEachKind) {
  CaptionParser parser;
  const CaptionGraph riding = parser.parse("A young man is riding a brown horse on the beach .");
  bool swapped = false;
  for (size_t r = 0; r < riding.relations.size(); ++r)
    if (auto neg = swap_relation(riding, r)) {
      swapped = true;
      EXPECT_EQ(sorted(neg->tokens), sorted(riding.tokens));
      EXPECT_EQ(neg->relations[r].subject, riding.relations[r].object);
      EXPECT_EQ(neg->relations[r].object, riding.relations[r].subject);
      EXPECT_EQ(neg->relations[r].predicate, riding.relations[r].predicate);
    }
  EXPECT_TRUE(swapped);
  const CaptionGraph colours = parser.parse("A black dog and a white cat sit on a red couch .");
  std::mt19937_64 rng(2);
  const auto negatives = make_hard_negatives(colours, {}, CategoryPool::from_graphs({riding}), rng);
  ASSERT_FALSE(negatives.empty());
  EXPECT_TRUE(std::any_of(negatives.begin(), negatives.end(),
                          [](const HardNegative& n) { return n.kind == NegativeKind::attribute_swap; }));
}

TEST(HardNegativeLoss, WeightedHingeByHand) {
  auto pos = torch::tensor({1.0, 1.0, 0.5}), neg = torch::tensor({0.9, 0.2, 0.6}), w = torch::tensor({1.0, 2.0, 0.5});
  // 1 * (0.2 + 0.9 - 1) + 2 * 0 + 0.5 * (0.2 + 0.6 - 0.5)
  EXPECT_NEAR(weighted_hinge(pos, neg, w, 0.2).item<double>(), 0.1 + 0.15, 1e-6);
  EXPECT_THROW(weighted_hinge(pos, neg.slice(0, 0, 2), w, 0.2), Error);
}

// The whole term on two images: mean-of-words scores, so a swap (same words)
// costs exactly the margin and the absent object is computed by hand.
TEST(HardNegativeLoss, TermEqualsTheHandComputedValue) {
  const std::vector<std::string> captions = {"a red man riding a blue horse", "a dog"};
  // Image 0's regions average to (1, 0, 0), image 1's to (0, 1, 0).
  auto features = torch::tensor({{{1.f, 0.f, 0.f}, {1.f, 0.f, 0.f}}, {{0.f, 1.f, 0.f}, {0.f, 1.f, 0.f}}});
  sm::testing::TempSplit split(features, captions, "", "hardneg");
  const Vocab vocab = sm::testing::vocab_of(captions);
  auto model = std::make_shared<sm::testing::MeanDotMatcher>(vocab, 3);
  for (const char* w : {"a", "red", "riding", "blue"}) model->set_word(vocab, w, {0, 0, 0});
  for (const char* w : {"man", "horse"}) model->set_word(vocab, w, {1, 0, 0});
  model->set_word(vocab, "dog", {0, 1, 0});
  auto data = load_eval_data(split.dir(), "test", vocab, {});
  ASSERT_EQ(data->split.captions_per_image, 1);

  const Parse first = {{{"a", D}, {"red", A}, {"man", N}, {"riding", V}, {"a", D}, {"blue", A}, {"horse", N}},
                       {{0, 2}, {1, 2}, {2, 3}, {3, 6}, {4, 6}, {5, 6}},
                       {{2, {1}}, {6, {5}}},
                       {{2, {3}, 6}}};
  const Parse second = {{{"a", D}, {"dog", N}}, {{0, 1}}, {{1, {}}}, {}};
  Config config = {{"hard_negatives", true},
                   {"margin", 0.2},
                   {"hard_negative_relation_swap", 1.0},
                   {"hard_negative_attribute_swap", 0.5},
                   {"hard_negative_absent_object", 2.0}};
  HardNegativeTerm term(config, *data->batcher, {first.graph(), second.graph()});

  LossOutput out;
  out.total = torch::zeros({});
  term.add(*model, data->batcher->images({0, 1}), {0, 1}, 5, out);
  // Caption 0 (score 2/7): relation and attribute swaps tie it, so each costs
  // the margin; its absent object can only be "dog" (1/7). Caption 1 ("a dog",
  // 1/2 on image 1) has only an absent object ("man" or "horse", 0): no cost.
  const double expected = 1.0 * 0.2 + 0.5 * 0.2 + 2.0 * (0.2 + 1.0 / 7 - 2.0 / 7);
  EXPECT_NEAR(out.total.item<double>(), expected, 1e-6);
  EXPECT_NEAR(out.terms.at("hard_negatives"), expected, 1e-6);

  // A weight of 0 switches its kind off.
  config["hard_negative_absent_object"] = 0.0;
  HardNegativeTerm without(config, *data->batcher, {first.graph(), second.graph()});
  out.total = torch::zeros({});
  without.add(*model, data->batcher->images({0, 1}), {0, 1}, 5, out);
  EXPECT_NEAR(out.total.item<double>(), 0.3, 1e-6);
  std::mt19937_64 rng(1);
  EXPECT_TRUE(without.negatives(1, rng).empty());

  // hard_negative_margin replaces the model's margin in the term only; null keeps it.
  config["hard_negative_margin"] = 0.05;
  HardNegativeTerm small_margin(config, *data->batcher, {first.graph(), second.graph()});
  out.total = torch::zeros({});
  small_margin.add(*model, data->batcher->images({0, 1}), {0, 1}, 5, out);
  EXPECT_NEAR(out.total.item<double>(), 1.0 * 0.05 + 0.5 * 0.05, 1e-6);
  config["hard_negative_margin"] = nullptr;
  HardNegativeTerm null_margin(config, *data->batcher, {first.graph(), second.graph()});
  out.total = torch::zeros({});
  null_margin.add(*model, data->batcher->images({0, 1}), {0, 1}, 5, out);
  EXPECT_NEAR(out.total.item<double>(), 0.3, 1e-6);
  config["hard_negative_margin"] = -0.1;
  EXPECT_THROW(HardNegativeTerm(config, *data->batcher, {first.graph(), second.graph()}), Error);
  EXPECT_EQ(HardNegativeTerm::from_config({{"margin", 0.2}}, *data->batcher), nullptr);
}

// Every registered model on one tiny synthetic world, with the option on.
class EveryModelWithHardNegatives : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Progress::set_enabled(false);
    set_threads(1);
    temp_ = new sm::testing::TempDir("sm_test_hardneg_models");
    options_.seed = 5;
    synth::generate_dataset(world(), options_);
    vocab_ = new Vocab(dataset_vocab(world(), 1));
  }
  static void TearDownTestSuite() {
    delete vocab_;
    delete temp_;
  }
  static std::string world() { return temp_->path() + "/world"; }

  // One model (seed 1), its training split, its term and the batch of `captions_`.
  struct Case {
    MatcherPtr model;
    std::unique_ptr<EvalData> data;
    std::unique_ptr<HardNegativeTerm> term;
    ImageBatch batch;
  };
  static Case make(const std::string& name, bool first_stage_head) {
    Config cfg = matcher_preset(name, "cpu");
    cfg["feature_dim"] = options_.feat_dim;
    cfg["hard_negatives"] = true;
    if (cfg.contains("first_stage_head")) cfg["first_stage_head"] = first_stage_head;
    torch::manual_seed(1);
    Case c;
    c.model = make_matcher(name, cfg, *vocab_);
    c.data = load_eval_data(world(), "train", *vocab_, c.model->needs());
    c.term = HardNegativeTerm::from_config(cfg, *c.data->batcher);
    std::vector<int64_t> images;
    for (int64_t caption : captions_) images.push_back(c.data->split.image_of_caption(caption));
    c.batch = c.data->batcher->images(images);
    c.model->begin_step(0, 0);
    return c;
  }

  static inline sm::testing::TempDir* temp_ = nullptr;
  static inline synth::SynthOptions options_ = synth::preset_options("tiny");
  static inline Vocab* vocab_ = nullptr;
  static inline const std::vector<int64_t> captions_ = {0, 6, 12, 17, 23, 31};
};

// The term alone reaches every parameter the model's own loss reaches, for
// every registered model, first-stage heads aside (they train on their own
// loss only).
TEST_F(EveryModelWithHardNegatives, GradientsReachEveryModelsParameters) {
  for (const auto& name : matcher_names()) {
    SCOPED_TRACE(name);
    Case c = make(name, /*first_stage_head=*/false);
    ASSERT_TRUE(c.term);
    c.model->train();
    c.model->loss(c.batch, c.data->batcher->captions(captions_)).total.backward();
    std::vector<bool> reached;
    for (const auto& p : c.model->parameters())
      reached.push_back(p.grad().defined() && p.grad().abs().sum().item<double>() > 0);
    c.model->zero_grad();

    LossOutput out;
    out.total = torch::zeros({});
    c.term->add(*c.model, c.batch, captions_, 3, out);
    ASSERT_GT(out.terms.at("hard_negatives"), 0);
    out.total.backward();
    const auto params = c.model->named_parameters();
    for (size_t k = 0; k < params.size(); ++k)
      if (reached[k]) {
        const auto& g = params[k].value().grad();
        EXPECT_TRUE(g.defined() && g.abs().sum().item<double>() > 0) << params[k].key();
      }
  }
}

// Every model's loss hands the hard-negative term the image encoding it
// scored, so the images are encoded once a step: the encoding equals
// encode_images', and the term and the gradients of loss + term equal those
// with the images encoded again (eval mode, so no dropout draw differs).
TEST_F(EveryModelWithHardNegatives, ReusesTheLossesImageEncoding) {
  for (const auto& name : matcher_names()) {
    SCOPED_TRACE(name);
    Case c = make(name, /*first_stage_head=*/true);
    c.model->eval();
    auto loss_and_term = [&](bool reuse) {
      c.model->zero_grad();
      torch::manual_seed(7);  // HREM's loss samples its negatives
      LossOutput out = c.model->loss(c.batch, c.data->batcher->captions(captions_));
      if (!reuse) out.images = Encoding();
      c.term->add(*c.model, c.batch, captions_, 3, out);
      out.total.backward();
      std::vector<torch::Tensor> grads;
      for (const auto& p : c.model->parameters())
        grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
      return std::make_pair(out, grads);
    };
    const auto [reused, reused_grads] = loss_and_term(true);
    ASSERT_EQ(reused.images.size(), static_cast<int64_t>(captions_.size()));
    {
      torch::NoGradGuard no_grad;
      const Encoding fresh = c.model->encode_images(c.batch);
      for (const auto& [key, part] : fresh.parts) EXPECT_TRUE(torch::allclose(reused.images.at(key), part)) << key;
    }
    // The term scores against the encoding it is handed: its gradient reaches
    // those tensors (with the images encoded again it would not).
    {
      LossOutput handed;
      handed.total = torch::zeros({});
      std::vector<torch::Tensor> leaves;
      for (const auto& [key, part] : reused.images.parts) {
        handed.images[key] = part.detach().clone();
        if (part.is_floating_point()) leaves.push_back(handed.images[key].requires_grad_());
      }
      c.term->add(*c.model, c.batch, captions_, 3, handed);
      ASSERT_GT(handed.terms.at("hard_negatives"), 0);
      handed.total.backward();
      bool reached = false;
      for (const auto& leaf : leaves) reached |= leaf.grad().defined() && leaf.grad().abs().sum().item<double>() > 0;
      EXPECT_TRUE(reached);
    }
    const auto [encoded_again, encoded_again_grads] = loss_and_term(false);
    EXPECT_NEAR(reused.terms.at("hard_negatives"), encoded_again.terms.at("hard_negatives"), 1e-5);
    EXPECT_NEAR(reused.total.item<double>(), encoded_again.total.item<double>(), 1e-4);
    for (size_t k = 0; k < reused_grads.size(); ++k) {
      ASSERT_EQ(reused_grads[k].defined(), encoded_again_grads[k].defined());
      if (reused_grads[k].defined()) {
        EXPECT_TRUE(torch::allclose(reused_grads[k], encoded_again_grads[k], 1e-4, 1e-6)) << "parameter " << k;
      }
    }
  }
}
