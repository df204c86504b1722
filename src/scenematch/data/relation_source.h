// Where a split's visual relations come from: the dataset's own S_vsg.jsonl,
// or a graph derived from the regions when the dataset has none.
#pragma once
#include <string>

namespace sm {

enum class RelationSource {
  Auto,      // a request only: Given when S_vsg.jsonl exists, else Boxes when boxes exist, else Features
  Given,     // S_vsg.jsonl (and S_vsg_rel.npy when present)
  Boxes,     // derived from S_ims_bbx.npy + S_ims_size.npy
  Features,  // derived from region feature similarity
  None,      // no relations (object labels from S_vsg.jsonl are still read when it exists)
};

// "auto", "given", "boxes", "features", "none"; any other name is an error naming `what`.
RelationSource parse_relation_source(const std::string& name, const std::string& what = "relations");
const char* relation_source_name(RelationSource source);
// For logs: "given (S_vsg.jsonl)", "derived from boxes", "derived from features", "none".
const char* describe_relation_source(RelationSource source);
// What `requested` becomes for DIR/SPLIT_*: Auto is resolved from the files present, anything else is kept.
RelationSource resolve_relation_source(const std::string& dir, const std::string& split, RelationSource requested);

}  // namespace sm
