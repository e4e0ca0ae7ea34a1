package deployment

import (
	"context"

	appsv1 "minik8s/api/apps/v1"
)

// rolloutRolling moves one step of a rolling update: grow the new
// ReplicaSet within maxSurge, else shrink old ones within maxUnavailable,
// then report progress. Each write ends the step; the watch events it
// causes bring the next one.
func (s *syncState) rolloutRolling(ctx context.Context) error {
	newRS, olds, err := s.allReplicaSets(ctx, true)
	if err != nil {
		return err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	scaledUp, err := s.reconcileNewReplicaSet(ctx, all, newRS)
	if err != nil {
		return err
	}
	if scaledUp {
		newRS, olds = s.refresh(newRS, olds)
		return s.syncRolloutStatus(ctx, newRS, olds)
	}
	scaledDown, err := s.reconcileOldReplicaSets(ctx, FilterActive(olds), newRS)
	if err != nil {
		return err
	}
	newRS, olds = s.refresh(newRS, olds)
	if scaledDown {
		return s.syncRolloutStatus(ctx, newRS, olds)
	}
	if DeploymentComplete(s.d, statusOrEmpty(s.d)) {
		if err := s.cleanup(ctx, olds); err != nil {
			return err
		}
	}
	return s.syncRolloutStatus(ctx, newRS, olds)
}

// reconcileNewReplicaSet sizes the new ReplicaSet: down to the
// deployment's replicas if above, else up as far as maxSurge allows.
func (s *syncState) reconcileNewReplicaSet(ctx context.Context, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	d := s.d
	if newRS == nil || RSReplicas(newRS) == Replicas(d) {
		return false, nil
	}
	if RSReplicas(newRS) > Replicas(d) {
		scaled, _, err := s.scaleReplicaSet(ctx, newRS, Replicas(d))
		return scaled, err
	}
	scaled, _, err := s.scaleReplicaSet(ctx, newRS, NewRSNewReplicas(d, all, newRS, s.current))
	return scaled, err
}

// reconcileOldReplicaSets shrinks old ReplicaSets as far as keeping
// replicas-maxUnavailable pods available allows: first their unavailable
// pods, then available ones, oldest ReplicaSet first.
func (s *syncState) reconcileOldReplicaSets(ctx context.Context, olds []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (bool, error) {
	d := s.d
	if sumSpec(olds) == 0 {
		return false, nil
	}
	all := append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	var allPods int32
	for _, rs := range all {
		allPods += s.current(rs)
	}
	minAvailable := Replicas(d) - MaxUnavailable(d)
	newUnavailable := RSReplicas(newRS) - s.available(newRS)
	maxScaledDown := allPods - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return false, nil
	}
	olds, cleaned, err := s.cleanupUnhealthyReplicas(ctx, olds, maxScaledDown)
	if err != nil {
		return false, err
	}
	all = append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	scaled, err := s.scaleDownOldForRollingUpdate(ctx, all, olds)
	if err != nil {
		return false, err
	}
	return cleaned+scaled > 0, nil
}

// cleanupUnhealthyReplicas removes old ReplicaSets' unavailable pods
// first (at most maxCleanup), so that broken old pods never block a
// rollout.
func (s *syncState) cleanupUnhealthyReplicas(ctx context.Context, olds []*appsv1.ReplicaSet, maxCleanup int32) ([]*appsv1.ReplicaSet, int32, error) {
	olds = append([]*appsv1.ReplicaSet(nil), olds...)
	byCreation(olds)
	var total int32
	for i, rs := range olds {
		if total >= maxCleanup {
			break
		}
		unhealthy := RSReplicas(rs) - s.available(rs)
		if RSReplicas(rs) == 0 || unhealthy <= 0 {
			continue
		}
		n := min(maxCleanup-total, unhealthy)
		_, updated, err := s.scaleReplicaSet(ctx, rs, RSReplicas(rs)-n)
		if err != nil {
			return nil, total, err
		}
		olds[i] = updated
		total += n
	}
	return olds, total, nil
}

// scaleDownOldForRollingUpdate shrinks old ReplicaSets (oldest first) by
// as many pods as are available beyond replicas-maxUnavailable.
func (s *syncState) scaleDownOldForRollingUpdate(ctx context.Context, all, olds []*appsv1.ReplicaSet) (int32, error) {
	d := s.d
	minAvailable := Replicas(d) - MaxUnavailable(d)
	available := s.availableOf(all)
	if available <= minAvailable {
		return 0, nil
	}
	olds = append([]*appsv1.ReplicaSet(nil), olds...)
	byCreation(olds)
	toScale := available - minAvailable
	var total int32
	for _, rs := range olds {
		if total >= toScale {
			break
		}
		if RSReplicas(rs) == 0 {
			continue
		}
		n := min(RSReplicas(rs), toScale-total)
		if _, _, err := s.scaleReplicaSet(ctx, rs, RSReplicas(rs)-n); err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
