package images

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEtcdVersionInStep: the etcd image's tag is the release
// hack/tools/etcd pins.
func TestEtcdVersionInStep(t *testing.T) {
	b, err := os.ReadFile("../../hack/versions.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ETCD_VERSION=v(\S+)$`).FindSubmatch(b)
	if m == nil || string(m[1]) != EtcdVersion {
		t.Fatalf("hack/versions.sh pins %q, EtcdVersion is %s", m, EtcdVersion)
	}
	if Image(EtcdRepo) != "minik8s/etcd:"+EtcdVersion || Image(KubeProxyRepo) != "minik8s/kube-proxy:"+ControlPlaneVersion {
		t.Errorf("Image: %s %s", Image(EtcdRepo), Image(KubeProxyRepo))
	}
}

// TestIptablesFiles: the kube-proxy layer holds the iptables names, the
// loader, libc and the extensions kube-proxy's rules load, and every
// file's ELF dependencies are in the layer. The layer is then unpacked and
// iptables-restore --version runs in it through its own loader, with
// only the layer's libraries.
func TestIptablesFiles(t *testing.T) {
	for _, b := range IptablesBinaries {
		if _, err := os.Stat(b); err != nil {
			t.Skipf("needs Debian's iptables: %v", err)
		}
	}
	files, err := IptablesFiles()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]file{}
	for _, f := range files {
		have[f.path] = f
	}
	for _, p := range []string{"usr/sbin/iptables", "usr/sbin/iptables-restore", "usr/sbin/iptables-save"} {
		if have[p].linkname != "xtables-nft-multi" {
			t.Errorf("%s: %+v", p, have[p].linkname)
		}
	}
	for _, p := range []string{"lib64/ld-linux-x86-64.so.2", "lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libnftnl.so.11",
		"usr/lib/x86_64-linux-gnu/xtables/libxt_comment.so", "usr/lib/x86_64-linux-gnu/xtables/libxt_statistic.so",
		"usr/lib/x86_64-linux-gnu/xtables/libxt_MASQUERADE.so", "usr/lib/x86_64-linux-gnu/xtables/libxt_DNAT.so"} {
		if _, ok := have[p]; !ok {
			t.Errorf("missing %s", p)
		}
	}
	// Unpack to a directory and run the binary with the layer's loader
	// and library path only, which is what the container's loader sees.
	root := t.TempDir()
	for _, f := range mergeFiles(nil, files) {
		p := filepath.Join(root, f.path)
		switch {
		case f.dir:
			err = os.MkdirAll(p, 0o755)
		case f.linkname != "":
			err = os.Symlink(f.linkname, p)
		default:
			err = os.WriteFile(p, f.data, 0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	libPath := filepath.Join(root, "lib/x86_64-linux-gnu") + ":" + filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	cmd := exec.Command(filepath.Join(root, "lib64/ld-linux-x86-64.so.2"), "--inhibit-cache", "--library-path", libPath,
		"--argv0", "iptables-restore", filepath.Join(root, "usr/sbin/xtables-nft-multi"), "--version")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nf_tables") {
		t.Fatalf("iptables-restore --version in the layer: %v: %s", err, out)
	}
}
