package fake

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"minik8s/api/workqueue"
	"minik8s/kubelet/runtime"
)

// TestLifecycle walks a sandbox and a container through the states the
// kubelet relies on and checks the contract of runtime.Runtime.
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := workqueue.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := New(clock)
	events := r.Events(ctx)

	sb, err := r.RunSandbox(ctx, runtime.SandboxConfig{PodUID: "u1", Name: "web", Namespace: "default", Labels: map[string]string{"x": "y"}})
	if err != nil {
		t.Fatal(err)
	}
	if sb.State != runtime.SandboxReady || sb.Labels[runtime.LabelPodUID] != "u1" || sb.Labels["x"] != "y" || len(sb.ID) != 64 {
		t.Fatalf("sandbox %+v", sb)
	}
	cfg := runtime.ContainerConfig{Name: "app", Image: "busybox", LogPath: filepath.Join(t.TempDir(), "app", "0.log"),
		Labels: map[string]string{runtime.LabelContainerType: "app"}}
	if _, err := r.CreateContainer(ctx, sb, cfg); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("create without the image: %v", err)
	}
	if _, err := r.PullImage(ctx, "busybox"); err != nil {
		t.Fatal(err)
	}
	id, err := r.CreateContainer(ctx, sb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ev := <-events; ev != (runtime.Event{ContainerID: id, Type: "start"}) {
		t.Fatalf("event %+v", ev)
	}
	if err := r.WriteLog(id, "hello\n"); err != nil {
		t.Fatal(err)
	}
	clock.Step(time.Second)
	if err := r.Exit(id, 3); err != nil {
		t.Fatal(err)
	}
	c, err := r.ContainerStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != runtime.ContainerExited || c.ExitCode != 3 || c.Reason != "Error" || c.FinishedAt.Sub(c.StartedAt) != time.Second {
		t.Fatalf("after exit: %+v", c)
	}
	if found, ok := r.Find("u1", "app"); !ok || found.ID != id {
		t.Fatalf("Find: %+v %v", found, ok)
	}
	if err := r.StopContainer(ctx, id, time.Second); err != nil {
		t.Fatalf("stopping an exited container: %v", err)
	}
	if err := r.StopSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSandbox(ctx, sb.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ContainerStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("container of a removed sandbox: %v", err)
	}
	if err := r.RemoveContainer(ctx, id); err != nil {
		t.Fatalf("removing a gone container: %v", err)
	}
	want := []string{"RunSandbox default/web 0", "PullImage busybox", "CreateContainer default/web app 0", "StartContainer app 0",
		"StopSandbox default/web 0", "RemoveSandbox default/web 0"}
	if got := r.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
}

// TestHooks: the hooks fail starts, answer execs and pick stop codes.
func TestHooks(t *testing.T) {
	ctx := context.Background()
	r := New(nil)
	r.AddImage("img")
	r.OnStart = func(c runtime.Container) error {
		if c.Name == "bad" {
			return errors.New("exec format error")
		}
		return nil
	}
	r.OnExec = func(_ runtime.Container, cmd []string) (runtime.ExecResult, error) {
		return runtime.ExecResult{Stdout: []byte(cmd[0]), ExitCode: 1}, nil
	}
	sb, _ := r.RunSandbox(ctx, runtime.SandboxConfig{PodUID: "u"})
	bad, _ := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "bad", Image: "img"})
	if err := r.StartContainer(ctx, bad); err == nil {
		t.Fatal("start of bad succeeded")
	}
	if c, _ := r.ContainerStatus(ctx, bad); c.State != runtime.ContainerCreated {
		t.Fatalf("failed start left %s", c.State)
	}
	good, _ := r.CreateContainer(ctx, sb, runtime.ContainerConfig{Name: "good", Image: "img"})
	if err := r.StartContainer(ctx, good); err != nil {
		t.Fatal(err)
	}
	res, err := r.ExecSync(ctx, good, []string{"probe"}, time.Second)
	if err != nil || res.ExitCode != 1 || string(res.Stdout) != "probe" {
		t.Fatalf("exec: %+v %v", res, err)
	}
	if err := r.StopContainer(ctx, good, 0); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.ContainerStatus(ctx, good); c.ExitCode != 137 {
		t.Fatalf("killed with grace 0: exit %d", c.ExitCode)
	}
	if _, err := r.ExecSync(ctx, good, []string{"x"}, time.Second); err == nil {
		t.Fatal("exec in a stopped container succeeded")
	}
}
