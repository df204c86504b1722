// Textual scene graph (objects, attributes, counts, relation triplets) and
// dependency edges from a linkage projected onto a caption's tokens. Each
// extraction rule is one public method over a linkage that tests can build by
// hand (tests/test_scene_rules.cc), so no rule needs Link Grammar to be tested.
// The conventions are in docs/parsing.md.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "scenematch/data/caption_graph.h"

namespace sm {

struct Link {
  std::string base, sub;  // "MVp" -> "MV", "p"; idiom links keep their leading '_'
  int left, right;        // token indices, left < right
};

// A linkage projected onto the caption's tokens.
struct TokenLinkage {
  std::vector<Link> links;
  std::vector<std::string> subscript;  // per token ("n", "v", "g", "p" ...), "" when none
  std::vector<bool> linked;            // token covered by a linked word
  bool finite_clause = false;          // the wall links to a finite verb (WV)
  int nulls = 0;                       // null-linked words of the caption
  double cost = 0;                     // Link Grammar's disjunct cost (lower reads better)
  bool has_subject = false;            // a subject-verb link inside the caption
  bool prefix_takes_clause = false;    // "I see [a man is riding]" rather than "I see [a man riding]"
  int implausibility = 0;              // implausibility() of the linkage
};

// Whether w ends with suffix after at least two other letters ("sitting",
// not "ring").
bool ends_with(const std::string& w, const char* suffix);

// Word classes the rules rely on.
bool is_be_form(const std::string& w);
bool is_animate_noun(const std::string& w);  // people, animals: the doers of actions
bool is_colour_word(const std::string& w);   // "white" in "white tent", which Link Grammar may read as a noun
bool is_partitive_noun(const std::string& w);
bool is_quantity_noun(const std::string& w);   // "lots", "a group": partitives that say how many, not what kind
bool is_adjective_noun(const std::string& w);  // "giant" in "a giant cup", which Link Grammar reads as a noun
bool is_determiner_adjective(
    const std::string& w);               // "next", "same", "other": adjectives Link Grammar links as determiners
int number_value(const std::string& w);  // "two" -> 2, "12" -> 12, else 0

// Readings no caption means, counted in a linkage of `words` (Link Grammar's
// words with their subscripts, "man" + "v"): a person or animal read as a
// verb ("young man.v sitting"), a colour word read as a verb or right before
// one ("and blue.v shorts", "white shorts.v looking"), and a noun compound
// whose head is an -ing word that goes on to take a phrase ("the man
// sitting.g on", "fire hydrant sitting.g next to"), and "being" after a
// form of "be" that does not carry a participle (P: "is being.n held"),
// a person or animal compounded with a plural right before a particle
// ("young girl reaches.n out"), an -ed word after "be" that no link
// touches ("is [crouched] on top of", in a partial linkage), and "being" read
// as a noun ("a small flower being.n sniffed by a cow").
int implausibility(const std::vector<std::string>& words, const std::vector<std::string>& subscripts,
                   const std::vector<Link>& links);

class SceneRules {
 public:
  // g.tokens and g.pos must be set; lk's links index g.tokens.
  SceneRules(const CaptionGraph& g, const TokenLinkage& lk);

  // Writes the edges, objects and relations of the linkage into g.
  void build(CaptionGraph& g);

