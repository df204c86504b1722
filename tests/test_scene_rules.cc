// Scene-graph rules on hand-built linkages: each rule of scene_rules.h on the
// construction it exists for, without Link Grammar.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "scenematch/text/scene_rules.h"

namespace sm {
namespace {

// A caption as "word/TAG word/TAG ..." and links as "Label(i,j)" on token
// indices; subscripts as Link Grammar gives them ("people.p" -> "p").
struct Built {
  CaptionGraph g;
  TokenLinkage lk;
};

Built build(const std::string& tagged, const std::vector<std::string>& links) {
  Built b;
  std::istringstream in(tagged);
  for (std::string item; in >> item;) {
    const size_t slash = item.rfind('/');
    std::string word = item.substr(0, slash), sub;
    if (const size_t dot = word.find('.'); dot != std::string::npos && dot > 0) {
      sub = word.substr(dot + 1);
      word = word.substr(0, dot);
    }
    b.g.tokens.push_back(word);
    b.g.pos.push_back(pos_from_name(item.substr(slash + 1)));
    b.lk.subscript.push_back(sub);
    b.lk.linked.push_back(true);
  }
  for (const std::string& spec : links) {
    const size_t open = spec.find('('), comma = spec.find(',');
    std::string label = spec.substr(0, open);
    size_t upper = label[0] == '_' ? 1 : 0;
    while (upper < label.size() && std::isupper(static_cast<unsigned char>(label[upper]))) ++upper;
    const int i = std::stoi(spec.substr(open + 1)), j = std::stoi(spec.substr(comma + 1));
    b.lk.links.push_back({label.substr(0, upper), label.substr(upper), std::min(i, j), std::max(i, j)});
  }
  return b;
}

std::set<std::string> triplets(const CaptionGraph& g) {
  std::set<std::string> out;
  for (const auto& r : g.relations) out.insert(r.subject + "|" + r.predicate + "|" + r.object);
  return out;
}

std::set<std::string> object_words(const CaptionGraph& g) {
  std::set<std::string> out;
  for (const auto& o : g.objects) out.insert(o.word);
  return out;
}

CaptionGraph graph(Built& b) {
  SceneRules(b.g, b.lk).build(b.g);
  return b.g;
}

TEST(SceneRules, CoordinationDistributesOverMembers) {
  //             0      1        2      3    4     5     6        7
  auto b = build("a/DET man.n/NOUN and/CCONJ a/DET woman.n/NOUN hold.v/VERB flags.p/NOUN ./PUNCT",
                 {"SJls(1,2)", "SJrs(2,4)", "Sp(2,5)", "Op(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.coordinated(2), (std::vector<int>{1, 4}));
  EXPECT_EQ(rules.coordinated(1), (std::vector<int>{1}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|hold|flags", "woman|hold|flags"}));
}

TEST(SceneRules, PartitivesReadThroughToTheRealObject) {
  //             0                 1         2            3       4
  auto b = build("travelers.p/NOUN with/ADP lots.p/NOUN of/ADP luggage.n/NOUN",
                 {"Mp(0,1)", "Jp(1,2)", "Mf(2,3)", "Ju(3,4)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.read_through(2), 4);
  EXPECT_EQ(rules.read_through(0), 0);
  EXPECT_FALSE(rules.heads_object(2));
  const CaptionGraph g = graph(b);
  EXPECT_EQ(triplets(g), (std::set<std::string>{"travelers|with|luggage"}));
  EXPECT_EQ(object_words(g), (std::set<std::string>{"travelers", "luggage"}));
}

TEST(SceneRules, ContainerNounsStayObjects) {
  //             0      1          2        3
  auto b = build("a/DET cup.n/NOUN of/ADP coffee.n/NOUN", {"Ds(0,1)", "Mf(1,2)", "Ju(2,3)"});
  const CaptionGraph g = graph(b);
  EXPECT_EQ(object_words(g), (std::set<std::string>{"cup", "coffee"}));
  EXPECT_TRUE(g.relations.empty());  // "of" alone is no relation
}

TEST(SceneRules, MeasureDeterminerGivesTheContainer) {
  // "a basket filled with food and a cup of salsa": Link Grammar reads "a
  // cup of" as a determiner of "salsa"
  //             0      1            2              3        4             5
  auto b = build(
      "a/DET basket.n/NOUN filled.v/VERB with/ADP food.n/NOUN and.j-n/CCONJ "
      // 6   7            8        9
      "a/DET cup.n/NOUN of/ADP salsa.n/NOUN",
      {"Ds(0,1)", "Ss(1,2)", "MVp(2,3)", "Ju(3,5)", "SJlp(4,5)", "SJrp(5,9)", "Dmu(7,9)", "Ds(6,7)", "OFd(7,8)",
       "Jd(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.container(9), 7);
  EXPECT_EQ(rules.container(4), 4);
  const CaptionGraph g = graph(b);
  EXPECT_EQ(triplets(g), (std::set<std::string>{"basket|filled with|food", "basket|filled with|cup"}));
  EXPECT_EQ(object_words(g), (std::set<std::string>{"basket", "food", "cup", "salsa"}));
}

TEST(SceneRules, MeasureDeterminerOfAPartitiveIsReadThrough) {
  // "a bunch of bananas" read as a determiner phrase stays "bananas"
  //             0           1          2             3       4           5
  auto b = build("man.n/NOUN with/ADP a/DET bunch.n/NOUN of/ADP bananas.p/NOUN",
                 {"Mp(0,1)", "Jp(1,5)", "Dmc(3,5)", "Ds(2,3)", "OFd(3,4)", "Jd(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.container(5), 5);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|with|bananas"}));
}

TEST(SceneRules, PhraseOnTheNounAfterOfDescribesTheContainer) {
  // "a plate of food near a cup": Link Grammar hangs "near" on "food"
  //             0      1            2        3             4          5      6
  auto b = build("a/DET plate.n/NOUN of/ADP food.n/NOUN near/ADP a/DET cup.n/NOUN",
                 {"Ds(0,1)", "Mf(1,2)", "Ju(2,3)", "Mp(3,4)", "Js(4,6)", "Ds(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.of_head(3), 1);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"plate|near|cup"}));
  // "a picture of a man on a horse": the man is on the horse
  //              0      1              2        3      4            5       6      7
  auto c = build("a/DET picture.n/NOUN of/ADP a/DET man.n/NOUN on/ADP a/DET horse.n/NOUN",
                 {"Ds(0,1)", "Mf(1,2)", "Js(2,4)", "Ds(3,4)", "Mp(4,5)", "Js(5,7)", "Ds(6,7)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).of_head(4), 4);
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"man|on|horse"}));
  // "a player on top of a log next to a snowboard": "of" of "on top of"
  //              0              1        2          3        4           5        6       7
  auto d = build("player.n/NOUN on/ADP top.n/NOUN of/ADP log.n/NOUN next/ADP to/ADP snowboard.n/NOUN",
                 {"Mp(0,1)", "Js(1,2)", "Mf(0,3)", "Js(3,4)", "Mp(4,6)", "_IBJH(5,6)", "Js(6,7)"});
  EXPECT_EQ(SceneRules(d.g, d.lk).of_head(4), 4);
}

TEST(SceneRules, ListAfterACommaContinuesTheObject) {
  // "a bowl that has vegetables , pasta , and meat": Link Grammar
  // coordinates "pasta and meat" and attaches it to nothing before
  //             0      1           2          3           4                 5         6
  auto b = build(
      "a/DET bowl.n/NOUN that/DET has.v/VERB vegetables.n/NOUN ,/PUNCT pasta.n/NOUN "
      // 7     8            9
      ",/PUNCT and.j-n/CCONJ meat.n/NOUN",
      {"Ds(0,1)", "Bs(1,3)", "R(1,2)", "RS(2,3)", "Op(3,4)", "SJlp(6,8)", "Xd(7,8)", "SJru(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.list_rest(4), 8);
  EXPECT_EQ(rules.list_rest(6), -1);
  EXPECT_EQ(rules.nouns(4), (std::vector<int>{4, 6, 9}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"bowl|has|vegetables", "bowl|has|pasta", "bowl|has|meat"}));
  // "a dog with a ball , a man and a woman are ...": a comma the clause
  // takes (linked from before) ends the list
  auto c = build("dog.n/NOUN ,/PUNCT man.n/NOUN and.j-n/CCONJ woman.n/NOUN", {"Xx(0,1)", "SJls(2,3)", "SJrs(3,4)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).list_rest(0), -1);
}

TEST(SceneRules, ThingAfterAnAndJoiningClausesContinuesTheList) {
  // "workers wearing yellow vests and blue hats are outside working": Link
  // Grammar joins two clauses at "and" (W to "hats")
  //             0                1                2             3               4           5
  auto b = build(
      "workers.n/NOUN wearing.v/VERB vests.n/NOUN and.ij/CCONJ blue.a/ADJ hats.n/NOUN "
      // 6          7
      "are.v/AUX working.g/VERB",
      {"Mg(0,1)", "Op(1,2)", "WV(3,6)", "Wdc(3,5)", "A(4,5)", "Spx(5,6)", "Pg(6,7)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.clause_rest(2), 5);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"workers|wearing|vests", "workers|wearing|hats"}));
  // "a man holding a cup and a woman is smiling": the woman is no cup
  auto c = build("man.n/NOUN holding.v/VERB cup.n/NOUN and.ij/CCONJ woman.n/NOUN is.v/AUX smiling.g/VERB",
                 {"Mg(0,1)", "Os(1,2)", "WV(3,5)", "Wdc(3,4)", "Ss(4,5)", "Pg(5,6)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).clause_rest(2), -1);
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"man|holding|cup"}));
  // "a cow is pulling a sled and a scooter is beside the sled": two clauses
  auto d = build("cow.n/NOUN is.v/AUX pulling.v/VERB sled.n/NOUN and.ij/CCONJ scooter.n/NOUN is.v/AUX",
                 {"Ss(0,1)", "Pg(1,2)", "Os(2,3)", "WV(4,6)", "Wdc(4,5)", "Ss(5,6)"});
  EXPECT_EQ(SceneRules(d.g, d.lk).clause_rest(3), -1);
}

TEST(SceneRules, ListWithoutCommasHungOnThePreposition) {
  // "a desk with a monitor a keyboard and a laptop": Link Grammar gives
  // "with" the monitor (J) and the "keyboard and laptop" (O)
  //             0      1          2        3      4             5      6
  auto b = build(
      "a/DET desk.n/NOUN with/ADP a/DET monitor.n/NOUN a/DET keyboard.n/NOUN "
      // 7           8      9
      "and.j-n/CCONJ a/DET laptop/NOUN",
      {"Ds(0,1)", "Mp(1,2)", "Opn(2,7)", "Js(2,4)", "Ds(3,4)", "SJls(6,7)", "Ds(5,6)", "SJrp(7,9)", "Dsu(8,9)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"desk|with|monitor", "desk|with|keyboard", "desk|with|laptop"}));
}

TEST(SceneRules, PhraseRightAfterAPassiveParticipleOnANounJoinsIt) {
  // "a chair covered with a blanket": Link Grammar hangs "with" on "chair"
  //             0      1            2               3         4      5
  auto b = build("a/DET chair.n/NOUN covered.v/VERB with/ADP a/DET blanket.n/NOUN",
                 {"Ds(0,1)", "Mv(1,2)", "Mp(1,3)", "Js(3,5)", "Ds(4,5)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"chair|covered with|blanket"}));
}

TEST(SceneRules, PassiveParticipleOnTheObjectOfWithIsSaidOfItsNoun) {
  // "a pizza with several toppings served on a tray"
  //             0            1         2                 3               4         5
  auto b = build("pizza.s/NOUN with/ADP toppings.n/NOUN served.v/VERB on/ADP tray.n/NOUN",
                 {"Mp(0,1)", "Jp(1,2)", "Mp(2,4)", "Mv(2,3)", "Js(4,5)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"pizza|with|toppings", "pizza|served on|tray"}));
  // "people with dogs sitting on a bench": an -ing participle stays with its noun
  auto c = build("people.p/NOUN with/ADP dogs.p/NOUN sitting.v/VERB on/ADP bench.n/NOUN",
                 {"Mp(0,1)", "Jp(1,2)", "Mp(2,4)", "Mg(2,3)", "Js(4,5)"});
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"people|with|dogs", "dogs|sitting on|bench"}));
}

TEST(SceneRules, RelationalNounHungApartFromItsOfStillJoinsThePredicate) {
  // "tables in front of a building": "front" (idiom with "in") and "of"
  // each hang on "tables"
  //             0             1        2             3        4      5
  auto b = build("tables.p/NOUN in/ADP front.n/NOUN of/ADP a/DET building.n/NOUN",
                 {"Mp(0,3)", "Mp(0,2)", "_IBLF(1,2)", "Js(3,5)", "Ds(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.phrase(3), (std::vector<int>{1, 2, 3}));
  const CaptionGraph g = graph(b);
  EXPECT_EQ(triplets(g), (std::set<std::string>{"tables|in front of|building"}));
  EXPECT_EQ(object_words(g), (std::set<std::string>{"tables", "building"}));
}

TEST(SceneRules, ParticipleReadAsAnAdjectiveTakingAPhraseIsAPassiveVerb) {
  // "people are engaged in a game"
  //             0              1           2              3         4      5
  auto b = build("people.p/NOUN are.v/AUX engaged.a/ADJ in/ADP a/DET game.s/NOUN",
                 {"Spx(0,1)", "Pa(1,2)", "MVp(2,3)", "Js(3,5)", "Ds(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.participle_adjective_subjects(2), (std::vector<int>{0}));
  const CaptionGraph g = graph(b);
  EXPECT_EQ(triplets(g), (std::set<std::string>{"people|engaged in|game"}));
  for (const auto& o : g.objects) EXPECT_TRUE(o.attributes.empty()) << o.word;
  // "the dog is tired": no phrase, an attribute
  auto c = build("dog.n/NOUN is.v/AUX tired.a/ADJ", {"Ss(0,1)", "Pa(1,2)"});
  EXPECT_TRUE(SceneRules(c.g, c.lk).participle_adjective_subjects(2).empty());
  EXPECT_EQ(graph(c).objects.at(0).attributes, (std::vector<std::string>{"tired"}));
}

TEST(SceneRules, ParticleOnANounPassesThePhraseToTheNoun) {
  // "throws a ball out onto a field": Link Grammar hangs "out" on "ball" (Ma)
  //             0          1              2           3          4      5
  auto b = build("girl.n/NOUN throws.v/VERB ball.s/NOUN out.a/ADP onto/ADP field.n/NOUN",
                 {"Ss(0,1)", "Os(1,2)", "Ma(2,3)", "MVp(3,4)", "Js(4,5)"});
  EXPECT_EQ(SceneRules(b.g, b.lk).preposition_heads(4), (std::vector<int>{2}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"girl|throws|ball", "ball|onto|field"}));
}

TEST(SceneRules, CoordinationAcrossAPhraseOnAPerson) {
  // "two men in white shirts and another person": the person is no shirt
  //             0           1          2         3           4         5
  auto b = build("men.p/NOUN in/ADP shirts.n/NOUN and.j-n/CCONJ another/DET person.n/NOUN",
                 {"Mp(0,1)", "Ju(1,3)", "SJlp(2,3)", "SJrs(3,5)", "Ds(4,5)"});
  EXPECT_EQ(SceneRules(b.g, b.lk).phrase_objects(1), (std::vector<int>{2}));
  // "man in a jersey and white shorts": Link Grammar coordinates "man" and
  // "shorts"
  //              0            1        2             3             4             5
  auto c = build("man.n/NOUN in/ADP jersey.n/NOUN and.j-n/CCONJ white.a/ADJ shorts.n/NOUN",
                 {"SJls(0,3)", "Mp(0,1)", "Js(1,2)", "SJrp(3,5)", "A(4,5)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).phrase_objects(1), (std::vector<int>{2, 5}));
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"man|in|jersey", "man|in|shorts"}));
  // "a woman with a dog and a cat": people and animals alike, all kept
  auto d = build("woman.n/NOUN with/ADP dog.n/NOUN and.j-n/CCONJ cat.n/NOUN",
                 {"Mp(0,1)", "Ju(1,3)", "SJls(2,3)", "SJrs(3,4)"});
  EXPECT_EQ(SceneRules(d.g, d.lk).phrase_objects(1), (std::vector<int>{2, 4}));
}

TEST(SceneRules, PhraseOnAnOpeningConjunctionIsSaidOfTheSubject) {
  // "while in a restaurant a man is playing"
  //             0               1        2                  3            4        5
  auto b = build("while/SCONJ in/ADP restaurant.n/NOUN man.n/NOUN is.v/AUX playing.v/VERB",
                 {"CO(0,3)", "Mp(0,1)", "Js(1,2)", "Ss(3,4)", "Pg(4,5)"});
  EXPECT_EQ(SceneRules(b.g, b.lk).preposition_heads(1), (std::vector<int>{3}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|in|restaurant"}));
}

TEST(SceneRules, RelationalNounOfAPronounGivesNoRelation) {
  // "a girl on each side of him": "him" is no object, "side" no place
  //             0            1        2          3              4        5
  auto b = build("girl.n/NOUN on/ADP each/DET side.n/NOUN of/ADP him/PRON",
                 {"Mf(0,4)", "Mp(0,1)", "Js(1,3)", "Ds(2,3)", "Jp(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_TRUE(rules.of_pronoun(3));
  EXPECT_TRUE(graph(b).relations.empty());
}

TEST(SceneRules, ActionParticipleOnAnInanimateNounGoesToTheDoer) {
  // "people sitting under a tent playing instruments": Link Grammar hangs
  // "playing" on "tent"
  //             0               1              2         3     4           5             6
  auto b = build("people.p/NOUN sitting.v/VERB under/ADP a/DET tent.n/NOUN playing.v/VERB instruments.p/NOUN",
                 {"Mg(0,1)", "MVp(1,2)", "Js(2,4)", "Ds(3,4)", "Mg(4,5)", "Op(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.semantic_subject(4, 5), 0);
  EXPECT_EQ(rules.subjects(5), (std::vector<int>{0}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"people|sitting under|tent", "people|playing|instruments"}));
}

TEST(SceneRules, AnimateNounsKeepTheirParticiple) {
  // "a person next to a girl sitting on a bench": the girl sits
  //             0             1         2       3             4              5        6
  auto b = build("person.n/NOUN next/ADP to/ADP girl.n/NOUN sitting.v/VERB on/ADP bench.n/NOUN",
                 {"Mp(0,2)", "_IBJH(1,2)", "Js(2,3)", "Mg(3,4)", "MVp(4,5)", "Js(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.semantic_subject(3, 4), 3);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"person|next to|girl", "girl|sitting on|bench"}));
}

TEST(SceneRules, RelativeClauseSubjectIsItsHeadNoun) {
  // "a man who is riding a horse"
  //             0      1          2          3        4               5      6
  auto b = build("a/DET man.n/NOUN who/PRON is.v/AUX riding.v/VERB a/DET horse.n/NOUN",
                 {"Ds(0,1)", "R(1,2)", "RS(2,3)", "Bs(1,3)", "Pg(3,4)", "Os(4,6)", "Ds(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.subjects(4), (std::vector<int>{1}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|riding|horse"}));
}

TEST(SceneRules, RelativeClauseOnAThingInsideAPhraseGoesToThePerson) {
  // "a man in a wheel chair who is holding a bat": Link Grammar attaches
  // "who" to "chair"
  //             0            1      2             3           4        5      6               7
  auto b = build("man.n/NOUN in/ADP wheel.n/NOUN chair.n/NOUN who/PRON is.v/AUX holding.v/VERB bat.n/NOUN",
                 {"Mp(0,1)", "Js(1,3)", "AN(2,3)", "R(3,4)", "RS(4,5)", "Pg(5,6)", "Os(6,7)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|in|chair", "man|holding|bat"}));
}

TEST(SceneRules, RelativeClauseGoesToThePersonRightBeforeIt) {
  // "man looking at a woman that is smoking on the sidewalk": Link Grammar
  // attaches "that" to "man"
  //             0            1              2        3      4             5         6
  auto b = build(
      "man.n/NOUN looking.v/VERB at/ADP a/DET woman.n/NOUN that/DET is.v/AUX "
      // 7            8        9
      "smoking.v/VERB on/ADP sidewalk.n/NOUN",
      {"Bs(0,6)", "R(0,5)", "RS(5,6)", "Mg(0,1)", "MVp(1,2)", "Js(2,4)", "Ds(3,4)", "Pg(6,7)", "MVp(7,8)", "Js(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.antecedent(5), 4);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|looking at|woman", "woman|smoking on|sidewalk"}));
}

TEST(SceneRules, RelativePronounTakenForTheSubjectStandsForTheNounBefore) {
  // "a elephant that is standing in the grass": "a elephant" is rejected,
  // so "that" is the subject and "elephant" is unlinked
  //             0      1                2          3        4                5        6
  auto b = build("a/DET elephant/NOUN that/DET is.v/AUX standing.v/VERB in/ADP grass.n/NOUN",
                 {"Ss(2,3)", "MVp(3,5)", "Ou(3,4)", "Mp(4,5)", "Ju(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.antecedent(2), 1);
  EXPECT_EQ(rules.subjects(4), (std::vector<int>{1}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"elephant|standing in|grass"}));
}

TEST(SceneRules, PassiveParticipleTakesTheAgentAsSubject) {
  // "a horse being ridden by a man"
  //             0             1              2               3       4
  auto b =
      build("horse.n/NOUN being.v/AUX ridden.v/VERB by/ADP man.n/NOUN", {"Mg(0,1)", "Pv(1,2)", "Mp(0,3)", "Js(3,4)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_TRUE(rules.passive(2));
  EXPECT_FALSE(rules.passive(1));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|ridden|horse"}));
}

TEST(SceneRules, BeingTakenForTheSubjectOfAPassive) {
  // "a woman is being held by a man": Link Grammar links "being" to "held"
  // as its subject and leaves it unlinked to "is"
  //             0             1        2              3             4          5
  auto b = build("woman.n/NOUN is.v/AUX being.v/AUX held.q-d/VERB by/ADP man.n/NOUN",
                 {"Ss(0,1)", "Ss(2,3)", "MVp(3,4)", "Js(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_TRUE(rules.passive(3));
  EXPECT_EQ(rules.subjects(3), (std::vector<int>{0}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|held|woman"}));
}

TEST(SceneRules, PassiveOnTheVerb) {
  // "the dog is chased by a boy"
  //             0        1           2          3               4       5      6
  auto b = build("the/DET dog.n/NOUN is.v/AUX chased.v/VERB by/ADP a/DET boy.n/NOUN",
                 {"Ds(0,1)", "Ss(1,2)", "Pv(2,3)", "MVp(3,4)", "Js(4,6)", "Ds(5,6)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"boy|chased|dog"}));
}

TEST(SceneRules, PassiveOfAPrepositionalVerbTakesTheAgentHungOnItsPreposition) {
  // "a child is looked at by a girl": Link Grammar joins "looked at" as an
  // idiom whose last word takes the verb's links (Pv from "is", MVp to "by")
  //             0      1            2          3           4       5       6      7
  auto b = build("a/DET child.n/NOUN is.v/AUX looked/VERB at/ADP by/ADP a/DET girl.n/NOUN",
                 {"Ds(0,1)", "Ss(1,2)", "Pv(2,4)", "_IBET(3,4)", "MVp(4,5)", "Js(5,7)", "Ds(6,7)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_TRUE(rules.verb_idiom_head(4));
  EXPECT_TRUE(rules.passive(4));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"girl|looked at|child"}));
  // "a man looking at a dog by a tree", had Link Grammar joined "looking at":
  // "at" has its own object, so it heads no passive
  //             0          1              2       3      4          5       6      7
  auto c = build("man.n/NOUN looking.v/VERB at/ADP a/DET dog.n/NOUN by/ADP a/DET tree.n/NOUN",
                 {"Mg(0,1)", "_IBET(1,2)", "Js(2,4)", "Ds(3,4)", "Mp(4,5)", "Js(5,7)", "Ds(6,7)"});
  EXPECT_FALSE(SceneRules(c.g, c.lk).verb_idiom_head(2));
}

TEST(SceneRules, VerbComplementSharesTheSubject) {
  // "man sitting down smoking a cigarette"
  //             0          1              2        3               4      5
  auto b = build("man.n/NOUN sitting.v/VERB down/ADV smoking.g/VERB a/DET cigarette.n/NOUN",
                 {"Mg(0,1)", "K(1,2)", "MVg(1,3)", "Os(3,5)", "Ds(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.subjects(3), (std::vector<int>{0}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|smoking|cigarette"}));
}

TEST(SceneRules, MultiwordPrepositionsAreOnePredicate) {
  // "a man standing in front of a building" (Link Grammar's idiom links)
  //             0          1              2       3          4       5      6
  auto b = build("man.n/NOUN standing.v/VERB in/ADP front/ADP of/ADP a/DET building.n/NOUN",
                 {"Mg(0,1)", "MVp(1,4)", "_ID(2,3)", "_ID(3,4)", "Js(4,6)", "Ds(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.phrase(4), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|standing in front of|building"}));
}

TEST(SceneRules, RelationalNounJoinsThePredicate) {
  // "a cat on the side of a car"
  //             0          1       2        3           4       5      6
  auto b = build("cat.n/NOUN on/ADP the/DET side.n/NOUN of/ADP a/DET car.n/NOUN",
                 {"Mp(0,1)", "Js(1,3)", "Ds(2,3)", "Mf(3,4)", "Js(4,6)", "Ds(5,6)"});
  SceneRules rules(b.g, b.lk);
  std::vector<int> pred = {1};
  EXPECT_EQ(rules.through_relational_noun(3, pred), (std::vector<int>{6}));
  EXPECT_EQ(pred, (std::vector<int>{1, 2, 3, 4}));
  const CaptionGraph g = graph(b);
  EXPECT_EQ(triplets(g), (std::set<std::string>{"cat|on the side of|car"}));
  EXPECT_EQ(object_words(g), (std::set<std::string>{"cat", "car"}));
}

TEST(SceneRules, AdjectiveChainsAndColourNounsStayWithTheHead) {
  // "a white button down shirt" and "a red and white striped shirt"
  //             0      1            2             3        4
  auto b = build("a/DET white.a/ADJ button.n/NOUN down/ADJ shirt.n/NOUN", {"A(1,2)", "AN(2,4)", "Ds(0,4)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.attributes(4), (std::vector<int>{1}));
  EXPECT_FALSE(rules.heads_object(2));
  //             0           1         2           3            4                5
  auto c = build("a/DET red.a/ADJ and/CCONJ white.n/NOUN striped.a/ADJ shirt.n/NOUN",
                 {"Ds(0,5)", "A(2,5)", "AJla(1,2)", "AJra(2,3)", "A(4,5)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).attributes(5), (std::vector<int>{1, 3, 4}));
}

TEST(SceneRules, PrenominalParticiplesAndStatesAreAttributes) {
  //             0      1                  2
  auto b = build("a/DET vandalized.v/VERB wall.n/NOUN", {"Ds(0,2)", "A(1,2)"});
  EXPECT_EQ(SceneRules(b.g, b.lk).attributes(2), (std::vector<int>{1}));
  // "girls are dancing barefoot"
  //             0             1          2                3
  auto c = build("girls.p/NOUN are.v/AUX dancing.v/VERB barefoot/ADV", {"Sp(0,1)", "Pg(1,2)", "MVa(2,3)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).attributes(0), (std::vector<int>{3}));
}

TEST(SceneRules, PartitiveWhoseOfHangsElsewhere) {
  // "a person with lots of hair and a jacket": Link Grammar hangs "of" on "person"
  //             0             1        2            3       4            5           6      7
  auto b = build("person.n/NOUN with/ADP lots.p/NOUN of/ADP hair.n/NOUN and/CCONJ a/DET jacket.n/NOUN",
                 {"Mp(0,1)", "Mf(0,3)", "Jp(1,2)", "Ju(3,5)", "SJls(4,5)", "SJrs(5,7)", "Ds(6,7)"});
  const CaptionGraph g = graph(b);
  EXPECT_EQ(triplets(g), (std::set<std::string>{"person|with|hair", "person|with|jacket"}));
  EXPECT_EQ(object_words(g), (std::set<std::string>{"person", "hair", "jacket"}));
}

TEST(SceneRules, CountsFromNumbersPartitivesAndPlurals) {
  //             0         1           2        3             4           5          6
  auto b = build("a/DET couple.n/NOUN of/ADP boys.p/NOUN near/ADP two/NUM dogs.p/NOUN",
                 {"Ds(0,1)", "Mf(1,2)", "Jp(2,3)", "Mp(3,4)", "Jp(4,6)", "Dmc(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.count(3), 2);
  EXPECT_EQ(rules.count(6), 2);
  auto c = build("three/NUM men.p/NOUN and/CCONJ a/DET dog.n/NOUN", {"Dmc(0,1)", "SJlp(1,2)", "SJrs(2,4)", "Ds(3,4)"});
  SceneRules r(c.g, c.lk);
  EXPECT_EQ(r.count(1), 3);
  EXPECT_EQ(r.count(4), 1);
}

TEST(SceneRules, PrepositionAfterAnIntransitiveVerbBelongsToTheVerb) {
  // "people in a temple praying over an urn": "over" is on both "temple" and "praying"
  //             0             1        2             3              4          5
  auto b = build("people.p/NOUN in/ADP temple.n/NOUN praying.v/VERB over/ADP urn.n/NOUN",
                 {"Mp(0,1)", "Js(1,2)", "Mg(2,3)", "Mp(2,4)", "MVp(3,4)", "Js(4,5)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"people|in|temple", "people|praying over|urn"}));
}

TEST(SceneRules, PhraseAfterAParticipleOnAThingGoesToTheDoer) {
  // "people in a temple praying over an urn", "over" on "temple" only
  //             0             1        2             3              4          5
  auto b = build("people.p/NOUN in/ADP temple.n/NOUN praying.v/VERB over/ADP urn.n/NOUN",
                 {"Mp(0,1)", "Js(1,2)", "Mg(2,3)", "Mp(2,4)", "Js(4,5)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"people|in|temple", "people|praying over|urn"}));
}

TEST(SceneRules, NounAttachmentWinsAfterAVerbWithAnObject) {
  // "riding a horse on the beach" -> (horse, on, beach)
  //             0          1              2             3       4
  auto b = build("man.n/NOUN riding.v/VERB horse.n/NOUN on/ADP beach.n/NOUN",
                 {"Mg(0,1)", "Os(1,2)", "Mp(2,3)", "MVp(1,3)", "Js(3,4)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|riding|horse", "horse|on|beach"}));
}

TEST(SceneRules, CoordinatedBeGivesItsObjectToTheParticiple) {
  // "a man ... is wearing a shirt and is holding a pair of tongs": "and"
  // carries the object
  //             0          1       2               3      4             5          6       7
  auto b = build(
      "man.n/NOUN is.v/AUX wearing.v/VERB a/DET shirt.n/NOUN and/CCONJ is.v/AUX holding.v/VERB "
      // 8      9
      "a/DET tongs.n/NOUN",
      {"Ss(0,5)", "VJls(1,5)", "VJrs(5,6)", "Pg(1,2)", "Os(2,4)", "Ds(3,4)", "Pg(6,7)", "Op(5,9)", "Ds(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.progressive(6), 7);
  EXPECT_EQ(rules.progressive(7), 7);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|wearing|shirt", "man|holding|tongs"}));
}

TEST(SceneRules, ParticipleAfterACommaIsSaidOfTheClauseBefore) {
  // "a woman dressed in gear , skiing down a slope" (Wg on the comma)
  //             0        1             2               3        4           5        6               7
  auto b = build(
      "a/DET woman.n/NOUN dressed.v/VERB in/ADP gear.n/NOUN ,/PUNCT skiing.v/VERB down/ADP "
      // 8      9
      "a/DET slope.n/NOUN",
      {"Ds(0,1)", "Ss(1,2)", "MVp(2,3)", "Ju(3,4)", "Wg(5,6)", "K(6,7)", "Os(6,9)", "Ds(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.subjects(6), (std::vector<int>{1}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"woman|dressed in|gear", "woman|skiing down|slope"}));
}

TEST(SceneRules, PhraseAfterThePassiveByNounDescribesThatNoun) {
  // "a child held by a woman in a shirt": "in" hangs on "held"
  //             0            1               2       3             4       5
  auto b = build("child.n/NOUN held.v/VERB by/ADP woman.n/NOUN in/ADP shirt.n/NOUN",
                 {"Mv(0,1)", "MVp(1,2)", "Js(2,3)", "MVp(1,4)", "Js(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.doers_by_before(1, 4), (std::vector<int>{3}));
  EXPECT_TRUE(rules.doers_by_before(1, 2).empty());
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"woman|held|child", "woman|in|shirt"}));
}

TEST(SceneRules, WhileOnANounIsSaidOfTheNoun) {
  // "woman with a beanie while milking animals": "while" hangs on "woman"
  //             0            1        2              3             4                5
  auto b = build("woman.n/NOUN with/ADP beanie.n/NOUN while/SCONJ milking.v/VERB animals.p/NOUN",
                 {"Mp(0,1)", "Js(1,2)", "Mp(0,3)", "Mgp(3,4)", "Op(4,5)"});
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"woman|with|beanie", "woman|milking|animals"}));
}

TEST(SceneRules, GerundObjectCompletesTheVerb) {
  // "boy sitting down thinking about his future": "thinking" read as the
  // object of "sitting"
  //             0          1              2         3               4         5
  auto b = build("boy.n/NOUN sitting.v/VERB down/ADV thinking.g/VERB about/ADP future.n/NOUN",
                 {"Mg(0,1)", "Os(1,3)", "A(2,3)", "MVp(1,4)", "Mp(3,4)", "Js(4,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_TRUE(rules.complement(1, 3));
  EXPECT_FALSE(rules.complement(3, 1));
  EXPECT_EQ(rules.subjects(3), (std::vector<int>{0}));
  EXPECT_EQ(rules.preposition_heads(4), (std::vector<int>{3}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"boy|thinking about|future"}));
}

TEST(SceneRules, PhraseRightAfterAnIntransitiveIngVerbIsThatVerbs) {
  // "a man stands in front of a woman who is sitting behind a table":
  // Link Grammar hangs "behind" on "stands"
  //             0          1              2       3          4       5            6          7
  auto b = build(
      "man.n/NOUN stands.v/VERB in/ADP front/NOUN of/ADP woman.n/NOUN who/PRON is.v/AUX "
      // 8            9           10
      "sitting/VERB behind/ADP table.n/NOUN",
      {"Ss(0,1)", "MVp(1,4)", "_IBJD(2,3)", "_IBJC(3,4)", "Js(4,5)", "R(5,6)", "RS(6,7)", "Pa(7,8)", "MVp(1,9)",
       "Js(9,10)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.preposition_heads(9), (std::vector<int>{8}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|stands in front of|woman", "woman|sitting behind|table"}));
}

TEST(SceneRules, ParticleReadAsAnAdjectivePassesThePhraseToItsVerb) {
  // "a kitten sitting down by a door": Pa(sitting, down), "by" on "down"
  //             0             1              2         3       4
  auto b =
      build("kitten.n/NOUN sitting.v/VERB down/ADP by/ADP door.n/NOUN", {"Mg(0,1)", "Pa(1,2)", "MVp(2,3)", "Js(3,4)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.phrase(1), (std::vector<int>{1, 2}));
  EXPECT_EQ(rules.preposition_heads(3), (std::vector<int>{1}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"kitten|sitting down by|door"}));
}

TEST(SceneRules, AnAdjectiveParticleAwayFromTheVerbIsNotItsParticle) {
  // "men look at the camera while hanging out": Link Grammar links "look"
  // to the other verb's "out" (Pa); only an adjacent one is a particle
  //        0              1           2        3              4            5           6
  auto b = build("men.p/NOUN look.v/VERB at/ADP camera.n/NOUN while/SCONJ hanging.v/VERB out/ADP",
                 {"Sp(0,1)", "MVp(1,2)", "Js(2,3)", "MVs(1,4)", "Pa(1,6)", "Pa(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.phrase(1), (std::vector<int>{1}));
  EXPECT_EQ(rules.phrase(5), (std::vector<int>{5, 6}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"men|look at|camera"}));
}

TEST(SceneRules, ImplausibleReadingsAreCounted) {
  auto links = [](std::initializer_list<Link> l) { return std::vector<Link>(l); };
  // "a boy in a shirt and blue.v shorts.n": a colour word read as a verb
  EXPECT_EQ(implausibility({"boy", "and", "blue", "shorts"}, {"n", "j-v", "v", "n"}, links({})), 1);
  // "white.n shorts.v looking": a verb right after a colour word
  EXPECT_EQ(implausibility({"white", "shorts", "looking"}, {"n", "v", "v"}, links({})), 1);
  // "young man.v sitting": a person read as a verb
  EXPECT_EQ(implausibility({"young", "man", "sitting"}, {"a", "v", "g"}, links({})), 1);
  // "fire hydrant sitting.g next to": an -ing compound head that takes a phrase
  EXPECT_EQ(implausibility({"hydrant", "sitting", "to"}, {"n", "g", ""}, links({{"AN", "", 0, 1}, {"M", "p", 1, 2}})),
            1);
  // "is being.n held": "being" after "is" that carries no participle
  EXPECT_EQ(implausibility({"is", "being", "held"}, {"v", "n", "v"}, links({{"S", "s", 1, 2}})), 1);
  EXPECT_EQ(implausibility({"is", "being", "held"}, {"v", "v", "v"}, links({{"P", "g", 0, 1}, {"P", "v", 1, 2}})), 0);
  // "young girl reaches.n out": a person compounded with a plural before a particle
  EXPECT_EQ(implausibility({"girl", "reaches", "out"}, {"n", "n", "a"}, links({{"AN", "", 0, 1}, {"M", "a", 1, 2}})),
            1);
  EXPECT_EQ(implausibility({"dog", "sleds", "."}, {"n", "n", ""}, links({{"AN", "", 0, 1}})), 0);
  // "a man is [crouched] on": an -ed word after "be" left out of the linkage
  EXPECT_EQ(
      implausibility({"man", "is", "crouched", "on"}, {"n", "v", "", ""}, links({{"S", "s", 0, 1}, {"P", "p", 1, 3}})),
      1);
  EXPECT_EQ(implausibility({"man", "is", "crouched", "on"}, {"n", "", "v-d", ""},
                           links({{"S", "s", 0, 2}, {"MV", "p", 2, 3}})),
            0);
  // "a small flower being.n sniffed by a cow": "being" read as a noun, but not in "human being"
  EXPECT_EQ(
      implausibility({"flower", "being", "sniffed"}, {"n", "n", "v-d"}, links({{"AN", "", 0, 1}, {"S", "s", 1, 2}})),
      1);
  EXPECT_EQ(implausibility({"flower", "being", "sniffed"}, {"n", "v", "v-d"}, links({{"P", "v", 1, 2}})), 0);
  EXPECT_EQ(implausibility({"human", "being", "sits"}, {"n", "n", "v"}, links({{"AN", "", 0, 1}, {"S", "s", 1, 2}})),
            0);
  // "a skateboarding trick", "rock climbing": nothing implausible
  EXPECT_EQ(implausibility({"skateboarding", "trick"}, {"g", "n"}, links({{"AN", "", 0, 1}})), 0);
  EXPECT_EQ(implausibility({"rock", "climbing"}, {"n", "g"}, links({{"AN", "", 0, 1}})), 0);
}

TEST(SceneRules, AgentHungOnTheParticiplesOwnPhraseIsTheAgent) {
  // "a man is being pulled in a sled by two dogs": "by" on "sled"
  //             0          1        2           3              4      5      6           7      8
  auto b = build(
      "man.n/NOUN is.v/AUX being.v/AUX pulled.v/VERB in/ADP a/DET sled.n/NOUN by/ADP two/NUM "
      // 9
      "dogs.p/NOUN",
      {"Ss(0,1)", "Pg(1,2)", "Pv(2,3)", "MVp(3,4)", "Js(4,6)", "Ds(5,6)", "Mp(6,7)", "Jp(7,9)", "Dmc(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.passive_over(6, {9}), 3);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"man|pulled in|sled", "dogs|pulled|man"}));
  // "... in a sled by the river": a place, not an agent
  auto c = build("man.n/NOUN is.v/AUX being.v/AUX pulled.v/VERB in/ADP a/DET sled.n/NOUN by/ADP the/DET river.n/NOUN",
                 {"Ss(0,1)", "Pg(1,2)", "Pv(2,3)", "MVp(3,4)", "Js(4,6)", "Ds(5,6)", "Mp(6,7)", "Js(7,9)", "Ds(8,9)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).passive_over(6, {9}), -1);
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"man|pulled in|sled", "sled|by|river"}));
}

TEST(SceneRules, AtBelongsToTheVerbOfLookingBeforeIt) {
  // "a boy looking over a gate at a cow": "at" on "gate"
  //             0          1              2        3      4           5       6      7
  auto b = build("boy.n/NOUN looking.v/VERB over/ADP a/DET gate.n/NOUN at/ADP a/DET cow.n/NOUN",
                 {"Mg(0,1)", "MVp(1,2)", "Js(2,4)", "Ds(3,4)", "Mp(4,5)", "Js(5,7)", "Ds(6,7)"});
  EXPECT_EQ(SceneRules(b.g, b.lk).looking_verb_for(5), 1);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"boy|looking over|gate", "boy|looking at|cow"}));
  // "a man skates near a wall as a boy looks down at the lumber": "at" on "skates"
  //             0          1             2         3           4           5          6             7
  auto c = build(
      "man.n/NOUN skates.v/VERB near/ADP wall.n/NOUN as/SCONJ boy.n/NOUN looks.v/VERB down/ADV "
      // 8       9
      "at/ADP lumber.n/NOUN",
      {"Ss(0,1)", "MVp(1,2)", "Js(2,3)", "MVs(1,4)", "Cs(4,5)", "Ss(5,6)", "MVa(1,7)", "MVp(1,8)", "Ju(8,9)"});
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"man|skates near|wall", "boy|looks down at|lumber"}));
  // "a man looking at a menu at a table": the verb has its "at"; the second stays on "menu"
  //             0          1              2       3      4           5       6      7
  auto d = build("man.n/NOUN looking.v/VERB at/ADP a/DET menu.n/NOUN at/ADP a/DET table.n/NOUN",
                 {"Mg(0,1)", "MVp(1,2)", "Js(2,4)", "Ds(3,4)", "Mp(4,5)", "Js(5,7)", "Ds(6,7)"});
  EXPECT_EQ(SceneRules(d.g, d.lk).looking_verb_for(5), -1);
  EXPECT_EQ(triplets(graph(d)), (std::set<std::string>{"man|looking at|menu", "menu|at|table"}));
}

TEST(SceneRules, IdiomHungOnAVerbKeepsItsNounAsObject) {
  // "a band is playing music on stage": Link Grammar's idiom "on stage" (MV to "stage")
  //             0           1         2              3            4       5
  auto b = build("band.n/NOUN is.v/AUX playing.v/VERB music.n/NOUN on/ADP stage/NOUN",
                 {"Ss(0,1)", "Pg(1,2)", "Ou(2,3)", "_IBMY(4,5)", "MVp(2,5)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.idiom_preposition(5), 4);
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"band|playing|music", "band|on|stage"}));
  // "on top of": the relational noun is part of a preposition, no object
  auto c = build("man.n/NOUN on/ADP top/NOUN of/ADP tree.n/NOUN", {"_IBIZ(1,2)", "_IBIY(2,3)", "Mp(0,3)", "Js(3,4)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).idiom_preposition(2), -1);
  EXPECT_EQ(triplets(graph(c)), (std::set<std::string>{"man|on top of|tree"}));
}

TEST(SceneRules, InfinitiveOfPurposeSharesTheSubject) {
  // "a girl reaches out to pet a deer"
  //             0           1              2       3           4           5      6
  auto b = build("girl.n/NOUN reaches.v/VERB out/ADP to/PART pet.v/VERB a/DET deer.n/NOUN",
                 {"Ss(0,1)", "K(1,2)", "MVi(1,3)", "I(3,4)", "Os(4,6)", "Ds(5,6)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.subjects(4), (std::vector<int>{0}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"girl|pet|deer"}));
}

TEST(SceneRules, ParticipleOnAPhraseOfACoordinationGoesToAllItsPeople) {
  // "boys and girls from a nation smiling in a field": "smiling" hangs on "nation"
  //             0             1          2             3         4              5               6       7
  auto b = build("boys.p/NOUN and/CCONJ girls.p/NOUN from/ADP nation.n/NOUN smiling.v/VERB in/ADP field.n/NOUN",
                 {"SJlp(0,1)", "SJrp(1,2)", "Mp(1,3)", "Js(3,4)", "Mg(4,5)", "MVp(5,6)", "Js(6,7)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_TRUE(rules.animate_coordination(1));
  EXPECT_EQ(rules.semantic_subject(4, 5), 1);
  EXPECT_EQ(rules.subjects(5), (std::vector<int>{0, 2}));
  EXPECT_EQ(triplets(graph(b)), (std::set<std::string>{"boys|from|nation", "girls|from|nation", "boys|smiling in|field",
                                                       "girls|smiling in|field"}));
  // "a boy and a woman are on a sled , sliding through the snow": "sliding"
  // hangs on "sled" (MX)
  //             0           1          2             3       4       5            6         7
  auto d = build(
      "boy.n/NOUN and/CCONJ woman.n/NOUN are.v/AUX on/ADP sled.n/NOUN ,/PUNCT sliding.g/VERB "
      // 8         9
      "through/ADP snow.n/NOUN",
      {"SJls(0,1)", "SJrs(1,2)", "Spx(1,3)", "Pp(3,4)", "Js(4,5)", "MXsp(5,7)", "Xd(6,7)", "MVp(7,8)", "Js(8,9)"});
  SceneRules on_sled(d.g, d.lk);
  EXPECT_EQ(on_sled.semantic_subject(5, 7), 1);
  EXPECT_EQ(on_sled.subjects(7), (std::vector<int>{0, 2}));
  // "a man and shorts": not all people
  auto c = build("man.n/NOUN and/CCONJ shorts.p/NOUN", {"SJls(0,1)", "SJrp(1,2)"});
  EXPECT_FALSE(SceneRules(c.g, c.lk).animate_coordination(1));
}

TEST(SceneRules, PartitiveAdjectivesGoToTheRealObject) {
  // "a white piece of paper and a pair of scissors"
  //             0        1            2             3        4             5          6      7
  auto b = build(
      "a/DET white.a/ADJ piece.n/NOUN of/ADP paper.n/NOUN and/CCONJ a/DET pair.n/NOUN of/ADP "
      // 9
      "scissors.p/NOUN",
      {"Ds(0,2)", "A(1,2)", "Mp(2,3)", "Ju(3,5)", "SJlu(4,5)", "SJrs(5,7)", "Ds(6,7)", "Mf(7,8)", "Jp(8,9)"});
  SceneRules rules(b.g, b.lk);
  EXPECT_EQ(rules.attributes(4), (std::vector<int>{1}));
  EXPECT_TRUE(rules.attributes(9).empty());
  // "a large group of people": a quantity, not a kind of people
  //             0        1            2             3        4
  auto c = build("a/DET large.a/ADJ group.n/NOUN of/ADP people.p/NOUN", {"Ds(0,2)", "A(1,2)", "Mf(2,3)", "Jp(3,4)"});
  EXPECT_TRUE(SceneRules(c.g, c.lk).attributes(4).empty());
}

TEST(SceneRules, AdjectivesLinkGrammarReadsAsNounsOrDeterminers) {
  // "a giant cup" (AN), "his next subject" (L), "the same species" (D), "a bright blue sky"
  //             0      1              2
  auto b = build("a/DET giant.n/NOUN cup.n/NOUN", {"Ds(0,2)", "AN(1,2)"});
  EXPECT_EQ(SceneRules(b.g, b.lk).attributes(2), (std::vector<int>{1}));
  //             0        1         2
  auto c = build("his/DET next/ADJ subject.n/NOUN", {"Ds(0,2)", "L(0,1)"});
  EXPECT_EQ(SceneRules(c.g, c.lk).attributes(2), (std::vector<int>{1}));
  //             0        1         2
  auto d = build("the/DET same/ADJ species.s/NOUN", {"_IBWO(0,1)", "Ds(1,2)"});
  EXPECT_EQ(SceneRules(d.g, d.lk).attributes(2), (std::vector<int>{1}));
  //             0      1             2           3
  auto e = build("a/DET bright.a/ADJ blue.a/ADJ sky.n/NOUN", {"Ds(0,3)", "A(1,2)", "A(2,3)"});
  EXPECT_EQ(SceneRules(e.g, e.lk).attributes(3), (std::vector<int>{1, 2}));
  // "a tennis court": a compound modifier stays no attribute
  auto f = build("a/DET tennis.n/NOUN court.n/NOUN", {"Ds(0,2)", "AN(1,2)"});
  EXPECT_TRUE(SceneRules(f.g, f.lk).attributes(2).empty());
}

}  // namespace
}  // namespace sm
