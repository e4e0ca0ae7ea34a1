# Pinned versions of the tools the build installs (sourced by hack/ scripts).
ETCD_VERSION=v3.6.16
PROTOBUF_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
