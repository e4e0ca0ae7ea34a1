package app

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnabledControllers(t *testing.T) {
	all := KnownControllers()
	for _, tt := range []struct {
		spec string
		want []string
		err  string
	}{
		{"*", all, ""},
		{"", all, ""},
		{"*,-garbagecollector,-nodeipam", without(all, "garbagecollector", "nodeipam"), ""},
		{"replicaset,deployment", []string{"deployment", "replicaset"}, ""},
		{"*,-bogus", nil, `unknown controller "bogus"`},
		{"*,-horizontalpodautoscaling", without(all, "horizontalpodautoscaling"), ""},
	} {
		o := DefaultOptions()
		o.Controllers = tt.spec
		got, err := o.EnabledControllers()
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.spec, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%q: %v %v, want %v", tt.spec, got, err, tt.want)
		}
	}
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, x := range list {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	if o := DefaultOptions(); o.Validate() != nil || o.Port != 10257 || o.ClusterCIDR != "10.244.0.0/16" || o.NodeCIDRMaskSize != 24 ||
		o.PodEvictionTimeout != 300*time.Second || !o.LeaderElect || o.HPASyncPeriod != 15*time.Second ||
		o.HPADownscaleStabilization != 5*time.Minute || o.HPATolerance != 0.1 {
		t.Fatalf("defaults: %+v (%v)", o, o.Validate())
	}
	for _, tt := range []struct {
		change func(*Options)
		err    string
	}{
		{func(o *Options) { o.RenewDeadline = o.LeaseDuration }, "renew-deadline"},
		{func(o *Options) { o.ClusterCIDR = "nope" }, "--cluster-cidr"},
		{func(o *Options) { o.NodeCIDRMaskSize = 8 }, "--node-cidr-mask-size"},
		{func(o *Options) { o.NodeMonitorGrace = 0 }, "node-monitor-grace-period"},
		{func(o *Options) { o.HPASyncPeriod = 0 }, "horizontal-pod-autoscaler-sync-period"},
		{func(o *Options) { o.HPATolerance = -1 }, "horizontal-pod-autoscaler-tolerance"},
	} {
		o := DefaultOptions()
		tt.change(&o)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("want an error naming %s, got %v", tt.err, err)
		}
	}
}

// TestRunKubeconfig: --kubeconfig is read before anything starts, and its
// errors say which file and what is wrong.
func TestRunKubeconfig(t *testing.T) {
	dir := t.TempDir()
	badCA := filepath.Join(dir, "bad-ca.conf")
	if err := os.WriteFile(badCA, []byte("apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster: {server: \"https://127.0.0.1:1\", certificate-authority: "+filepath.Join(dir, "no-such-ca.crt")+"}\ncontexts:\n- name: c\n  context: {cluster: c}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.conf")
	for _, tt := range []struct {
		kubeconfig, want string
	}{
		{missing, "kubeconfig " + missing + ": no such file"},
		{badCA, "no-such-ca.crt"},
	} {
		o := DefaultOptions()
		o.Kubeconfig = tt.kubeconfig
		fs := flag.NewFlagSet("cm", flag.ContinueOnError)
		(&Options{}).AddFlags(fs)
		if fs.Lookup("kubeconfig") == nil {
			t.Fatal("no --kubeconfig flag")
		}
		// A Run that does not fail at once would run until the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := Run(ctx, o, nil)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("--kubeconfig %s: %v, want an error naming %q", tt.kubeconfig, err, tt.want)
		}
	}
}
