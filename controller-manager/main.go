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
	var v component.Verbosity
	v.AddFlags(flag.CommandLine)
	flag.Parse()
	v.SetDefault(os.Stderr)
	component.Main("controller-manager", func(ctx context.Context) error { return app.Run(ctx, o, nil) })
}
