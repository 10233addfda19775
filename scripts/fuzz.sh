#!/usr/bin/env bash
# Runs every fuzz target of the module for a while each (default 10s).
# A run that ends only with the fuzzing engine's own "context deadline
# exceeded" (an input still running at the deadline, no failing input
# written) is run once more; any other failure fails at once.
set -euo pipefail
t=${1:-10s}
fuzz() {
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" -fuzzminimizetime 3s "$1" 2>&1 | tee /tmp/sealpost-fuzz.$$
}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    echo "== $pkg $target ($t)"
    if ! fuzz "$pkg" "$target"; then
      if grep -q 'context deadline exceeded' /tmp/sealpost-fuzz.$$ && ! grep -q 'Failing input written' /tmp/sealpost-fuzz.$$; then
        echo "== $pkg $target: the engine's deadline overran an input; once more"
        fuzz "$pkg" "$target"
      else
        rm -f /tmp/sealpost-fuzz.$$
        exit 1
      fi
    fi
  done
done
rm -f /tmp/sealpost-fuzz.$$
