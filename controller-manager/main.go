// Command controller-manager runs minik8s' controllers - replication,
// deployment, daemonset, job, statefulset, endpoints, namespace, service
// account, garbage collection, node lifecycle, node IPAM and horizontal
// pod autoscaling - in one process, active only while it holds the
// leader-election Lease.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"minik8s/controller-manager/app"
)

func main() {
	var o app.Options
	o.AddFlags(flag.CommandLine)
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, o, nil); err != nil {
		fmt.Fprintln(os.Stderr, "controller-manager:", err)
		os.Exit(1)
	}
}
