# Pinned versions of the tools the build installs (sourced by hack/ scripts).
ETCD_VERSION=v3.6.16
PROTOBUF_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
# kubectl built from hack/tools/kubectl; its go.mod pins k8s.io/kubectl and the
# other k8s.io modules at the matching library release (v1.X.Y <-> v0.X.Y).
KUBECTL_VERSION=v1.37.2
