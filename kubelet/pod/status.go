package pod

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "minik8s/api/core/v1"
	"minik8s/kubelet/runtime"
)

// waiting is why a container is not running, as the last sync saw it.
type waiting struct {
	Reason, Message string
}

// statusInput is everything generateStatus reads.
type statusInput struct {
	Pod     *corev1.Pod
	Runtime podRuntime
	Probes  probeState
	// Waiting holds reasons set by the last sync, by container name
	// (ErrImagePull, CrashLoopBackOff, ...).
	Waiting map[string]waiting
	PodIP   string
	HostIP  string
	Now     time.Time
	// Done marks a pod whose containers all exited for good.
	Done bool
	// StartTime is when the kubelet first saw the pod (used when the pod's
	// status has none).
	StartTime time.Time
}

// generateStatus computes the pod's API status. Times that do not change
// (startTime, condition transitions) are kept from the pod's current status.
func generateStatus(in statusInput) *corev1.PodStatus {
	pod := in.Pod
	old := pod.GetStatus()
	now := timestamppb.New(in.Now.Truncate(time.Second))
	st := &corev1.PodStatus{
		HostIP:    in.HostIP,
		QosClass:  old.GetQosClass(),
		StartTime: old.GetStartTime(),
	}
	if in.HostIP != "" {
		st.HostIPs = []*corev1.HostIP{{Ip: in.HostIP}}
	}
	if st.StartTime == nil {
		st.StartTime = now
		if !in.StartTime.IsZero() {
			st.StartTime = timestamppb.New(in.StartTime.Truncate(time.Second))
		}
	}
	if in.PodIP != "" {
		st.PodIP = in.PodIP
		st.PodIPs = []*corev1.PodIP{{Ip: in.PodIP}}
	}
	sb := in.Runtime.sandbox()
	sandboxReady := sb != nil && sb.State == runtime.SandboxReady

	initDone := true
	initFailed := false
	for _, ic := range pod.GetSpec().GetInitContainers() {
		cs := containerStatus(ic, in, true)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		t := cs.GetState().GetTerminated()
		if t == nil || t.ExitCode != 0 {
			initDone = false
			if t != nil && restartPolicy(pod) == RestartNever {
				initFailed = true
			}
		}
	}
	allReady := true
	for _, c := range pod.GetSpec().GetContainers() {
		cs := containerStatus(c, in, false)
		if !initDone {
			// App containers wait for init: PodInitializing, as Kubernetes says.
			if cs.State.GetWaiting() != nil && cs.LastState.GetTerminated() == nil {
				cs.State.Waiting.Reason = "PodInitializing"
				cs.State.Waiting.Message = ""
			}
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		allReady = allReady && cs.Ready
	}
	st.Phase = phase(pod, st, initDone, initFailed, in.Done)
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		allReady = false
	}

	cond := func(typ string, ok bool, reason string) {
		status := corev1.ConditionFalse
		if ok {
			status = corev1.ConditionTrue
			reason = ""
		}
		c := &corev1.PodCondition{Type: typ, Status: status, Reason: reason, LastTransitionTime: now}
		for _, oc := range old.GetConditions() {
			if oc.GetType() == typ && oc.GetStatus() == status {
				c.LastTransitionTime = oc.GetLastTransitionTime()
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	cond("PodReadyToStartContainers", sandboxReady, "")
	cond(corev1.PodInitialized, initDone || len(pod.GetSpec().GetInitContainers()) == 0, "ContainersNotInitialized")
	notReady := "ContainersNotReady"
	if st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed {
		notReady = "PodCompleted"
	}
	cond(corev1.PodReady, allReady && len(st.ContainerStatuses) > 0, notReady)
	cond(corev1.ContainersReady, allReady && len(st.ContainerStatuses) > 0, notReady)
	cond(corev1.PodScheduled, true, "")
	return st
}

// phase follows Kubernetes' getPhase: waiting containers keep a pod
// Pending, running ones make it Running, and when all have stopped the
// restart policy decides between Running (will restart), Succeeded and Failed.
func phase(pod *corev1.Pod, st *corev1.PodStatus, initDone, initFailed, done bool) string {
	if initFailed {
		return corev1.PodFailed
	}
	if !initDone {
		return corev1.PodPending
	}
	var running, waitingN, stopped, succeeded int
	for _, cs := range st.ContainerStatuses {
		switch {
		case cs.State.GetRunning() != nil:
			running++
		case cs.State.GetTerminated() != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.LastState.GetTerminated() != nil:
			stopped++ // waiting to restart
		default:
			waitingN++
		}
	}
	n := len(st.ContainerStatuses)
	switch {
	case n == 0:
		return corev1.PodPending
	case waitingN > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped == n:
		policy := restartPolicy(pod)
		switch {
		case policy == RestartAlways && !done:
			return corev1.PodRunning
		case succeeded == n:
			return corev1.PodSucceeded
		case policy == RestartOnFailure && !done:
			return corev1.PodRunning
		default:
			return corev1.PodFailed
		}
	}
	return corev1.PodPending
}

func containerStatus(c *corev1.Container, in statusInput, init bool) *corev1.ContainerStatus {
	cs := &corev1.ContainerStatus{Name: c.GetName(), Image: c.GetImage(), State: &corev1.ContainerState{}, LastState: &corev1.ContainerState{}}
	insts := in.Runtime.instances(c.GetName(), init)
	if len(insts) > 0 {
		cs.RestartCount = int32(insts[0].Attempt)
	}
	w, hasWaiting := in.Waiting[c.GetName()]
	cur := (*runtime.Container)(nil)
	if len(insts) > 0 {
		cur = &insts[0]
	}
	// The newest instance that ran shapes lastState when the current
	// one has not started (restarting) or runs after a previous one.
	for i := range insts {
		if insts[i].State == runtime.ContainerExited && (cur == nil || insts[i].ID != cur.ID) {
			cs.LastState.Terminated = terminated(&insts[i])
			break
		}
	}
	switch {
	case cur == nil:
		reason := "ContainerCreating"
		if hasWaiting {
			reason = w.Reason
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: w.Message}
	case cur.State == runtime.ContainerRunning:
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: ts(cur.StartedAt)}
		cs.ContainerID = "containerd://" + cur.ID
		cs.ImageID = cur.ImageID
		started := true
		if c.GetStartupProbe() != nil {
			started = in.Probes.Started[cur.ID]
		}
		cs.Started = proto.Bool(started)
		cs.Ready = started
		if c.GetReadinessProbe() != nil {
			cs.Ready = started && in.Probes.Ready[cur.ID]
		}
	case cur.State == runtime.ContainerExited:
		cs.ContainerID = "containerd://" + cur.ID
		cs.ImageID = cur.ImageID
		cs.Started = proto.Bool(false)
		if hasWaiting && !in.Done {
			// Exited and waiting to restart (CrashLoopBackOff): the exit
			// moves to lastState.
			cs.LastState.Terminated = terminated(cur)
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}
		} else {
			cs.State.Terminated = terminated(cur)
		}
	default: // created, not started
		reason := "ContainerCreating"
		if hasWaiting {
			reason = w.Reason
		}
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: w.Message}
		cs.ImageID = cur.ImageID
	}
	if cs.LastState.Terminated == nil {
		cs.LastState = &corev1.ContainerState{}
	}
	return cs
}

func terminated(c *runtime.Container) *corev1.ContainerStateTerminated {
	return &corev1.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: c.Reason, StartedAt: ts(c.StartedAt), FinishedAt: ts(c.FinishedAt),
		ContainerID: "containerd://" + c.ID,
	}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t.Truncate(time.Second))
}

// statusEqual compares two statuses for the purpose of deciding whether to
// write: everything counts.
func statusEqual(a, b *corev1.PodStatus) bool { return proto.Equal(a, b) }
