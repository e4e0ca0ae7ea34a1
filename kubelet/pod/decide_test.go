package pod

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/kubelet/runtime"
)

func testPod(policy string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "u1"},
		Spec: &corev1.PodSpec{RestartPolicy: policy}}
	for _, c := range containers {
		init := strings.HasPrefix(c, "init:")
		cc := &corev1.Container{Name: strings.TrimPrefix(c, "init:"), Image: "busybox"}
		if init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, cc)
		} else {
			p.Spec.Containers = append(p.Spec.Containers, cc)
		}
	}
	return p
}

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func ready() runtime.Sandbox {
	return runtime.Sandbox{ID: "sb1", PodUID: "u1", State: runtime.SandboxReady}
}

func ctr(name string, attempt int, state runtime.ContainerState, exit int32) runtime.Container {
	c := runtime.Container{ID: fmt.Sprintf("%s-%d", name, attempt), PodUID: "u1", Name: strings.TrimPrefix(name, "init:"),
		Init: strings.HasPrefix(name, "init:"), Attempt: attempt, State: state, ExitCode: exit,
		CreatedAt: t0.Add(time.Duration(attempt) * time.Minute), StartedAt: t0.Add(time.Duration(attempt) * time.Minute)}
	if state == runtime.ContainerExited {
		c.FinishedAt = c.StartedAt.Add(time.Second)
		c.Reason = "Error"
		if exit == 0 {
			c.Reason = "Completed"
		}
	}
	return c
}

