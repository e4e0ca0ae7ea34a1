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
# The OpenAPI documents' descriptions are the protos' comments, which the Go
# descriptors lack at run time: extract them from a descriptor set with
# source info (see hack/gen-openapi).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc -I . -I /usr/include --include_source_info \
	--descriptor_set_out="$tmp/api.pb" "${protos[@]}"
go run ./hack/gen-openapi -descriptors "$tmp/api.pb" \
	-out apiserver/openapi/zz_generated.descriptions.json
