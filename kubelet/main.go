// Command kubelet is the node agent of minik8s: it registers the node,
// runs the pods bound to it (and static pods from a manifest directory)
// on containerd with pause-container sandboxes and bridge/veth networking,
// and reports their status.
package main

import (
	"context"
	"flag"
	"os"

	"minik8s/api/component"
	"minik8s/kubelet/app"
)

func main() {
	var o app.Options
	fs := flag.NewFlagSet("kubelet", flag.ExitOnError)
	o.AddFlags(fs)
	_ = fs.Parse(os.Args[1:]) // exits on errors
	o.Complete()
	o.Verbosity.SetDefault(os.Stderr)
	component.Main("kubelet", func(ctx context.Context) error { return app.Run(ctx, o, nil) })
}
