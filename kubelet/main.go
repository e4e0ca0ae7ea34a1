// Command kubelet is the node agent of minik8s: it registers the node,
// runs the pods bound to it (and static pods from a manifest directory)
// on containerd with pause-container sandboxes and bridge/veth networking,
// and reports their status.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"minik8s/kubelet/app"
)

func main() {
	var o app.Options
	fs := flag.NewFlagSet("kubelet", flag.ExitOnError)
	o.AddFlags(fs)
	_ = fs.Parse(os.Args[1:])
	o.Complete()
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, o, nil); err != nil {
		slog.Error("kubelet failed", "err", err)
		os.Exit(1)
	}
}
