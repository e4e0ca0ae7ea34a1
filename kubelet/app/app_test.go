package app

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubeconfigReadFirst: a bad --kubeconfig fails the start before the
// kubelet touches containerd, the network or its root directory.
func TestKubeconfigReadFirst(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("kubelet", flag.ContinueOnError)
	o.AddFlags(fs)
	dir := t.TempDir()
	missing := filepath.Join(dir, "kubelet.conf")
	root := filepath.Join(dir, "root")
	if err := fs.Parse([]string{"--kubeconfig", missing, "--root-dir", root, "--containerd", filepath.Join(dir, "none.sock")}); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), o, nil)
	if err == nil || !strings.Contains(err.Error(), "kubeconfig "+missing+": no such file") {
		t.Fatalf("Run: %v", err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the root dir was created before the kubeconfig was read (%v)", err)
	}
}

func TestNodeLabelsChecked(t *testing.T) {
	for flagValue, want := range map[string]string{
		"rack=1,example.com/tier=gold,node.kubernetes.io/pool=a": "",
		"node-role.kubernetes.io/worker=,rack=1":                 "[node-role.kubernetes.io/worker]",
		"node-restriction.kubernetes.io/trusted=yes":             "[node-restriction.kubernetes.io/trusted]",
	} {
		t.Run(flagValue, func(t *testing.T) {
			err := checkNodeLabels(parseLabels(flagValue))
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "labels specified with --node-labels: "+want) {
				t.Fatalf("err %v, want one naming %s", err, want)
			}
		})
	}
}