func TestComputeActions(t *testing.T) {
	noProbes := probeState{}
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		sbs    []runtime.Sandbox
		cs     []runtime.Container
		probes probeState
		want   actions
	}{
		{name: "new pod needs a sandbox", pod: testPod("", "app"),
			want: actions{CreateSandbox: true, StartInit: -1}},
		{name: "dead sandbox is replaced with the next attempt", pod: testPod("", "app"),
			sbs:  []runtime.Sandbox{{ID: "sb1", PodUID: "u1", State: runtime.SandboxNotReady, Attempt: 2}},
			cs:   []runtime.Container{ctr("app", 0, runtime.ContainerRunning, 0)},
			want: actions{CreateSandbox: true, SandboxAttempt: 3, KillAll: true, StartInit: -1}},
		{name: "Never pod whose sandbox died after running is done", pod: testPod("Never", "app"),
			sbs:  []runtime.Sandbox{{ID: "sb1", PodUID: "u1", State: runtime.SandboxNotReady}},
			cs:   []runtime.Container{ctr("app", 0, runtime.ContainerExited, 0)},
			want: actions{Done: true, KillAll: true, StartInit: -1}},
		{name: "first init container starts before apps", pod: testPod("", "init:a", "init:b", "app"),
			sbs: []runtime.Sandbox{ready()}, want: actions{StartInit: 0}},
		{name: "second init after first succeeded", pod: testPod("", "init:a", "init:b", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("init:a", 0, runtime.ContainerExited, 0)},
			want: actions{StartInit: 1}},
		{name: "running init blocks", pod: testPod("", "init:a", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("init:a", 0, runtime.ContainerRunning, 0)},
			want: actions{StartInit: -1}},
		{name: "failed init restarts under Always", pod: testPod("", "init:a", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("init:a", 0, runtime.ContainerExited, 1)},
			want: actions{StartInit: 0}},
		{name: "failed init fails a Never pod", pod: testPod("Never", "init:a", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("init:a", 0, runtime.ContainerExited, 1)},
			want: actions{StartInit: -1, InitFailed: true, Done: true, KillAll: true}},
		{name: "apps start after init", pod: testPod("", "init:a", "app", "side"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("init:a", 0, runtime.ContainerExited, 0)},
			want: actions{StartInit: -1, Start: []int{0, 1}}},
		{name: "running app: nothing to do", pod: testPod("", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("app", 0, runtime.ContainerRunning, 0)},
			want: actions{StartInit: -1}},
		{name: "exited app restarts under Always", pod: testPod("Always", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("app", 0, runtime.ContainerExited, 0)},
			want: actions{StartInit: -1, Start: []int{0}}},
		{name: "OnFailure: success is final", pod: testPod("OnFailure", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("app", 0, runtime.ContainerExited, 0)},
			want: actions{StartInit: -1, Done: true, KillAll: true}},
		{name: "OnFailure: failure restarts", pod: testPod("OnFailure", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("app", 0, runtime.ContainerExited, 2)},
			want: actions{StartInit: -1, Start: []int{0}}},
		{name: "Never: one exits, other runs", pod: testPod("Never", "a", "b"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("a", 0, runtime.ContainerExited, 1), ctr("b", 0, runtime.ContainerRunning, 0)},
			want: actions{StartInit: -1}},
		{name: "liveness failure kills and restarts", pod: testPod("", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("app", 0, runtime.ContainerRunning, 0)},
			probes: probeState{LivenessFailed: map[string]string{"app-0": "failed"}},
			want:   actions{StartInit: -1, Start: []int{0}, Kill: map[string]string{"app-0": "failed"}}},
		{name: "created but not started is retried", pod: testPod("", "app"),
			sbs: []runtime.Sandbox{ready()}, cs: []runtime.Container{ctr("app", 0, runtime.ContainerCreated, 0)},
			want: actions{StartInit: -1, Start: []int{0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := tc.probes
			if ps.LivenessFailed == nil {
				ps = noProbes
			}
			got := computeActions(tc.pod, newPodRuntime("u1", tc.sbs, tc.cs), ps)
			if tc.want.Kill == nil {
				tc.want.Kill = map[string]string{}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(10*time.Second, 40*time.Second)
	now := t0
	if w := b.wait("c", now, now); w != 0 {
		t.Fatalf("first restart waits %v", w)
	}
	var delays []time.Duration
	for i := 0; i < 5; i++ {
		b.next("c", now)
		delays = append(delays, b.delay("c"))
		finished := now.Add(time.Second)
		if w := b.wait("c", finished, finished); w != b.delay("c") {
			t.Fatalf("wait right after exit = %v, want %v", w, b.delay("c"))
		}
		now = finished.Add(b.delay("c"))
		if w := b.wait("c", finished, now); w != 0 {
			t.Fatalf("wait after the back-off = %v", w)
		}
	}
	if fmt.Sprint(delays) != "[10s 20s 40s 40s 40s]" {
		t.Fatalf("delays %v", delays)
	}
	// Long quiet: starts over.
	if w := b.wait("c", now.Add(time.Hour), now.Add(time.Hour)); w != 0 {
		t.Fatalf("after a long run waits %v", w)
	}
	b.next("c", now.Add(time.Hour))
	if b.delay("c") != 10*time.Second {
		t.Fatalf("not reset: %v", b.delay("c"))
	}
}

func TestGenerateStatus(t *testing.T) {
	in := func(pod *corev1.Pod, cs []runtime.Container, w map[string]waiting) statusInput {
		return statusInput{Pod: pod, Runtime: newPodRuntime("u1", []runtime.Sandbox{ready()}, cs),
			Probes: probeState{Ready: map[string]bool{}, Started: map[string]bool{}}, Waiting: w,
			PodIP: "10.244.1.5", HostIP: "192.0.2.1", Now: t0}
	}
	cond := func(st *corev1.PodStatus, typ string) string {
		for _, c := range st.Conditions {
			if c.Type == typ {
				return c.Status
			}
		}
		return "?"
	}

	t.Run("creating", func(t *testing.T) {
		st := generateStatus(in(testPod("", "app"), nil, nil))
		if st.Phase != "Pending" || st.ContainerStatuses[0].State.Waiting.Reason != "ContainerCreating" || cond(st, "Ready") != "False" {
			t.Fatalf("%v", st)
		}
		if st.PodIP != "10.244.1.5" || st.HostIP != "192.0.2.1" || st.StartTime == nil {
			t.Fatalf("ips %v", st)
		}
	})
	t.Run("running and ready", func(t *testing.T) {
		st := generateStatus(in(testPod("", "app"), []runtime.Container{ctr("app", 0, runtime.ContainerRunning, 0)}, nil))
		cs := st.ContainerStatuses[0]
		if st.Phase != "Running" || cs.State.Running == nil || !cs.Ready || cond(st, "Ready") != "True" || cs.ContainerID != "containerd://app-0" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("readiness probe not passed", func(t *testing.T) {
		pod := testPod("", "app")
		pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{}
		st := generateStatus(in(pod, []runtime.Container{ctr("app", 0, runtime.ContainerRunning, 0)}, nil))
		if st.Phase != "Running" || st.ContainerStatuses[0].Ready || cond(st, "Ready") != "False" || cond(st, "ContainersReady") != "False" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("crash loop", func(t *testing.T) {
		st := generateStatus(in(testPod("", "app"),
			[]runtime.Container{ctr("app", 1, runtime.ContainerExited, 1), ctr("app", 0, runtime.ContainerExited, 1)},
			map[string]waiting{"app": {Reason: "CrashLoopBackOff", Message: "back-off 10s"}}))
		cs := st.ContainerStatuses[0]
		if st.Phase != "Running" || cs.State.Waiting.GetReason() != "CrashLoopBackOff" || cs.RestartCount != 1 ||
			cs.LastState.Terminated.GetExitCode() != 1 || cs.LastState.Terminated.ContainerID != "containerd://app-1" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("restarted and running", func(t *testing.T) {
		st := generateStatus(in(testPod("", "app"),
			[]runtime.Container{ctr("app", 2, runtime.ContainerRunning, 0), ctr("app", 1, runtime.ContainerExited, 137)}, nil))
		cs := st.ContainerStatuses[0]
		if cs.RestartCount != 2 || cs.State.Running == nil || cs.LastState.Terminated.GetExitCode() != 137 {
			t.Fatalf("%v", st)
		}
	})
	t.Run("succeeded", func(t *testing.T) {
		in := in(testPod("OnFailure", "app"), []runtime.Container{ctr("app", 0, runtime.ContainerExited, 0)}, nil)
		in.Done = true
		st := generateStatus(in)
		if st.Phase != "Succeeded" || st.ContainerStatuses[0].State.Terminated.GetReason() != "Completed" || cond(st, "Ready") != "False" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("failed", func(t *testing.T) {
		in := in(testPod("Never", "a", "b"), []runtime.Container{ctr("a", 0, runtime.ContainerExited, 0), ctr("b", 0, runtime.ContainerExited, 3)}, nil)
		in.Done = true
		if st := generateStatus(in); st.Phase != "Failed" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("init running", func(t *testing.T) {
		st := generateStatus(in(testPod("", "init:setup", "app"), []runtime.Container{ctr("init:setup", 0, runtime.ContainerRunning, 0)}, nil))
		if st.Phase != "Pending" || cond(st, "Initialized") != "False" || st.ContainerStatuses[0].State.Waiting.GetReason() != "PodInitializing" ||
			st.InitContainerStatuses[0].State.Running == nil {
			t.Fatalf("%v", st)
		}
	})
	t.Run("image pull error", func(t *testing.T) {
		st := generateStatus(in(testPod("", "app"), nil, map[string]waiting{"app": {Reason: "ErrImagePull", Message: "x"}}))
		if st.ContainerStatuses[0].State.Waiting.GetReason() != "ErrImagePull" || st.Phase != "Pending" {
			t.Fatalf("%v", st)
		}
	})
	t.Run("transition times are kept", func(t *testing.T) {
		pod := testPod("", "app")
		old := timestamppb.New(t0.Add(-time.Hour))
		pod.Status = &corev1.PodStatus{StartTime: old, Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: old}}}
		st := generateStatus(in(pod, []runtime.Container{ctr("app", 0, runtime.ContainerRunning, 0)}, nil))
		for _, c := range st.Conditions {
			if c.Type == "Ready" && !proto.Equal(c.LastTransitionTime, old) {
				t.Fatalf("ready transition moved: %v", c)
			}
		}
		if !proto.Equal(st.StartTime, old) {
			t.Fatal("start time moved")
		}
	})
}

type fakeLookup struct{}

func (fakeLookup) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if name == "cfg" {
		return &corev1.ConfigMap{Data: map[string]string{"mode": "fast", "level": "3"}}, nil
	}
	return nil, fmt.Errorf("configmap %s not found", name)
}

func (fakeLookup) Secret(ns, name string) (*corev1.Secret, error) {
	if name == "creds" {
		return &corev1.Secret{Data: map[string][]byte{"password": []byte("s3cret")}}, nil
	}
	return nil, fmt.Errorf("secret %s not found", name)
}

func (fakeLookup) Services(ns string) []*corev1.Service {
	return []*corev1.Service{{Metadata: &metav1.ObjectMeta{Name: "kubia-http"}, Spec: &corev1.ServiceSpec{ClusterIP: "10.96.0.12",
		Ports: []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}}}}}
}

func TestMakeEnv(t *testing.T) {
	pod := testPod("", "app")
	c := pod.Spec.Containers[0]
	c.EnvFrom = []*corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "cfg"}}}
	c.Env = []*corev1.EnvVar{
		{Name: "PLAIN", Value: "v"},
		{Name: "REF", Value: "$(PLAIN)-x-$$(PLAIN)"},
		{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cfg", Key: "mode"}}},
		{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "creds", Key: "password"}}},
		{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "nope", Key: "x", Optional: proto.Bool(true)}}},
	}
	env, err := makeEnv(c, envContext{pod: pod, podIP: "10.244.1.5", nodeName: "node-a", lookup: fakeLookup{}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(env, " ")
	for _, want := range []string{"KUBIA_HTTP_SERVICE_HOST=10.96.0.12", "KUBIA_HTTP_SERVICE_PORT=80", "KUBIA_HTTP_PORT_80_TCP_ADDR=10.96.0.12",
		"CFG_mode=fast", "CFG_level=3", "PLAIN=v", "REF=v-x-$(PLAIN)", "POD=web", "NS=default", "IP=10.244.1.5", "NODE=node-a", "MODE=fast", "PW=s3cret"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			t.Errorf("missing %s in %s", want, got)
		}
	}
	if strings.Contains(got, "OPT=") {
		t.Errorf("optional missing secret set: %s", got)
	}
	c.Env = []*corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "nope", Key: "x"}}}}
	if _, err := makeEnv(c, envContext{pod: pod, lookup: fakeLookup{}}); err == nil {
		t.Error("missing secret accepted")
	}
}

