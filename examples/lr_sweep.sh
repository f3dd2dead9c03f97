#!/usr/bin/env bash
# Sweep three learning rates on Rosenbrock's valley in one call (the rates are
# rows of one tensor), tabulate the outcome and draw the three runs in one
# picture (needs: pip install 'gdsolve[plot]', jq).
#
#   examples/lr_sweep.sh [picture.png]      (default: lr_sweep.png; MAX_ITER=... to shorten)
set -uo pipefail

expr="(1-x)**2 + 100*(y-x^2)**2"
out=${1:-lr_sweep.png}
max_iter=${MAX_ITER:-10000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# One process: --lr takes a comma list; --json's "runs" holds each rate's result,
# the trace one labelled path per rate. Exit code 1 (stalled or max-iter) is an
# outcome here, not a failure.
gdsolve minimize "$expr" --lr 0.0005,0.001,0.002 --max-iter "$max_iter" --x0 x=-1,y=1 \
    --trace "$dir/sweep.jsonl" --json > "$dir/sweep.json"

printf "%-8s %-10s %6s %14s %14s %s\n" lr status nit x y f
jq -r '.runs[] | [.values.lr, .status, .nit, .x.x, .x.y, .fun] | @tsv' "$dir/sweep.json" |
  awk -F'\t' '{printf "%-8s %-10s %6s %14.8g %14.8g %s\n", $1, $2, $3, $4, $5, $6}'

gdsolve plot "$dir/sweep.jsonl" -o "$out" --width 1000 --height 420 \
    --title "gd on Rosenbrock from (-1, 1): three learning rates"
