#!/usr/bin/env bash
# The main job: installs what is missing, builds, generates the small synthetic
# world (once), trains a model on it with the cpu preset, evaluates the best
# checkpoint on the test split and runs the structure probes.
#   bash scripts/demo.sh                 # VSE++
#   MODEL=gsmn bash scripts/demo.sh      # any registered model (build/scenematch models)
#   THREADS=1 bash scripts/demo.sh       # CPU threads (default: all cores)
# Safe to re-run: the world is kept, and a finished run is reused (--resume).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-vsepp}
PRESET=${PRESET:-cpu}
WORLD=${WORLD:-worlds/small}
RUN=${RUN:-runs/$MODEL-small}
THREADS=${THREADS:-0}  # 0 = all cores

bash scripts/install-deps.sh
bash scripts/build.sh --target scenematch_cli
SM=build/scenematch

# test_probes.jsonl is the generator's last file: its presence means a whole world.
if [ ! -f "$WORLD/test_probes.jsonl" ]; then
  "$SM" synth --out "$WORLD" --preset small --seed 1
fi
"$SM" info "$WORLD"

start=$(date +%s)
"$SM" train --model "$MODEL" --data "$WORLD" --out "$RUN" --preset "$PRESET" --resume --threads "$THREADS"
echo "training wall time: $(( $(date +%s) - start ))s (log: $RUN/log.jsonl, curves: $RUN/curves.png)"

"$SM" eval --checkpoint "$RUN/best.ckpt" --data "$WORLD" --threads "$THREADS"
"$SM" probe --checkpoint "$RUN/best.ckpt" --data "$WORLD" --threads "$THREADS"
