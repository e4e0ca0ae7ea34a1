package printers

import (
	"fmt"
	"time"

	corev1 "minik8s/api/core/v1"
)

// PodSummary is what the pods table says about a pod beyond its name and age.
type PodSummary struct {
	Ready    string // "1/2": ready containers over containers (sidecars included)
	Status   string // Running, ContainerCreating, CrashLoopBackOff, Init:0/1, Terminating, ...
	Restarts string // "3", or "3 (20s ago)" when the last restart is known
}

// SummarizePod computes the READY, STATUS and RESTARTS cells as Kubernetes
// does: the most telling container reason wins over the pod phase, init
// containers report progress as Init:N/M, sidecars (restartable init
// containers) count as containers, and a pod being deleted is Terminating
// until it has finished.
func SummarizePod(p *corev1.Pod, now time.Time) PodSummary {
	spec, st := p.GetSpec(), p.GetStatus()
	total := len(spec.GetContainers())
	ready := 0

	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	for _, c := range st.GetConditions() {
		if c.GetType() == "PodScheduled" && c.GetReason() == "SchedulingGated" {
			reason = "SchedulingGated"
		}
	}

	sidecars := map[string]bool{}
	for _, c := range spec.GetInitContainers() {
		if c.GetRestartPolicy() == "Always" {
			sidecars[c.GetName()] = true
			total++
		}
	}

	// restarts counts every container seen; sidecarRestarts only the
	// sidecars, whose restarts still matter once the pod is initialized.
	var restarts, sidecarRestarts restartTally
	initializing := false
	for i, cs := range st.GetInitContainerStatuses() {
		restarts.add(cs)
		if sidecars[cs.GetName()] {
			sidecarRestarts.add(cs)
		}
		t, w := cs.GetState().GetTerminated(), cs.GetState().GetWaiting()
		switch {
		case t != nil && t.GetExitCode() == 0:
			continue
		case sidecars[cs.GetName()] && cs.GetStarted():
			if cs.GetReady() {
				ready++
			}
			continue
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

	if !initializing || podCondition(p, "Initialized") {
		restarts = sidecarRestarts
		hasRunning := false
		errorReason := ""
		statuses := st.GetContainerStatuses()
		// Walk backwards so that the first container's reason wins.
		for i := len(statuses) - 1; i >= 0; i-- {
			cs := statuses[i]
			restarts.add(cs)
			t, w := cs.GetState().GetTerminated(), cs.GetState().GetWaiting()
			switch {
			case w != nil && w.GetReason() != "":
				reason = w.GetReason()
			case t != nil:
				switch {
				case t.GetReason() != "":
					reason = t.GetReason()
				case t.GetSignal() != 0:
					reason = fmt.Sprintf("Signal:%d", t.GetSignal())
				default:
					reason = fmt.Sprintf("ExitCode:%d", t.GetExitCode())
				}
				if t.GetExitCode() != 0 {
					errorReason = reason
				}
			case cs.GetReady() && cs.GetState().GetRunning() != nil:
				hasRunning = true
				ready++
			}
		}
		// A finished container does not make a pod whose others still run
		// Completed: it is Running, failed, or NotReady.
		if reason == "Completed" {
			switch {
			case hasRunning && podCondition(p, "Ready"):
				reason = "Running"
			case errorReason != "":
				reason = errorReason
			case hasRunning:
				reason = "NotReady"
			}
		}
	}

	if p.GetMetadata().GetDeletionTimestamp() != nil {
		switch phase := st.GetPhase(); {
		case st.GetReason() == "NodeLost":
			reason = "Unknown"
		case phase != corev1.PodSucceeded && phase != corev1.PodFailed:
			reason = "Terminating"
		}
	}

	if reason == "" {
		// The API defaults the phase to Pending; an object that skipped
		// defaulting reads the same.
		reason = "Pending"
	}

	r := fmt.Sprint(restarts.count)
	if restarts.count != 0 && !restarts.last.IsZero() {
		r = fmt.Sprintf("%d (%s ago)", restarts.count, HumanDuration(now.Sub(restarts.last)))
	}
	return PodSummary{Ready: fmt.Sprintf("%d/%d", ready, total), Status: reason, Restarts: r}
}

// restartTally sums restart counts and remembers the latest restart.
type restartTally struct {
	count int
	last  time.Time
}

func (t *restartTally) add(cs *corev1.ContainerStatus) {
	t.count += int(cs.GetRestartCount())
	if f := cs.GetLastState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(t.last) {
		t.last = f.AsTime()
	}
}

// podCondition says the pod has condition typ with status True.
func podCondition(p *corev1.Pod, typ string) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus() == corev1.ConditionTrue
		}
	}
	return false
}

// podIP is the pod's first IP, or "<none>".
func podIP(p *corev1.Pod) string {
	if ips := p.GetStatus().GetPodIPs(); len(ips) > 0 && ips[0].GetIp() != "" {
		return ips[0].GetIp()
	}
	return orNone(p.GetStatus().GetPodIP())
}

// readinessGates is "<none>" or "true/total" over the pod's readiness gates.
func readinessGates(p *corev1.Pod) string {
	gates := p.GetSpec().GetReadinessGates()
	if len(gates) == 0 {
		return "<none>"
	}
	ok := 0
	for _, g := range gates {
		if podCondition(p, g.GetConditionType()) {
			ok++
		}
	}
	return fmt.Sprintf("%d/%d", ok, len(gates))
}

// podRowConditions marks a finished pod's row Completed, as Kubernetes does,
// so a client may hide or dim it.
func podRowConditions(p *corev1.Pod) []RowCondition {
	switch p.GetStatus().GetPhase() {
	case corev1.PodSucceeded:
		return []RowCondition{{Type: "Completed", Status: corev1.ConditionTrue, Reason: "Succeeded", Message: "The pod finished successfully."}}
	case corev1.PodFailed:
		return []RowCondition{{Type: "Completed", Status: corev1.ConditionTrue, Reason: "Failed", Message: "The pod finished with a failure."}}
	}
	return nil
}
