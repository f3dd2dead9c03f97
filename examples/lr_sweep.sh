#!/usr/bin/env bash
# Sweep the learning rate on Rosenbrock's valley and tabulate the outcome.
# Each run's JSON is reduced to one line by jq; the exit code is kept too.
set -uo pipefail

expr="(1-x)**2 + 100*(y-x^2)**2"
printf "%-8s %-10s %6s %14s %14s %s\n" lr status nit x y f
for lr in 0.0001 0.0005 0.001 0.002 0.005; do
  out=$(gdsolve minimize "$expr" --lr "$lr" --max-iter 20000 --x0 x=-1,y=1 --json)
  jq -r --arg lr "$lr" '[$lr, .status, .nit, .x.x, .x.y, .fun] | @tsv' <<<"$out" |
    awk -F'\t' '{printf "%-8s %-10s %6s %14.8g %14.8g %s\n", $1, $2, $3, $4, $5, $6}'
done
