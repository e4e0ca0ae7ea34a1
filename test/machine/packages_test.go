// Package machine tests what only a booted machine shows: the Debian
// packages of `make package` installed, upgraded, removed and purged with
// apt and dpkg under a real systemd (hack/machine/machine.sh boots it with
// systemd-nspawn on a private network).
//
// `make test-packages` builds the packages twice (the second build with a
// higher version, for the upgrade) and runs this test as root with
// MK8S_PACKAGES and MK8S_PACKAGES_UPGRADE naming the two directories.
// Without them, or without root, it skips (fails under MINIK8S_NO_SKIP).
package machine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"minik8s/test/require"
)

var (
	controlPlaneUnits = []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"}
	nodeUnits         = []string{"kubelet", "kube-proxy"}
	allUnits          = append(append([]string{}, controlPlaneUnits...), nodeUnits...)
	packages          = []string{"minik8s-control-plane", "minik8s-node", "minik8s-client"}
)

// repoRoot is the repository this file is in.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// machine is one booted machine of hack/machine/machine.sh.
type machine struct {
	t      *testing.T
	ctx    context.Context
	script string
	name   string
}

// host runs the machine script on the host.
func (m *machine) host(args ...string) (string, error) {
	cmd := exec.CommandContext(m.ctx, m.script, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// sh runs a shell command inside the machine and returns its output and
// error.
func (m *machine) sh(command string) (string, error) {
	return m.host("run", m.name, "--", "bash", "-c", command)
}

// must runs command inside the machine and fails the test when it fails.
func (m *machine) must(command string) string {
	m.t.Helper()
	out, err := m.sh(command)
	if err != nil {
		m.t.Fatalf("in %s: %s: %v\n%s", m.name, command, err, out)
	}
	return strings.TrimSpace(out)
}

// eventually retries command until it succeeds or timeout passes.
func (m *machine) eventually(timeout time.Duration, command string) string {
	m.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := m.sh(command)
		if err == nil {
			return strings.TrimSpace(out)
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("in %s after %s: %s: %v\n%s", m.name, timeout, command, err, out)
		}
		time.Sleep(time.Second)
	}
}

// timed runs must and logs how long the step took.
func (m *machine) timed(what, command string) string {
	m.t.Helper()
	start := time.Now()
	out := m.must(command)
	m.t.Logf("%s: %s", what, time.Since(start).Round(100*time.Millisecond))
	return out
}

func (m *machine) unitState(unit, verb string) string {
	out, _ := m.sh("systemctl " + verb + " " + unit + ".service")
	return strings.TrimSpace(out)
}

// debs lists the three packages' files in dir as seen inside the machine
// (dir is bound read-only at mountpoint).
func debs(t *testing.T, dir, mountpoint string) []string {
	t.Helper()
	var out []string
	for _, p := range packages {
		m, _ := filepath.Glob(filepath.Join(dir, p+"_*.deb"))
		if len(m) != 1 {
			t.Fatalf("%s: want one %s_*.deb, found %v (make package)", dir, p, m)
		}
		out = append(out, mountpoint+"/"+filepath.Base(m[0]))
	}
	return out
}

func debVersion(t *testing.T, deb string) string {
	out, err := exec.Command("dpkg-deb", "-f", deb, "Version").Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s Version: %v", deb, err)
	}
	return strings.TrimSpace(string(out))
}

// apt is how an operator installs local packages non-interactively; the
// dependencies (containerd, runc, iptables) are in the base image, so no
// network is needed. --force-confold keeps a changed conffile without a
// question should the package's copy ever differ.
const apt = "DEBIAN_FRONTEND=noninteractive apt-get -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef -y -q "

