// Command kube-proxy runs on every node and makes Services work there: it
// watches Services and Endpoints through the apiserver and programs the
// node so a connection to a service's virtual IP:port reaches one of its
// ready pods - by DNAT in the kernel, programmed through iptables
// (--proxy-mode iptables) or through a table of its own in nftables
// (--proxy-mode nftables), or through a proxy socket in this process
// (--proxy-mode userspace).
package main

import (
	"context"
	"flag"
	"os"

	"minik8s/api/component"
	"minik8s/kube-proxy/app"
)

func main() {
	o := app.NewOptions()
	o.AddFlags(flag.CommandLine)
	_ = component.ParseFlags(flag.CommandLine, os.Args[1:]) // CommandLine exits on errors
	component.Main("kube-proxy", func(ctx context.Context) error { return app.Run(ctx, o) })
}
