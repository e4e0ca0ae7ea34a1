package printers

import (
	"fmt"
	"time"

	corev1 "minik8s/api/core/v1"
)

// PodSummary is what the pods table shows about a pod.
type PodSummary struct {
	Ready    string // "1/2"
	Status   string // Running, ContainerCreating, CrashLoopBackOff, Init:0/1, Terminating, ...
	Restarts string // "3" or "3 (20s ago)"
}

// SummarizePod computes READY, STATUS and RESTARTS the way kubectl does:
// the most telling container reason wins over the pod phase, init
// containers report progress as Init:N/M, and a pod being deleted is
// Terminating.
func SummarizePod(p *corev1.Pod, now time.Time) PodSummary {
	spec, st := p.GetSpec(), p.GetStatus()
	total := len(spec.GetContainers())
	readyCount := 0
	restarts := 0
	var lastRestart time.Time
	noteRestart := func(cs *corev1.ContainerStatus) {
		restarts += int(cs.GetRestartCount())
		if t := cs.GetLastState().GetTerminated().GetFinishedAt(); t != nil && t.AsTime().After(lastRestart) {
			lastRestart = t.AsTime()
		}
	}

	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}

	// Sidecars (init containers with restartPolicy Always) count as
	// regular containers once they have started.
	sidecars := map[string]bool{}
	for _, c := range spec.GetInitContainers() {
		if c.GetRestartPolicy() == "Always" {
			sidecars[c.GetName()] = true
			total++
		}
	}

	initializing := false
	sidecarRestarts, sidecarLastRestart := 0, time.Time{}
	for i, cs := range st.GetInitContainerStatuses() {
		noteRestart(cs)
		if sidecars[cs.GetName()] {
			sidecarRestarts += int(cs.GetRestartCount())
			if t := cs.GetLastState().GetTerminated().GetFinishedAt(); t != nil && t.AsTime().After(sidecarLastRestart) {
				sidecarLastRestart = t.AsTime()
			}
		}
		state := cs.GetState()
		if sidecars[cs.GetName()] && cs.GetStarted() {
			if cs.GetReady() {
				readyCount++
			}
			continue
		}
		if t := state.GetTerminated(); t != nil && t.GetExitCode() == 0 {
			continue
		}
		switch t, w := state.GetTerminated(), state.GetWaiting(); {
		case t != nil && t.GetReason() != "":
			reason = "Init:" + t.GetReason()
		case t != nil && t.GetSignal() != 0:
			reason = fmt.Sprintf("Init:Signal:%d", t.GetSignal())
		case t != nil:
			reason = fmt.Sprintf("Init:ExitCode:%d", t.GetExitCode())
		case w != nil && w.GetReason() != "" && w.GetReason() != "PodInitializing":
			reason = "Init:" + w.GetReason()
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(spec.GetInitContainers()))
		}
		initializing = true
		break
	}

	if !initializing || hasCondition(p, "Initialized") {
		// Once initialized, only sidecar restarts carry over from the
		// init containers.
		restarts, lastRestart = sidecarRestarts, sidecarLastRestart
		hasRunning := false
		statuses := st.GetContainerStatuses()
		for i := len(statuses) - 1; i >= 0; i-- {
			cs := statuses[i]
			noteRestart(cs)
			state := cs.GetState()
			switch t, w := state.GetTerminated(), state.GetWaiting(); {
			case w != nil && w.GetReason() != "":
				reason = w.GetReason()
			case t != nil && t.GetReason() != "":
				reason = t.GetReason()
			case t != nil && t.GetSignal() != 0:
				reason = fmt.Sprintf("Signal:%d", t.GetSignal())
			case t != nil:
				reason = fmt.Sprintf("ExitCode:%d", t.GetExitCode())
			case cs.GetReady() && state.GetRunning() != nil:
				hasRunning = true
				readyCount++
			}
		}
		// A pod whose finished containers say Completed while others still
		// run is reported by its readiness instead.
		if reason == "Completed" && hasRunning {
			if isPodReady(p) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}

	if p.GetMetadata().GetDeletionTimestamp() != nil {
		if st.GetReason() == "NodeLost" {
			reason = "Unknown"
		} else {
			reason = "Terminating"
		}
	}
	if reason == "" {
		reason = "Pending"
	}

	r := fmt.Sprint(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		r = fmt.Sprintf("%d (%s ago)", restarts, HumanDuration(now.Sub(lastRestart)))
	}
	return PodSummary{Ready: fmt.Sprintf("%d/%d", readyCount, total), Status: reason, Restarts: r}
}

func isPodReady(p *corev1.Pod) bool { return hasCondition(p, "Ready") }

// hasCondition says the pod has condition typ with status True.
func hasCondition(p *corev1.Pod, typ string) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// readinessGates is "<none>" or "ready/total" over the pod's readiness gates.
func readinessGates(p *corev1.Pod) string {
	gates := p.GetSpec().GetReadinessGates()
	if len(gates) == 0 {
		return "<none>"
	}
	ok := 0
	for _, g := range gates {
		for _, c := range p.GetStatus().GetConditions() {
			if c.GetType() == g.GetConditionType() && c.GetStatus() == "True" {
				ok++
				break
			}
		}
	}
	return fmt.Sprintf("%d/%d", ok, len(gates))
}
