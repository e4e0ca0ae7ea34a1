// Command scheduler is the minik8s scheduler: it watches pending pods that
// name it in spec.schedulerName, picks a node for each by filtering and
// scoring, and binds them through the apiserver. Several instances run
// active-standby through a Lease in kube-system.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"minik8s/scheduler/app"
)

func main() {
	o := app.NewOptions()
	o.AddFlags(flag.CommandLine)
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	if err := o.Complete(flag.CommandLine); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, o, app.Hooks{}); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(1)
	}
}