func TestPackagesLifecycle(t *testing.T) {
	v1Dir, v2Dir := os.Getenv("MK8S_PACKAGES"), os.Getenv("MK8S_PACKAGES_UPGRADE")
	if v1Dir == "" || v2Dir == "" {
		require.Skip(t, "MK8S_PACKAGES and MK8S_PACKAGES_UPGRADE are not set (make test-packages sets them)")
	}
	if os.Geteuid() != 0 {
		require.Skip(t, "needs root to boot a machine with systemd-nspawn")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	m := &machine{t: t, ctx: ctx, script: filepath.Join(root, "hack", "machine", "machine.sh"), name: fmt.Sprintf("mk8s-pkgtest-%d", os.Getpid()%100000)}
	v1Debs, v2Debs := debs(t, v1Dir, "/packages/v1"), debs(t, v2Dir, "/packages/v2")
	v1 := debVersion(t, filepath.Join(v1Dir, filepath.Base(v1Debs[0])))
	v2 := debVersion(t, filepath.Join(v2Dir, filepath.Base(v2Debs[0])))
	if out, err := exec.Command("dpkg", "--compare-versions", v2, "gt", v1).CombinedOutput(); err != nil {
		t.Fatalf("upgrade version %s is not above %s: %v %s", v2, v1, err, out)
	}

	start := time.Now()
	if out, err := m.host("base"); err != nil {
		t.Fatalf("base image: %v\n%s", err, out)
	}
	t.Logf("base image ready in %s", time.Since(start).Round(time.Second))
	start = time.Now()
	out, err := m.host("boot", m.name, "--bind-ro="+v1Dir+":/packages/v1", "--bind-ro="+v2Dir+":/packages/v2")
	t.Cleanup(func() {
		if t.Failed() {
			if j, err := m.sh("journalctl --no-pager -n 200 -u 'etcd*' -u 'kube*'"); err == nil {
				t.Logf("journal of the units:\n%s", j)
			}
		}
		// A fresh context: the test's may have expired.
		if out, err := exec.Command(m.script, "stop", m.name).CombinedOutput(); err != nil {
			t.Errorf("stop %s: %v\n%s", m.name, err, out)
		}
	})
	if err != nil {
		t.Fatalf("boot: %v\n%s", err, out)
	}
	if out, err := m.host("wait", m.name, "60"); err != nil {
		t.Fatalf("wait for boot: %v\n%s", err, out)
	}
	t.Logf("machine %s up in %s", m.name, time.Since(start).Round(time.Second))

	t.Run("install without PKI", func(t *testing.T) {
		m.t = t
		out := m.timed("apt-get install", apt+"install "+strings.Join(v1Debs, " ")+" 2>&1")
		// postinst names what is missing instead of failing.
		if !strings.Contains(out, "kube-apiserver.service is enabled but not started") {
			t.Errorf("install output does not tell the unconfigured units apart:\n%s", out)
		}
		for _, p := range packages {
			if got := m.must("dpkg-query -W -f '${Status} ${Version}' " + p); got != "install ok installed "+v1 {
				t.Errorf("%s: dpkg status %q, want installed %s", p, got, v1)
			}
		}
		for _, u := range allUnits {
			if got := m.unitState(u, "is-enabled"); got != "enabled" {
				t.Errorf("%s: is-enabled %q, want enabled", u, got)
			}
			if got := m.unitState(u, "is-active"); got != "inactive" {
				t.Errorf("%s: is-active %q without its PKI, want inactive", u, got)
			}
		}
		for _, b := range []string{"etcd", "etcdctl", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "kubelet", "kube-proxy", "minictl", "kubectl"} {
			m.must("test -x /usr/bin/" + b)
		}
		m.must("minictl --help >/dev/null && kubectl version --client >/dev/null")
	})
	if t.Failed() {
		return
	}

	// The operator's step: the PKI from `minictl certs` (the Vagrant
	// layout, deploy/vagrant) and the example addresses on this machine's
	// own loopback (its network is private), then start the units.
	t.Run("configure and start", func(t *testing.T) {
		m.t = t
		pki := t.TempDir()
		certs := exec.CommandContext(ctx, filepath.Join(root, "bin", "minictl"), "certs", "--cert-dir", filepath.Join(pki, "pki"),
			"--kubeconfig-dir", pki, "--server", "https://192.168.56.10:6443", "--apiserver-advertise-address", "192.168.56.10",
			"--nodes", "worker-1=192.168.56.11")
		if out, err := certs.CombinedOutput(); err != nil {
			t.Fatalf("minictl certs: %v\n%s", err, out)
		}
		// What a control-plane machine gets. The node's kubeconfigs stay
		// out: an unconfigured kubelet must stay stopped through the
		// upgrade, and a running one would make pod cgroups in the host's
		// cgroup tree (the machine binds it).
		files := map[string]string{
			"admin.conf": "admin.conf", "scheduler.conf": "scheduler.conf", "controller-manager.conf": "controller-manager.conf",
		}
		for _, f := range []string{"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-etcd-client.crt", "apiserver-etcd-client.key",
			"apiserver-kubelet-client.crt", "apiserver-kubelet-client.key", "etcd/ca.crt", "etcd/server.crt", "etcd/server.key",
			"etcd/peer.crt", "etcd/peer.key", "sa.key", "sa.pub"} {
			files["pki/"+f] = "pki/" + f
		}
		for src, dst := range files {
			if _, err := os.Stat(filepath.Join(pki, src)); err != nil {
				// The layout of `minictl certs` changed: say which file.
				t.Fatalf("minictl certs wrote no %s: %v", src, err)
			}
			mode := "0644"
			if strings.HasSuffix(dst, ".key") || strings.HasSuffix(dst, ".conf") {
				mode = "0600"
			}
			m.must("install -d -m 0755 /etc/minik8s/" + filepath.Dir(dst))
			if out, err := m.host("cp", m.name, filepath.Join(pki, src), "/etc/minik8s/"+dst); err != nil {
				t.Fatalf("cp %s: %v\n%s", src, err, out)
			}
			m.must("chmod " + mode + " /etc/minik8s/" + dst)
		}
		m.must("ip addr add 192.168.56.10/32 dev lo && ip link set lo up")
		m.must("systemctl start " + strings.Join(controlPlaneUnits, " "))
		for _, u := range controlPlaneUnits {
			m.eventually(60*time.Second, "systemctl is-active --quiet "+u)
		}
		m.eventually(60*time.Second, "curl -fsS http://127.0.0.1:8080/healthz")
		m.eventually(30*time.Second, "kubectl --kubeconfig /etc/minik8s/admin.conf get namespaces kube-system")
	})
	if t.Failed() {
		return
	}

	t.Run("upgrade keeps conffiles and restarts", func(t *testing.T) {
		m.t = t
		m.must("echo '# local edit' >>/etc/minik8s/kube-apiserver.env && echo '# local edit' >>/etc/minik8s/kubelet.env")
		before := map[string]string{}
		for _, u := range controlPlaneUnits {
			before[u] = m.must("systemctl show -p MainPID --value " + u)
		}
		m.timed("apt-get install (upgrade)", apt+"install "+strings.Join(v2Debs, " "))
		for _, p := range packages {
			if got := m.must("dpkg-query -W -f '${Status} ${Version}' " + p); got != "install ok installed "+v2 {
				t.Errorf("%s: dpkg status %q, want installed %s", p, got, v2)
			}
		}
		m.must("grep -qx '# local edit' /etc/minik8s/kube-apiserver.env && grep -qx '# local edit' /etc/minik8s/kubelet.env")
		if out, _ := m.sh("ls /etc/minik8s/*.dpkg-* 2>/dev/null"); strings.TrimSpace(out) != "" {
			t.Errorf("dpkg left conffile copies: %s", out)
		}
		for _, u := range controlPlaneUnits {
			m.eventually(60*time.Second, "systemctl is-active --quiet "+u)
			if after := m.must("systemctl show -p MainPID --value " + u); after == before[u] {
				t.Errorf("%s: MainPID %s unchanged: the upgrade did not restart it", u, after)
			}
			if got := m.unitState(u, "is-enabled"); got != "enabled" {
				t.Errorf("%s: is-enabled %q after upgrade", u, got)
			}
		}
		for _, u := range nodeUnits {
			if got := m.unitState(u, "is-active"); got != "inactive" {
				t.Errorf("%s: %s after the upgrade, want inactive (not configured)", u, got)
			}
		}
		m.eventually(60*time.Second, "curl -fsS http://127.0.0.1:8080/healthz")
		// The data survived the restart: etcd's directory was not reset.
		m.must("kubectl --kubeconfig /etc/minik8s/admin.conf get namespaces kube-system")
	})
	if t.Failed() {
		return
	}

	t.Run("remove stops daemons and keeps conffiles", func(t *testing.T) {
		m.t = t
		m.timed("apt-get remove", apt+"remove "+strings.Join(packages, " "))
		for _, p := range packages {
			// The client has no conffiles: removing it leaves nothing.
			want := "deinstall ok config-files"
			if p == "minik8s-client" {
				want = "not installed"
			}
			got, err := m.sh("dpkg-query -W -f '${Status}' " + p + " 2>/dev/null")
			if got = strings.TrimSpace(got); err != nil || got == "unknown ok not-installed" {
				got = "not installed"
			}
			if got != want {
				t.Errorf("%s: dpkg status %q after remove, want %q", p, got, want)
			}
		}
		for _, u := range allUnits {
			if got := m.unitState(u, "is-active"); got == "active" || got == "activating" {
				t.Errorf("%s: %s after remove", u, got)
			}
		}
		for _, b := range []string{"etcd", "kube-apiserver", "kubelet", "kube-proxy", "minictl", "kubectl"} {
			if _, err := m.sh("test -e /usr/bin/" + b); err == nil {
				t.Errorf("/usr/bin/%s still there after remove", b)
			}
			if out, err := m.sh("pgrep -x " + b); err == nil {
				t.Errorf("%s still running after remove: %s", b, out)
			}
		}
		m.must("grep -qx '# local edit' /etc/minik8s/kube-apiserver.env && test -f /etc/minik8s/etcd.env && test -f /etc/minik8s/audit-policy.yaml")
		m.must("test -d /var/lib/etcd/member")
	})
	if t.Failed() {
		return
	}

	t.Run("purge removes conffiles and state, keeps PKI", func(t *testing.T) {
		m.t = t
		// The client went away whole on remove; apt would not know it.
		m.timed("apt-get purge", apt+"purge minik8s-control-plane minik8s-node")
		for _, p := range packages {
			if out, err := m.sh("dpkg-query -W -f '${Status}' " + p + " 2>/dev/null"); err == nil && strings.TrimSpace(out) != "unknown ok not-installed" {
				t.Errorf("%s: dpkg still knows it after purge: %q", p, out)
			}
		}
		for _, f := range []string{"etcd.env", "kube-apiserver.env", "kubelet.env", "kube-proxy.env", "audit-policy.yaml"} {
			if _, err := m.sh("test -e /etc/minik8s/" + f); err == nil {
				t.Errorf("/etc/minik8s/%s survived purge", f)
			}
		}
		for _, d := range []string{"/var/lib/etcd", "/var/lib/private/etcd", "/var/log/kube-apiserver", "/var/lib/minik8s-kubelet"} {
			if _, err := m.sh("test -e " + d); err == nil {
				t.Errorf("%s survived purge", d)
			}
		}
		// Nothing of ours loaded or linked: no unit, no mask, no wants link.
		if out := m.must("systemctl list-units --all --no-legend --plain 'etcd*' 'kube*' | grep -v not-found || true"); out != "" {
			t.Errorf("units still loaded after purge:\n%s", out)
		}
		if out := m.must("find /etc/systemd/system -name 'etcd.service' -o -name 'kube*.service' | head"); out != "" {
			t.Errorf("links or masks left after purge:\n%s", out)
		}
		// The operator's PKI stays (docs/operations.md).
		m.must("test -f /etc/minik8s/pki/ca.key && test -f /etc/minik8s/admin.conf")
	})
}
