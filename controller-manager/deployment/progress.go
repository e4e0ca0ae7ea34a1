package deployment

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
)

// checkPausedConditions marks pausing and resuming in the Progressing
// condition (status Unknown), so progress deadlines do not run while paused.
func (s *syncState) checkPausedConditions(ctx context.Context) error {
	d := s.d
	if !hasProgressDeadline(d) {
		return nil
	}
	c := condition(d.Status, Progressing)
	if c != nil && c.Reason == ReasonTimedOut {
		return nil // a timed-out rollout stays so until the template changes
	}
	pausedShown := c != nil && c.Reason == ReasonPaused
	switch {
	case d.Spec.Paused && !pausedShown:
		d.Status = statusOrEmpty(d)
		setCondition(d.Status, newCondition(Progressing, corev1.ConditionUnknown, ReasonPaused, "Deployment is paused", s.c.Now()))
	case !d.Spec.Paused && pausedShown:
		setCondition(d.Status, newCondition(Progressing, corev1.ConditionUnknown, ReasonResumed, "Deployment is resumed", s.c.Now()))
	default:
		return nil
	}
	return s.writeStatus(ctx)
}

// syncRolloutStatus computes status and the Progressing condition
// (complete, progressing or timed out), writes it if changed, and
// requeues a deployment whose deadline is still running so the timeout
// is noticed even without events.
func (s *syncState) syncRolloutStatus(ctx context.Context, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	d := s.d
	st := s.calculateStatus(newRS, olds)
	now := s.c.Now()
	if !hasProgressDeadline(d) {
		removeCondition(st, Progressing)
	}
	cur := condition(d.Status, Progressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !complete {
		name := ""
		if newRS != nil {
			name = newRS.Metadata.Name
		}
		switch {
		case DeploymentComplete(d, st):
			setCondition(st, newCondition(Progressing, corev1.ConditionTrue, ReasonNewRSAvailable, fmt.Sprintf("ReplicaSet %q has successfully progressed.", name), now))
		case DeploymentProgressing(d, st):
			msg := fmt.Sprintf("Deployment %q is progressing.", d.Metadata.Name)
			if newRS != nil {
				msg = fmt.Sprintf("ReplicaSet %q is progressing.", name)
			}
			c := newCondition(Progressing, corev1.ConditionTrue, ReasonRSUpdated, msg, now)
			// Progress moves lastUpdateTime (the deadline's start) even
			// when the reason stays the same.
			if cur != nil && cur.Status == corev1.ConditionTrue {
				c.LastTransitionTime = cur.LastTransitionTime
			}
			removeCondition(st, Progressing)
			st.Conditions = append(st.Conditions, c)
		case DeploymentTimedOut(d, st, now):
			setCondition(st, newCondition(Progressing, corev1.ConditionFalse, ReasonTimedOut, fmt.Sprintf("ReplicaSet %q has timed out progressing.", name), now))
			s.c.Recorder.Eventf(d, "Warning", ReasonTimedOut, "Deployment %q has timed out progressing.", d.Metadata.Name)
		}
	}
	if proto.Equal(st, s.orig) {
		s.requeueStuck(st)
		return nil
	}
	d.Status = st
	if err := s.writeStatus(ctx); err != nil {
		return err
	}
	s.requeueStuck(st)
	return nil
}

// requeueStuck schedules a look at the deployment when its progress
// deadline would pass.
func (s *syncState) requeueStuck(st *appsv1.DeploymentStatus) {
	d := s.d
	c := condition(st, Progressing)
	if !hasProgressDeadline(d) || c == nil || c.Reason == ReasonNewRSAvailable || c.Reason == ReasonTimedOut || c.Status == corev1.ConditionUnknown {
		return
	}
	if DeploymentComplete(d, st) {
		return
	}
	after := c.GetLastUpdateTime().AsTime().Add(progressDeadline(d)).Sub(s.c.Now()) + time.Second
	s.c.Queue.AddAfter(informer.KeyOf(d), max(after, time.Second))
}