func TestExpandCommand(t *testing.T) {
	env := []string{"PORT=8080", "POD=web", "EMPTY="}
	got := expandCommand([]string{"--port=$(PORT)", "$(POD)-$(EMPTY)x", "$$(PORT)", "$(MISSING)", "plain"}, env)
	want := []string{"--port=8080", "web-x", "$(PORT)", "$(MISSING)", "plain"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("expandCommand: got %q, want %q", got, want)
	}
	if expandCommand(nil, env) != nil {
		t.Error("nil command became non-nil: the image's entrypoint would be replaced")
	}
}

func TestResolvConfAndHosts(t *testing.T) {
	pod := testPod("", "app")
	pod.Metadata.Namespace = "shop"
	got := resolvConf(pod, []string{"10.96.0.10"}, "cluster.local", nil)
	want := "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	if got != want {
		t.Errorf("resolv.conf:\n%s\nwant:\n%s", got, want)
	}
	pod.Spec.DnsPolicy = "Default"
	if got := resolvConf(pod, []string{"10.96.0.10"}, "cluster.local", []byte("nameserver 192.0.2.53\nsearch lan\n")); got != "nameserver 192.0.2.53\nsearch lan\n" {
		t.Errorf("Default policy: %q", got)
	}
	hosts := etcHosts(pod, "10.244.1.5", "cluster.local")
	if !strings.Contains(hosts, "10.244.1.5\tweb\n") || !strings.Contains(hosts, "127.0.0.1\tlocalhost") {
		t.Errorf("hosts: %s", hosts)
	}
}

func TestResources(t *testing.T) {
	c := &corev1.Container{Resources: &corev1.ResourceRequirements{
		Requests: map[string]string{"cpu": "250m"}, Limits: map[string]string{"cpu": "500m", "memory": "64Mi"}}}
	r, err := resources(c)
	if err != nil {
		t.Fatal(err)
	}
	if r.CPUShares != 256 || r.CPUQuota != 50000 || r.CPUPeriod != 100000 || r.MemoryLimit != 64<<20 {
		t.Fatalf("%+v", r)
	}
	if r, _ := resources(&corev1.Container{}); r != (runtime.Resources{}) {
		t.Fatalf("no resources: %+v", r)
	}
}
