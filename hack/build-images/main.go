// Command build-images builds the project's images (pause, kubia, busybox,
// dns, ingress, dashboard; with --control-plane also etcd, kube-apiserver, kube-scheduler,
// kube-controller-manager and kube-proxy) as OCI images and pushes them to
// a plain-HTTP registry. hack/build-images.sh starts the registry and runs
// this.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"minik8s/deploy/images"
)

func main() {
	registry := flag.String("registry", "127.0.0.1:5000", "registry host:port to push to (plain HTTP)")
	binDir := flag.String("bin", "", "directory for the static binaries (default _output/images/bin)")
	controlPlane := flag.Bool("control-plane", false, "also build the control-plane images (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kube-proxy) for running the daemons as pods")
	flag.Parse()
	if err := run(context.Background(), *registry, *binDir, *controlPlane); err != nil {
		slog.Error("build-images failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, registry, binDir string, controlPlane bool) error {
	root, err := images.ModuleRoot("")
	if err != nil {
		return err
	}
	if binDir == "" {
		binDir = filepath.Join(root, "_output", "images", "bin")
	}
	if err := images.BuildBinaries(ctx, root, binDir); err != nil {
		return err
	}
	built, err := images.All(binDir)
	if err != nil {
		return err
	}
	if controlPlane {
		if err := images.BuildControlPlaneBinaries(ctx, root, binDir); err != nil {
			return err
		}
		cp, err := images.ControlPlane(binDir)
		if err != nil {
			return err
		}
		built = append(built, cp...)
	}
	if err := images.Push(ctx, registry, built); err != nil {
		return err
	}
	for _, b := range built {
		d, _ := b.Image.Digest()
		for _, t := range b.Tags {
			fmt.Printf("%s/%s@%s\n", registry, t, d)
		}
	}
	return nil
}
