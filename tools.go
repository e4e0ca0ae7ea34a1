//go:build tools

package tools

import (
	_ "github.com/containerd/containerd/v2/client"
	_ "github.com/coreos/go-iptables/iptables"
	_ "github.com/google/go-containerregistry/pkg/v1/remote"
	_ "github.com/google/uuid"
	_ "github.com/miekg/dns"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/vishvananda/netlink"
	_ "go.etcd.io/etcd/client/v3"
	_ "google.golang.org/grpc"
	_ "google.golang.org/protobuf/proto"
	_ "sigs.k8s.io/yaml"
)
