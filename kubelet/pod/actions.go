// Package pod runs the pods of a node: one worker per pod compares the
// pod's spec with what the runtime reports and acts (create the sandbox and
// its network, run init containers in order, start, restart or kill app
// containers, tear down), then reports status to the apiserver.
//
// The decisions are pure functions of the pod, the runtime's state and the
// probe results (computeActions, generateStatus), tested without root;
// Manager does the I/O.
package pod

import (
	"sort"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/kubelet/runtime"
)

// Restart policies.
const (
	RestartAlways    = "Always"
	RestartOnFailure = "OnFailure"
	RestartNever     = "Never"
)

// podRuntime is the runtime's view of one pod.
type podRuntime struct {
	Sandboxes  []runtime.Sandbox
	Containers []runtime.Container
}

// newPodRuntime keeps the sandboxes and containers of uid, newest first.
func newPodRuntime(uid string, sbs []runtime.Sandbox, cs []runtime.Container) podRuntime {
	var pr podRuntime
	for _, s := range sbs {
		if s.PodUID == uid {
			pr.Sandboxes = append(pr.Sandboxes, s)
		}
	}
	for _, c := range cs {
		if c.PodUID == uid {
			pr.Containers = append(pr.Containers, c)
		}
	}
	sort.SliceStable(pr.Sandboxes, func(i, j int) bool {
		a, b := pr.Sandboxes[i], pr.Sandboxes[j]
		if a.Attempt != b.Attempt {
			return a.Attempt > b.Attempt
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	sort.SliceStable(pr.Containers, func(i, j int) bool {
		a, b := pr.Containers[i], pr.Containers[j]
		if a.Attempt != b.Attempt {
			return a.Attempt > b.Attempt
		}
		return a.CreatedAt.After(b.CreatedAt)
	})
	return pr
}

// sandbox returns the newest sandbox, or nil.
func (p podRuntime) sandbox() *runtime.Sandbox {
	if len(p.Sandboxes) == 0 {
		return nil
	}
	return &p.Sandboxes[0]
}

// instances returns the instances of a container, newest first.
func (p podRuntime) instances(name string, init bool) []runtime.Container {
	var out []runtime.Container
	for _, c := range p.Containers {
		if c.Name == name && c.Init == init {
			out = append(out, c)
		}
	}
	return out
}

// latest returns the newest instance of a container, or nil.
func (p podRuntime) latest(name string, init bool) *runtime.Container {
	if in := p.instances(name, init); len(in) > 0 {
		return &in[0]
	}
	return nil
}

// running reports whether any container of the pod runs.
func (p podRuntime) running() bool {
	for _, c := range p.Containers {
		if c.State == runtime.ContainerRunning {
			return true
		}
	}
	return false
}

// restartPolicy returns the pod's policy, Always by default.
func restartPolicy(pod *corev1.Pod) string {
	if p := pod.GetSpec().GetRestartPolicy(); p != "" {
		return p
	}
	return RestartAlways
}

// shouldRestart applies the restart policy to an exited container.
func shouldRestart(policy string, exitCode int32) bool {
	switch policy {
	case RestartNever:
		return false
	case RestartOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// probeState is what the probes say about running containers, by ID.
type probeState struct {
	// LivenessFailed holds containers whose liveness (or startup) probe
	// failed and which must be restarted.
	LivenessFailed map[string]string // container ID -> message
	Ready          map[string]bool
	Started        map[string]bool
}

// actions is what one sync of a pod must do.
type actions struct {
	// CreateSandbox: no running sandbox; kill what remains and start over
	// with attempt SandboxAttempt.
	CreateSandbox  bool
	SandboxAttempt int
	// KillAll stops every container and the sandbox: the pod is done
	// (every container exited for good) or its sandbox must be replaced.
	KillAll bool
	// StartInit is the index of the init container to (re)start, or -1.
	StartInit int
	// Start lists app containers to (re)start, by spec index.
	Start []int
	// Kill maps running containers to stop to the reason.
	Kill map[string]string
	// Done: every container has exited and none will restart.
	Done bool
	// InitFailed: an init container failed under restartPolicy Never.
	InitFailed bool
}

// computeActions decides the next steps for a pod that is not being
// deleted. It never looks at back-off: the caller decides whether a
// restart may happen now.
func computeActions(pod *corev1.Pod, pr podRuntime, ps probeState) actions {
	a := actions{StartInit: -1, Kill: map[string]string{}}
	policy := restartPolicy(pod)
	spec := pod.GetSpec()

	sb := pr.sandbox()
	if sb == nil || sb.State != runtime.SandboxReady {
		// A pod with restartPolicy Never whose containers all ran does not
		// get a new sandbox: it is finished (Kubernetes does the same).
		if sb != nil && (completed(pod, pr) || policy == RestartNever && allAppContainersRan(pod, pr)) {
			a.Done = true
			a.KillAll = true
			return a
		}
		a.CreateSandbox = true
		a.KillAll = sb != nil
		if sb != nil {
			a.SandboxAttempt = sb.Attempt + 1
		}
		return a
	}

	for i, ic := range spec.GetInitContainers() {
		c := pr.latest(ic.GetName(), true)
		switch {
		case c == nil:
			a.StartInit = i
			return a
		case c.State == runtime.ContainerRunning:
			return a
		case c.State == runtime.ContainerCreated:
			a.StartInit = i // created but never started: try again
			return a
		case c.State == runtime.ContainerExited && c.ExitCode == 0:
			continue
		default: // failed
			if policy == RestartNever {
				a.InitFailed, a.Done, a.KillAll = true, true, true
				return a
			}
			a.StartInit = i
			return a
		}
	}

	anyRunning := false
	pending := false
	for i, cc := range spec.GetContainers() {
		c := pr.latest(cc.GetName(), false)
		switch {
		case c == nil, c.State == runtime.ContainerCreated:
			a.Start = append(a.Start, i)
			pending = true
		case c.State == runtime.ContainerRunning:
			if msg, failed := ps.LivenessFailed[c.ID]; failed {
				a.Kill[c.ID] = msg
				if policy != RestartNever {
					a.Start = append(a.Start, i)
					pending = true
				}
				continue
			}
			if h := c.Labels[runtime.LabelSpecHash]; h != "" && h != containerHash(cc) {
				a.Kill[c.ID] = "Container spec changed, will be restarted"
				a.Start = append(a.Start, i)
				pending = true
				continue
			}
			anyRunning = true
		default: // exited or unknown
			if shouldRestart(policy, c.ExitCode) {
				a.Start = append(a.Start, i)
				pending = true
			}
		}
	}
	if !anyRunning && !pending && len(spec.GetContainers()) > 0 {
		a.Done, a.KillAll = true, true
	}
	return a
}

// completed reports whether every app container has exited and none will
// restart under the pod's policy.
func completed(pod *corev1.Pod, pr podRuntime) bool {
	policy := restartPolicy(pod)
	for _, cc := range pod.GetSpec().GetContainers() {
		c := pr.latest(cc.GetName(), false)
		if c == nil || c.State != runtime.ContainerExited || shouldRestart(policy, c.ExitCode) {
			return false
		}
	}
	return len(pod.GetSpec().GetContainers()) > 0
}

func allAppContainersRan(pod *corev1.Pod, pr podRuntime) bool {
	for _, cc := range pod.GetSpec().GetContainers() {
		if pr.latest(cc.GetName(), false) == nil {
			return false
		}
	}
	return len(pod.GetSpec().GetContainers()) > 0
}

// backoff is the per-container restart back-off of Kubernetes: a first
// restart is immediate, then the wait doubles from Base to Max. A container
// that ran for longer than 2*Max before exiting starts over from Base.
// Not safe for concurrent use; each pod worker owns one.
type backoff struct {
	Base, Max time.Duration
	entries   map[string]*backoffEntry
}

type backoffEntry struct {
	delay   time.Duration
	lastTry time.Time
}

func newBackoff(base, max time.Duration) *backoff {
	return &backoff{Base: base, Max: max, entries: map[string]*backoffEntry{}}
}

// wait returns how much longer a restart of key must wait, given when the
// container finished; 0 means it may restart now.
func (b *backoff) wait(key string, finished, now time.Time) time.Duration {
	e, ok := b.entries[key]
	if !ok {
		return 0
	}
	if now.Sub(e.lastTry) > 2*b.Max {
		delete(b.entries, key)
		return 0
	}
	if w := finished.Add(e.delay).Sub(now); w > 0 {
		return w
	}
	return 0
}

// delay returns the current back-off of key (0 if none yet).
func (b *backoff) delay(key string) time.Duration {
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// next records a restart of key at now and doubles its back-off.
func (b *backoff) next(key string, now time.Time) {
	e, ok := b.entries[key]
	switch {
	case !ok || now.Sub(e.lastTry) > 2*b.Max:
		b.entries[key] = &backoffEntry{delay: b.Base, lastTry: now}
	default:
		e.delay = min(e.delay*2, b.Max)
		e.lastTry = now
	}
}

// reset forgets key.
func (b *backoff) reset(key string) { delete(b.entries, key) }
