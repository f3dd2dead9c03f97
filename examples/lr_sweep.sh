#!/usr/bin/env bash
# Sweep three learning rates on Rosenbrock's valley, tabulate the outcome and
# draw the three runs in one picture (needs: pip install 'gdsolve[plot]', jq).
#
#   examples/lr_sweep.sh [picture.png]      (default: lr_sweep.png; MAX_ITER=... to shorten)
set -uo pipefail

expr="(1-x)**2 + 100*(y-x^2)**2"
out=${1:-lr_sweep.png}
max_iter=${MAX_ITER:-10000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

printf "%-8s %-10s %6s %14s %14s %s\n" lr status nit x y f
for lr in 0.0005 0.001 0.002; do
  # --trace keeps every step for the plot; --json gives the summary line.
  # Exit code 1 (stalled or max-iter) is an outcome here, not a failure.
  gdsolve minimize "$expr" --lr "$lr" --max-iter "$max_iter" --x0 x=-1,y=1 \
      --trace "$dir/lr_$lr.jsonl" --json > "$dir/lr_$lr.json"
  jq -r --arg lr "$lr" '[$lr, .status, .nit, .x.x, .x.y, .fun] | @tsv' "$dir/lr_$lr.json" |
    awk -F'\t' '{printf "%-8s %-10s %6s %14.8g %14.8g %s\n", $1, $2, $3, $4, $5, $6}'
done

gdsolve plot "$dir"/lr_*.jsonl -o "$out" --width 1000 --height 420 \
    --title "gd on Rosenbrock from (-1, 1): three learning rates"
