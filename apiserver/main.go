// Command apiserver serves the minik8s API over gRPC, keeping all state in etcd.
package main

import (
	"context"
	"flag"
	"os"

	"minik8s/api/component"
	"minik8s/apiserver/app"
)

func main() {
	var o app.Options
	o.AddFlags(flag.CommandLine)
	_ = component.ParseFlags(flag.CommandLine, os.Args[1:]) // -v; CommandLine exits on errors
	component.Main("apiserver", func(ctx context.Context) error { return app.Run(ctx, o, nil) })
}
