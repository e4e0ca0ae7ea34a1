#!/usr/bin/env bash
# Runs every Go fuzz target (func FuzzX in a _test.go file) with
# `go test -fuzz` for FUZZTIME each (default 5s), one target at a time, as
# `go test -fuzz` takes one target of one package per run. The seed corpora
# already run with every plain `go test`; this explores beyond them. A
# failing input is written to the package's testdata/fuzz/FuzzX/ - commit
# it with the fix, and it runs as a seed from then on.
# `go test -fuzz` builds every dependency with coverage instrumentation
# (for the REST and gRPC fronts' targets that includes k8s.io/client-go):
# the first run on a machine pays minutes of compiling once, later runs
# reuse the build cache and take about FUZZTIME per target plus a link.
#   FUZZTIME=30s hack/fuzz.sh            every target, 30 s each
#   hack/fuzz.sh ./api/codec             the targets of one package
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-5s}
GO=${GO:-go}

if [ $# -gt 0 ]; then
	pkgs=("$@")
else
	# The packages whose tests declare a fuzz target, found by grep so
	# that only they are compiled for the listing.
	mapfile -t pkgs < <(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz[A-Z0-9_a-z]*(f \*testing.F)' |
		xargs -n1 dirname | sort -u | sed 's|^|./|')
fi

# fuzz_one runs one target. go test's fuzzing coordinator can end a run
# with a bare "context deadline exceeded" when -fuzztime runs out while a
# worker is still busy: no failing input is written,
# nothing was found. Such a run is repeated (twice at most); a run that wrote a
# failing input is a finding and fails at once.
fuzz_one() {
	local pkg=$1 target=$2 out attempt
	out=$(mktemp)
	for attempt in 1 2 3; do
		if $GO test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$out"; then
			rm -f "$out"
			return 0
		fi
		if grep -q 'Failing input written to' "$out" || ! grep -q 'context deadline exceeded' "$out"; then
			break
		fi
		echo "fuzz: $pkg $target stopped on the fuzz deadline with nothing found; once more"
	done
	rm -f "$out"
	return 1
}

failed=()
n=0
for pkg in "${pkgs[@]}"; do
	for target in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		n=$((n + 1))
		echo "==> $pkg $target ($FUZZTIME)"
		if ! fuzz_one "$pkg" "$target"; then
			failed+=("$pkg $target")
		fi
	done
done
echo "fuzz: $n targets, ${#failed[@]} failed"
for f in "${failed[@]}"; do
	echo "FAILED: $f"
done
[ ${#failed[@]} -eq 0 ]
