#!/usr/bin/env bash
# Trains several models on one world with the same seed and epochs, evaluates
# each on the test split, runs the probes, and prints one side-by-side table
# (also written as Markdown and JSON into the comparison folder).
#   MODELS="vsepp sgm resg gsmn hrem algr" EPOCHS=2 bash scripts/compare.sh
# THREADS=1 leaves a core free for other work.
# Runs that already finished are reused (--resume), so it can be re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/blas-env.sh
MODELS=${MODELS:-"vsepp gsmn sgm resg hrem algr"}
EPOCHS=${EPOCHS:-2}
SEED=${SEED:-1}
PRESET=${PRESET:-cpu}
WORLD=${WORLD:-worlds/small}
OUT=${OUT:-runs/compare-e$EPOCHS}
SM=${SM:-build/scenematch}
THREADS=${THREADS:-0}  # 0: the trainer's default
SETS=${SETS:-}  # further --set keys for every run, e.g. SETS="hard_negatives=false"

bash scripts/install-deps.sh
[ -n "${SKIP_BUILD:-}" ] || bash scripts/build.sh --target scenematch_cli
[ -f "$WORLD/test_probes.jsonl" ] || "$SM" synth --out "$WORLD" --preset small --seed 1
mkdir -p "$OUT"
for m in $MODELS; do
  run="$OUT/$m"
  if [ ! -f "$run/probe.json" ]; then
    sets=()
    for key in $SETS; do sets+=(--set "$key"); done
    start=$(date +%s)
    "$SM" train --model "$m" --data "$WORLD" --out "$run" --preset "$PRESET" --epochs "$EPOCHS" --seed "$SEED" \
      --threads "$THREADS" "${sets[@]}" --resume --quiet
    echo $(( $(date +%s) - start )) > "$run/train_seconds"
    "$SM" eval --checkpoint "$run/best.ckpt" --data "$WORLD" --threads "$THREADS" --json --quiet > "$run/eval.json"
    "$SM" probe --checkpoint "$run/best.ckpt" --data "$WORLD" --threads "$THREADS" --json --quiet > "$run/probe.json"
  fi
done
python3 - "$OUT" $MODELS <<'PY'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
rows, table = [], []
head = ("| model | i2t R@1 | R@5 | R@10 | t2i R@1 | R@5 | R@10 | rSum | relation-swap | (type-valid) | attribute-swap"
        " | object-swap | count | all probes | train s |")
table += [head, "|" + "---|" * (head.count("|") - 1)]
for m in models:
    d = os.path.join(out, m)
    if not os.path.exists(os.path.join(d, "probe.json")):
        continue
    e = json.load(open(os.path.join(d, "eval.json")))
    p = json.load(open(os.path.join(d, "probe.json")))
    secs = open(os.path.join(d, "train_seconds")).read().strip()
    acc = lambda k: "%.1f" % (100 * p[k]["accuracy"]) if k in p else "-"
    table.append("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s | %s | %s |" % (
        m, e["i2t_r1"], e["i2t_r5"], e["i2t_r10"], e["t2i_r1"], e["t2i_r5"], e["t2i_r10"], e["rsum"],
        acc("relation-swap"), acc("relation-swap (type-valid)"), acc("attribute-swap"), acc("object-swap"), acc("count"), acc("all"), secs))
    rows.append({"model": m, "eval": e, "probe": p, "train_seconds": int(secs)})
text = "\n".join(table)
print(text)
open(os.path.join(out, "table.md"), "w").write(text + "\n")
json.dump(rows, open(os.path.join(out, "table.json"), "w"), indent=1)
PY
