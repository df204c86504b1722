#!/usr/bin/env bash
# Compiles one source file with the project's flags (syntax and type check,
# no link), without touching the shared build: for checking a file before the
# rest of the tree picks it up.  Usage: scripts/check-file.sh src/scenematch/x/y.cc
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[ -f "$BUILD_DIR/compile_commands.json" ] || bash scripts/build.sh --target scenematch >/dev/null
cmd=$(python3 -c '
import json,sys
for e in json.load(open(sys.argv[1])):
    if "/src/scenematch/" in e["file"]:
        print(e["command"]); break' "$BUILD_DIR/compile_commands.json")
cmd=$(echo "$cmd" | sed -E "s# -o [^ ]+# -o /dev/null#; s# -c [^ ]+# -fsyntax-only -c $PWD/$1#; s#^[^ ]*ccache ##")
eval "$cmd"
