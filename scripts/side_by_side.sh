#!/usr/bin/env bash
# Every model x {plain, hard negatives} x worlds x seeds: trains each run,
# evaluates it on the test split, runs the probes with the blind (text-only)
# column, and writes one table of mean ± sd over the seeds (Markdown and JSON
# in $OUT; with DOC=docs/models.md also between the side-by-side markers of
# that page).
#   MODELS="vsepp gsmn" WORLDS=small SEEDS="1 2" EPOCHS=2 bash scripts/side_by_side.sh
# The full grid (7 models x 2 x 2 worlds x 3 seeds, 4 epochs) is days of CPU
# time on 2 cores; docs/models.md says what was run. Finished runs are reused.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
MODELS=${MODELS:-"vsepp vse_infty gsmn sgm resg hrem algr"}
WORLDS=${WORLDS:-"small hard"}
SEEDS=${SEEDS:-"1 2 3"}
MODES=${MODES:-"plain hard"}
EPOCHS=${EPOCHS:-4}
PRESET=${PRESET:-cpu}
OUT=${OUT:-runs/side-by-side-e$EPOCHS}
SM=${SM:-build/scenematch}
THREADS=${THREADS:-0}  # 0: the trainer's default
DOC=${DOC:-}
TABLE_ONLY=${TABLE_ONLY:-}  # non-empty: no training, only the table of the runs already finished
# Further --set keys for the hard-negative runs only, e.g. the stronger, later negatives of docs/models.md:
#   HARD_SETS="hard_negative_from_epoch=2 hard_negative_relation_swap=4 hard_negative_attribute_swap=4"
# Give such runs their own OUT: finished runs are reused by path, whatever keys trained them.
HARD_SETS=${HARD_SETS:-}

[ -n "${SKIP_BUILD:-}$TABLE_ONLY" ] || { bash scripts/install-deps.sh && bash scripts/build.sh --target scenematch_cli; }
for world in $WORLDS; do
  [ -z "$TABLE_ONLY" ] || break
  [ -f "worlds/$world/test_probes.jsonl" ] || "$SM" synth --out "worlds/$world" --preset "$world" --seed 1 --quiet
  for m in $MODELS; do
    for mode in $MODES; do
      for seed in $SEEDS; do
        run="$OUT/$world/$m/$mode/s$seed"
        [ -f "$run/probe.json" ] && continue
        sets=(--set hard_negatives=false)
        if [ "$mode" = hard ]; then
          # The grid's setting, pinned so that a change to a cpu preset's hard-negative keys does not change
          # its rows: weight 1 for every kind from epoch 1, the model's triplet margin.
          sets=(--set hard_negatives=true --set hard_negative_from_epoch=1 --set hard_negative_relation_swap=1
            --set hard_negative_attribute_swap=1 --set hard_negative_absent_object=1 --set hard_negative_margin=null)
          for key in $HARD_SETS; do sets+=(--set "$key"); done
        fi
        start=$(date +%s)
        "$SM" train --model "$m" --data "worlds/$world" --out "$run" --preset "$PRESET" --epochs "$EPOCHS" \
          --seed "$seed" --threads "$THREADS" "${sets[@]}" --resume --quiet
        echo $(($(date +%s) - start)) > "$run/train_seconds"
        # Written aside and renamed: a run whose probe failed is not taken for finished.
        "$SM" eval --checkpoint "$run/best.ckpt" --data "worlds/$world" --threads "$THREADS" --json --quiet \
          > "$run/eval.json.tmp"
        mv "$run/eval.json.tmp" "$run/eval.json"
        "$SM" probe --blind --checkpoint "$run/best.ckpt" --data "worlds/$world" --threads "$THREADS" --json --quiet \
          > "$run/probe.json.tmp"
        mv "$run/probe.json.tmp" "$run/probe.json"
      done
    done
  done
done
python3 - "$OUT" "$DOC" "$EPOCHS" "$WORLDS" "$MODELS" "$MODES" "$SEEDS" <<'PY'
import json, os, statistics, sys
out, doc, epochs = sys.argv[1], sys.argv[2], sys.argv[3]
worlds, models, modes, seeds = (a.split() for a in sys.argv[4:8])
# The reversed swaps (passive and converse phrasings) exist only in worlds with paraphrased
# captions; the traced, untraced and scene-graph-only ones (what shows the relation's direction:
# docs/synthetic_world.md) only in worlds with trace dropout.
kinds = [("relation-swap (type-valid)", "rel. swap (type-valid)"),
         ("relation-swap-reversed (type-valid)", "reversed rel. swap (type-valid)"),
         ("relation-swap-traced (type-valid)", "traced rel. swap (type-valid)"),
         ("relation-swap-untraced (type-valid)", "untraced rel. swap (type-valid)"),
         ("relation-swap-scene-graph-only (type-valid)", "scene-graph-only rel. swap (type-valid)"),
         ("attribute-swap", "attr. swap"),
         ("object-swap", "object swap"), ("count", "count")]

def cell(values, digits=1):
    if not values:
        return "-"
    if len(values) == 1:
        return "%.*f" % (digits, values[0])
    return "%.*f ± %.*f" % (digits, statistics.mean(values), digits, statistics.stdev(values))

head = "| world | model | negatives | seeds | R@1 i2t | R@1 t2i | rSum |"
for _, label in kinds:
    head += " %s | blind |" % label
lines = [head, "|" + "---|" * (head.count("|") - 1)]
rows = []
for world in worlds:
    for m in models:
        for mode in modes:
            runs = [os.path.join(out, world, m, mode, "s" + s) for s in seeds]
            runs = [r for r in runs if os.path.exists(os.path.join(r, "probe.json"))]
            if not runs:
                continue
            evals = [json.load(open(os.path.join(r, "eval.json"))) for r in runs]
            probes = [json.load(open(os.path.join(r, "probe.json"))) for r in runs]
            row = "| %s | %s | %s | %d | %s | %s | %s |" % (
                world, m, mode, len(runs), cell([e["i2t_r1"] for e in evals]), cell([e["t2i_r1"] for e in evals]),
                cell([e["rsum"] for e in evals]))
            for kind, _ in kinds:
                acc = [100 * p[kind]["accuracy"] for p in probes if kind in p]
                blind = [100 * p[kind]["blind_accuracy"] for p in probes if kind in p and "blind_accuracy" in p[kind]]
                row += " %s | %s |" % (cell(acc), cell(blind))
            lines.append(row)
            rows.append({"world": world, "model": m, "negatives": mode, "runs": runs, "eval": evals, "probe": probes})
text = "\n".join(lines) + "\n"
print(text, end="")
open(os.path.join(out, "table.md"), "w").write(text)
json.dump(rows, open(os.path.join(out, "table.json"), "w"), indent=1)
if doc:
    begin, end = "<!-- side-by-side:begin -->", "<!-- side-by-side:end -->"
    page = open(doc).read()
    if begin not in page or end not in page:
        sys.exit("%s: no %s ... %s markers to write the table between" % (doc, begin, end))
    page = page[: page.index(begin) + len(begin)] + "\n" + text + page[page.index(end):]
    tmp = doc + ".tmp"
    open(tmp, "w").write(page)
    os.replace(tmp, doc)
PY
