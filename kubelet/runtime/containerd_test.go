package runtime_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"minik8s/kubelet/cgroups"
	"minik8s/kubelet/runtime"
	"minik8s/test/nodetest"
)

func TestProcessArgs(t *testing.T) {
	ep, cmd := []string{"/ep"}, []string{"def"}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          string
	}{
		{"image defaults", nil, nil, "/ep def"},
		{"args only", nil, []string{"a"}, "/ep a"},
		{"command only", []string{"/bin/sh"}, nil, "/bin/sh"},
		{"both", []string{"/bin/sh"}, []string{"-c", "x"}, "/bin/sh -c x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(runtime.ProcessArgs(ep, cmd, tc.command, tc.args), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostsMirror(t *testing.T) {
	reg, u, err := runtime.ParseMirror("docker.io=http://127.0.0.1:5000")
	if err != nil || reg != "docker.io" {
		t.Fatal(reg, err)
	}
	h := runtime.NewHosts(map[string]*url.URL{reg: u}, []string{"reg.local:80"})
	for host, want := range map[string]string{
		"docker.io":      "http://127.0.0.1:5000/v2",
		"reg.local:80":   "http://reg.local:80/v2",
		"127.0.0.1:5001": "http://127.0.0.1:5001/v2",
		"quay.io":        "https://quay.io/v2",
	} {
		hs, err := h.Registry(host)
		if err != nil || len(hs) != 1 {
			t.Fatalf("%s: %v %v", host, hs, err)
		}
		if got := hs[0].Scheme + "://" + hs[0].Host + hs[0].Path; got != want {
			t.Errorf("%s: got %s, want %s", host, got, want)
		}
	}
	for _, bad := range []string{"docker.io", "=http://x", "docker.io=ftp://x"} {
		if _, _, err := runtime.ParseMirror(bad); err == nil {
			t.Errorf("ParseMirror(%q) accepted", bad)
		}
	}
}

// TestContainerdSandbox runs a pod by hand on a private containerd: pull
// through a docker.io mirror, a pause sandbox in its own netns, the kubia
// app and a busybox container joining it, exec, stop and remove.
func TestContainerdSandbox(t *testing.T) {
	nodetest.RequireRoot(t)
	cg := "/" + nodetest.Name("mk8s-rt")
	t.Cleanup(func() { _ = cgroups.Remove(cg) }) // after containerd's cleanup
	ctrd := nodetest.StartContainerd(t)
	reg := nodetest.Registry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, u, _ := runtime.ParseMirror("docker.io=http://" + reg)
	rt, err := runtime.NewContainerd(ctx, runtime.ContainerdOptions{
		Address: ctrd.Address, Namespace: nodetest.Name("k8s"),
		Hosts: runtime.NewHosts(map[string]*url.URL{"docker.io": u}, nil), StateDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if v, err := rt.Version(ctx); err != nil || !strings.Contains(v, "1.") {
		t.Fatalf("version %q %v", v, err)
	}
	if _, err := rt.GetImage(ctx, "busybox"); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("GetImage before pull: %v", err)
	}
	for _, ref := range []string{"minik8s/pause", "luksa/kubia", "busybox"} {
		img, err := rt.PullImage(ctx, ref)
		if err != nil {
			t.Fatalf("pull %s: %v\n%s", ref, err, ctrd.Log())
		}
		if !strings.HasPrefix(img.ID, "sha256:") {
			t.Fatalf("image id %q", img.ID)
		}
	}
	_, nsPath := nodetest.Netns(t, "rtpod")
	sb, err := rt.RunSandbox(ctx, runtime.SandboxConfig{PodUID: "uid-1", Name: "web", Namespace: "default",
		Hostname: "web", NetnsPath: nsPath, CgroupParent: cg + "/poduid-1", Image: "minik8s/pause"})
	if err != nil {
		t.Fatalf("run sandbox: %v\n%s", err, ctrd.Log())
	}
	logDir := t.TempDir()
	app, err := rt.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "app", Image: "luksa/kubia",
		LogPath: filepath.Join(logDir, "app.log"), Env: []string{"GREETING=hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, app); err != nil {
		t.Fatalf("start: %v\n%s", err, ctrd.Log())
	}
	tools, err := rt.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "tools", Image: "busybox",
		Command: []string{"sh", "-c", "echo started; sleep 3600"}, LogPath: filepath.Join(logDir, "tools.log")})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, tools); err != nil {
		t.Fatal(err)
	}
	// The app answers on the pod's loopback, seen from the other container.
	var out runtime.ExecResult
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err = rt.ExecSync(ctx, tools, []string{"wget", "-qO-", "http://127.0.0.1:8080/"}, 5*time.Second)
		if err == nil && out.ExitCode == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || !strings.Contains(string(out.Stdout), "You've hit web") {
		t.Fatalf("wget from tools: %v %+v", err, out)
	}
	// Hostname is the pod name in every container (shared UTS).
	if out, err := rt.ExecSync(ctx, tools, []string{"hostname"}, 5*time.Second); err != nil || strings.TrimSpace(string(out.Stdout)) != "web" {
		t.Fatalf("hostname: %v %q", err, out.Stdout)
	}
	if out, err := rt.ExecSync(ctx, tools, []string{"sh", "-c", "exit 3"}, 5*time.Second); err != nil || out.ExitCode != 3 {
		t.Fatalf("exit code: %v %+v", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(logDir, "tools.log")); !strings.Contains(string(b), "started") {
		t.Fatalf("log file: %q", b)
	}
	st, err := rt.ContainerStats(ctx, app)
	if err != nil || st.CPUUsageNanos == 0 || st.MemoryUsageBytes == 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
	cs, err := rt.ListContainers(ctx)
	if err != nil || len(cs) != 2 {
		t.Fatalf("list: %v %v", cs, err)
	}
	for _, c := range cs {
		if c.State != runtime.ContainerRunning || c.SandboxID != sb.ID || c.PodUID != "uid-1" || c.StartedAt.IsZero() {
			t.Errorf("container %+v", c)
		}
	}
	// A container ignoring SIGTERM (sh as PID 1 does) is SIGKILLed after the grace.
	start := time.Now()
	if err := rt.StopContainer(ctx, tools, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	c, err := rt.ContainerStatus(ctx, tools)
	if err != nil || c.State != runtime.ContainerExited || c.ExitCode != 137 || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("after stop: %+v %v (%v)", c, err, time.Since(start))
	}
	// kubia exits on SIGTERM by itself.
	if err := rt.StopContainer(ctx, app, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if c, _ := rt.ContainerStatus(ctx, app); c.ExitCode != 0 || c.Reason != "Completed" {
		t.Fatalf("kubia after SIGTERM: %+v", c)
	}
	for _, id := range []string{app, tools} {
		if err := rt.RemoveContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.StopSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := rt.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if sbs, _ := rt.ListSandboxes(ctx); len(sbs) != 0 {
		t.Fatalf("sandboxes left: %v", sbs)
	}
}
