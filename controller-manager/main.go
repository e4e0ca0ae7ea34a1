// Command controller-manager runs minik8s' controllers - replication,
// deployment, daemonset, job, statefulset, endpoints, namespace, service
// account, garbage collection, node lifecycle, node IPAM and horizontal
// pod autoscaling - in one process, active only while it holds the
// leader-election Lease.
package main

import (
	"context"
	"flag"
	"os"

	"minik8s/api/component"
	"minik8s/controller-manager/app"
)

func main() {
	var o app.Options
	o.AddFlags(flag.CommandLine)
	_ = component.ParseFlags(flag.CommandLine, os.Args[1:]) // CommandLine exits on errors
	component.Main("controller-manager", func(ctx context.Context) error { return app.Run(ctx, o, nil) })
}
