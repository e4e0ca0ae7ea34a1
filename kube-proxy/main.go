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
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"minik8s/kube-proxy/app"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "kube-proxy:", err)
		os.Exit(1)
	}
}
