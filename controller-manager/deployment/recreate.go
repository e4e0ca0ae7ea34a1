package deployment

import (
	"context"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/controller-manager/controller"
)

// rolloutRecreate scales every old ReplicaSet to zero, waits until none
// of their pods runs any more, then creates (or scales up) the new one.
func (s *syncState) rolloutRecreate(ctx context.Context) error {
	newRS, olds, err := s.allReplicaSets(ctx, false)
	if err != nil {
		return err
	}
	scaledDown := false
	for _, rs := range FilterActive(olds) {
		scaled, _, err := s.scaleReplicaSet(ctx, rs, 0)
		if err != nil {
			return err
		}
		scaledDown = scaledDown || scaled
	}
	newRS, olds = s.refresh(newRS, olds)
	if scaledDown || s.oldPodsRunning(olds) {
		return s.syncRolloutStatus(ctx, newRS, olds)
	}
	if newRS == nil {
		if newRS, olds, err = s.allReplicaSets(ctx, true); err != nil {
			return err
		}
	}
	if _, _, err := s.scaleReplicaSet(ctx, newRS, Replicas(s.d)); err != nil {
		return err
	}
	newRS, olds = s.refresh(newRS, olds)
	if DeploymentComplete(s.d, statusOrEmpty(s.d)) {
		if err := s.cleanup(ctx, olds); err != nil {
			return err
		}
	}
	return s.syncRolloutStatus(ctx, newRS, olds)
}

// oldPodsRunning reports pods of old ReplicaSets that have not finished,
// terminating ones included: Recreate promises old and new never run
// together.
func (s *syncState) oldPodsRunning(olds []*appsv1.ReplicaSet) bool {
	for _, rs := range olds {
		if rs.GetStatus().GetReplicas() > 0 {
			return true
		}
		pods, _ := s.c.pods.ByIndex(controller.ControllerUIDIndex, rs.GetMetadata().GetUid())
		for _, p := range pods {
			if ph := p.GetStatus().GetPhase(); ph != corev1.PodSucceeded && ph != corev1.PodFailed {
				return true
			}
		}
	}
	return false
}