  // Members of a coordination ("a man and a woman" -> man, woman), else {t}.
  std::vector<int> coordinated(int t) const;
  // Nouns of coordinated(t), each read through partitives, as containers
  // (container()) and with the rest of a list Link Grammar leaves apart
  // (list_rest()).
  std::vector<int> nouns(int t) const;
  // "a cup of salsa" read as a determiner phrase ("a cup of" on "salsa"):
  // the container "cup", which the conventions make the object; else t.
  int container(int t) const;
  // "vegetables , pasta , and meat": a coordination that starts after the
  // comma following noun t and that Link Grammar attaches to nothing before
  // it continues t's list; that conjunction, else -1.
  int list_rest(int t) const;
  // "workers wearing yellow vests and blue hats are outside working": Link
  // Grammar joins two clauses at the "and" after thing t and makes the next
  // thing a subject; when no verb before the "and" has a subject, that thing
  // continues t's list. The thing, else -1 (also for people and animals: "a
  // man holding a cup and a woman is smiling").
  int clause_rest(int t) const;
  // "a woman that is smoking", "an elephant that is standing": the noun a
  // relative pronoun stands for: the person or animal right before it,
  // else the antecedent Link Grammar links (R), else the noun right before
  // it; -1 when none.
  int antecedent(int pronoun) const;
  // "a plate of food near a cup": a phrase Link Grammar hangs on the noun
  // after "of" describes the container before it ("plate"), unless that
  // noun is a person or animal ("a picture of a man on a horse"); else t.
  int of_head(int t) const;
  // "lots of luggage", "a group of people", "a pair of scissors": the noun
  // after "of"; t when t is no partitive or has no "of" object.
  int read_through(int t) const;
  // The nouns a verb (or auxiliary, participle, infinitive) is said of:
  // subject links, participles on nouns, relative clauses ("a man who is
  // riding"), auxiliaries, coordinated verbs and verb complements ("sitting
  // down smoking").
  std::vector<int> subjects(int v) const;
  // The noun that does what an action participle on `noun` says: Link Grammar
  // hangs "playing" on the nearest noun ("people under a tent playing");
  // an inanimate noun inside a prepositional phrase passes it up to the
  // animate noun the phrase describes, or to a coordination of them ("boys
  // and girls from a nation smiling": the "and", whose nouns() are the doers).
  int semantic_subject(int noun, int verb) const;
  // A conjunction whose members are all people or animals.
  bool animate_coordination(int t) const;
  // "looked at" in "is looked at by": Link Grammar joins a verb and its
  // preposition as an idiom whose last word takes the verb's links; whether
  // t is such a preposition (one without an object of its own).
  bool verb_idiom_head(int t) const;
  // A passive participle ("chased" in "is chased by", "ridden" in "being
  // ridden by", "looked at" in "is looked at by": its idiom head).
  bool passive(int v) const;
  // The passive participle on a noun or a form of "be" ("a horse being
  // ridden", "is being held"), else -1.
  int passive_participle(int h) const;
  // "held by a woman in a pink shirt": Link Grammar hangs the phrase at p on
  // the passive participle v, but it describes the doer named by "by"
  // before it; that doer's nouns, else {}.
  std::vector<int> doers_by_before(int v, int p) const;
  // "is being pulled in a dog sled by two dogs": Link Grammar hangs the
  // agent's "by" on the object h of the passive participle's own phrase.
  // That participle, when every agent is a person or animal, else -1.
  int passive_over(int h, const std::vector<int>& agents) const;
  // "playing music on stage": Link Grammar reads "on stage" as one idiom
  // hung on its head by the noun; the idiom's preposition when t is such a
  // noun, else -1.
  int idiom_preposition(int t) const;
  // "a boy looking over a gate at a cow", "as he looks down at the lumber":
  // "at" belongs to the verb of looking before it, wherever Link Grammar
  // hangs it, when no other verb comes between and that verb has no "at"
  // of its own. That verb, else -1.
  int looking_verb_for(int at) const;
  // "is holding" (Pg): the participle that carries a form of "be"'s
  // object when "and" hangs it on the "be" ("... and is holding a pair"), else v.
  int progressive(int v) const;
  // "sitting down thinking about his future": an -ing verb that Link Grammar
  // takes for the object (O) of verb v completes v and shares its subject.
  bool complement(int v, int c) const;
  // The words a preposition p says something of (M, MV or P links to it,
  // members of coordinations), repaired: a particle passes it to its verb, an
  // intransitive -ing verb right before p takes it, and a verb gives it up to
  // its complement.
  std::vector<int> preposition_heads(int p) const;
  // "people are engaged in a game": an -ed word Link Grammar reads as a
  // predicative adjective (Pa) that takes a prepositional phrase is a
  // passive verb, said of the subjects of "be"; those subjects, else {}.
  std::vector<int> participle_adjective_subjects(int a) const;
  // The objects of preposition p (J, or O for a list without commas),
  // repaired around a coordination when the phrase is on a person or
  // animal: a person after a thing in the list is no object ("men in white
  // shirts and another person"), and a thing Link Grammar coordinates with
  // that person after the phrase is one ("man in a jersey and white shorts").
  std::vector<int> phrase_objects(int p) const;
  // Tokens of a multiword predicate: idioms ("in front of", "next to"),
  // verb particles ("picking up").
  std::vector<int> phrase(int t) const;
  // "on top of X", "on the side of X": the relational noun and "of" join the
  // predicate; returns the extended predicate and X, or {} when t is no
  // relational noun with an "of" object.
  std::vector<int> through_relational_noun(int t, std::vector<int>& pred) const;
  // "on each side of him": a relational noun whose "of" object is a
  // pronoun, which is no object; such a phrase gives no relation.
  bool of_pronoun(int t) const;
  // Whether a noun heads its own phrase (not a compound modifier, partitive
  // or part of a preposition).
  bool heads_object(int t) const;
  // Adjectives of a noun: A links to it and its compound modifiers,
  // coordinated adjectives, colour words read as nouns, predicative adjectives.
  std::vector<int> attributes(int t) const;
  // Stated number, else 2 for a plural, else 1.
  int count(int t) const;

 private:
  const std::string& word(int t) const { return tokens_[t]; }
  bool noun(int t) const { return pos_[t] == Pos::NOUN || pos_[t] == Pos::PROPN; }
  bool verbal(int t) const { return pos_[t] == Pos::VERB || pos_[t] == Pos::AUX; }
  bool be(int t) const { return is_be_form(word(t)); }
  bool has_object(int v) const;  // an O link to a noun (not a complement)
  // The first word of an idiom (a '_' link) that ends at t and starts at a
  // word tagged pos, else -1.
  int idiom_start(int t, Pos pos) const;
  bool particle_word(int t) const;
  bool plural(int t) const;
  template <class F>
  void each(int t, const char* base, int dir, F&& f) const;
  std::vector<int> subjects(int action, int v, int depth) const;
  void add(int s, std::vector<int> pred, int o);
  void relations_from_objects();
  void relations_from_prepositions();
  void objects();

  const std::vector<std::string>& tokens_;
  const std::vector<Pos>& pos_;
  const TokenLinkage& lk_;
  int n_;
  std::vector<std::vector<int>> at_;  // links at each token
  std::set<int> predicate_token_;
  std::vector<SceneRelation> relations_;
  std::vector<SceneObject> objects_;
};

}  // namespace sm
