// Package hollownode runs the real kubelet (kubelet/app) without
// containers, the way kubemark's hollow nodes do: the pod manager, node
// registration and heartbeat, status reporting, graceful deletion and the
// kubelet server are the real ones; the container runtime is
// kubelet/runtime/fake and the pod network network.Fake. A test or a
// benchmark starts as many nodes as it likes in one process, without root.
package hollownode

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"minik8s/kubelet/app"
	"minik8s/kubelet/network"
	"minik8s/kubelet/runtime/fake"
)

// Config configures one hollow node.
type Config struct {
	// Server is the apiserver address (HOST:PORT).
	Server string
	// Kubeconfig holds the kubelet's credentials and the apiserver's CA.
	Kubeconfig string
	// Name is the node's name.
	Name string
	// Labels are added to the node's own.
	Labels map[string]string
	// PodCIDR is the node's pod range (default 10.250.0.0/24); pod IPs
	// come from it.
	PodCIDR string
	// NodeIP is the node's InternalIP (default 127.0.0.1).
	NodeIP string
	// Heartbeat is the period of node status and lease updates (10s).
	Heartbeat time.Duration
	// Runtime, if set, is the fake runtime to use (with its hooks set),
	// e.g. the same one again to play a restarted kubelet; else a new one.
	Runtime *fake.Runtime
	// Log gets the kubelet's log (default: discarded).
	Log *slog.Logger
	// PodManifestPath is a directory of static pod manifests (none when
	// empty), read every second.
	PodManifestPath string
}

// Node is a running hollow node.
type Node struct {
	Name    string
	Runtime *fake.Runtime
	Network *network.Fake
	// Kubelet is the running kubelet (its pod manager, server address).
	Kubelet *app.Kubelet

	dir    string
	cancel context.CancelFunc
	done   chan error
}

// Start runs a hollow node's kubelet and returns once it serves; its Node
// object is registered shortly after. Stop ends it.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Server == "" || cfg.Name == "" {
		return nil, errors.New("hollow node: Server and Name are required")
	}
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = "10.250.0.0/24"
	}
	if cfg.NodeIP == "" {
		cfg.NodeIP = "127.0.0.1"
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Runtime == nil {
		cfg.Runtime = fake.New(nil)
	}
	dir, err := os.MkdirTemp("", "minik8s-hollow-"+cfg.Name+"-")
	if err != nil {
		return nil, err
	}
	var o app.Options
	fs := flag.NewFlagSet("kubelet", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(nil); err != nil {
		return nil, err
	}
	o.Server, o.Kubeconfig, o.HostnameOverride, o.NodeIP, o.PodCIDR = cfg.Server, cfg.Kubeconfig, cfg.Name, cfg.NodeIP, cfg.PodCIDR
	o.RootDir, o.Address, o.Port, o.StatusInterval = dir, "127.0.0.1", 0, cfg.Heartbeat
	o.NodeLabels = labelString(cfg.Labels)
	o.PodManifestPath, o.FileCheckFrequency = cfg.PodManifestPath, time.Second
	n := &Node{Name: cfg.Name, Runtime: cfg.Runtime, Network: network.NewFake(), dir: dir, done: make(chan error, 1)}
	ctx, n.cancel = context.WithCancel(ctx)
	ready := make(chan *app.Kubelet, 1)
	go func() {
		n.done <- app.RunWith(ctx, o, app.Deps{Runtime: n.Runtime, Network: n.Network, Log: cfg.Log}, ready)
	}()
	select {
	case n.Kubelet = <-ready:
		return n, nil
	case err := <-n.done:
		n.cancel()
		os.RemoveAll(dir)
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("hollow node %s: %w", cfg.Name, err)
	}
}

func labelString(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// Stop ends the kubelet as a killed process would end: its pods' fake
// containers stay in Runtime, its Node and pods stay in the apiserver.
func (n *Node) Stop() error {
	n.cancel()
	err := <-n.done
	if rerr := os.RemoveAll(n.dir); err == nil {
		err = rerr
	}
	return err
}
