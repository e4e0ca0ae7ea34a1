// Command build-images builds the project's images (pause, kubia, busybox)
// as OCI images and pushes them to a plain-HTTP registry. hack/build-images.sh
// starts the registry and runs this.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"minik8s/hack/images"
)

func main() {
	registry := flag.String("registry", "127.0.0.1:5000", "registry host:port to push to (plain HTTP)")
	binDir := flag.String("bin", "", "directory for the static binaries (default _output/images/bin)")
	flag.Parse()
	if err := run(context.Background(), *registry, *binDir); err != nil {
		slog.Error("build-images failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, registry, binDir string) error {
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
