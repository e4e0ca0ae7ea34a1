// Command scheduler is the minik8s scheduler: it watches pending pods that
// name it in spec.schedulerName, picks a node for each by filtering and
// scoring, and binds them through the apiserver. Several instances run
// active-standby through a Lease in kube-system.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"minik8s/api/component"
	"minik8s/scheduler/app"
)

func main() {
	o := app.NewOptions()
	o.AddFlags(flag.CommandLine)
	_ = component.ParseFlags(flag.CommandLine, os.Args[1:]) // CommandLine exits on errors
	if err := o.Complete(flag.CommandLine); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(2)
	}
	component.Main("scheduler", func(ctx context.Context) error { return app.Run(ctx, o, app.Hooks{}) })
}
