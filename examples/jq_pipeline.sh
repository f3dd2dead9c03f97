#!/usr/bin/env bash
# Read gdsolve's JSON from a shell script with jq.
# Exit codes: 0 converged, 1 not converged (stalled, max-iter), 2 bad input, 3 diverged (see README).
set -euo pipefail

# The maximizer, as an object: {"x": 1.0000010363426544, "y": -1.9999967308592599}
gdsolve maximize "-(x-1)**2 - (y+2)**2 + 3" --json | jq .x

# One number for a script variable.
xmin=$(gdsolve minimize "(x-4)**2" --x0 0 --json | jq -r '.x.x')
echo "argmin x = $xmin"

# Branch on the outcome without parsing text: the exit code says it.
if out=$(gdsolve minimize "x**2" --x0 1 --lr 1.5 --max-iter 5000 --json); then
  echo "converged"
else
  code=$?
  echo "stopped with exit $code: $(jq -r .message <<<"$out")"
fi
