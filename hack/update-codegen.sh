#!/usr/bin/env bash
# Regenerates the Go code for every .proto under api/. The result is committed;
# CI runs this and fails if the tree changes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="$ROOT/_output/tools:$PATH"
for t in protoc protoc-gen-go protoc-gen-go-grpc; do
	command -v "$t" >/dev/null || { echo "update-codegen: $t missing; run hack/install-deps.sh" >&2; exit 1; }
done
mapfile -t protos < <(find api -name '*.proto' | sort)
protoc -I . -I /usr/include \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	"${protos[@]}"
