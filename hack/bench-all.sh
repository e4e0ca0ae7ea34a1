#!/usr/bin/env bash
# Runs every benchmark program (hack/bench and hack/bench-*) and collects
# their sections into docs/benchmarks.md. Programs that need root skip or
# fail on their own; a failure is reported and the others still run.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT="$ROOT/_output/bench"
rm -rf "$OUT"
mkdir -p "$OUT"
failed=()
for dir in hack/bench hack/bench-*/; do
	dir=${dir%/}
	[ -f "$dir/main.go" ] || continue
	name=$(basename "$dir")
	echo "==> $name"
	if ! go run "./$dir" -out "$OUT/$name.md"; then
		failed+=("$name")
	fi
done
{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (hack/bench-all.sh): every figure below was measured in one run on one machine, each section with its baseline measured in the same run."
	for f in "$OUT"/*.md; do
		[ -e "$f" ] || continue
		echo
		cat "$f"
	done
} >docs/benchmarks.md
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench: failed: ${failed[*]}" >&2
	exit 1
fi
