package deployment

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"google.golang.org/protobuf/proto"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

// syncState is one sync of one deployment: d is a private copy whose
// status (and revision annotation) the sync edits; rsList holds the
// claimed ReplicaSets, replaced by the written versions as they change.
type syncState struct {
	c      *Controller
	d      *appsv1.Deployment
	rsList []*appsv1.ReplicaSet
	// orig is the status as the sync found it: written only if changed.
	orig *appsv1.DeploymentStatus
}

func cloneD(d *appsv1.Deployment) *appsv1.Deployment { return proto.Clone(d).(*appsv1.Deployment) }

func statusOrEmpty(d *appsv1.Deployment) *appsv1.DeploymentStatus {
	if d.Status == nil {
		return &appsv1.DeploymentStatus{}
	}
	return d.Status
}

// replace swaps the written version of a ReplicaSet into rsList.
func (s *syncState) replace(rs *appsv1.ReplicaSet) {
	for i, x := range s.rsList {
		if x.GetMetadata().GetUid() == rs.GetMetadata().GetUid() {
			s.rsList[i] = rs
			return
		}
	}
	s.rsList = append(s.rsList, rs)
}

// allReplicaSets finds the new and old ReplicaSets, creating the new one
// if create is set, and brings the revision annotations up to date.
func (s *syncState) allReplicaSets(ctx context.Context, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	existing := FindNewReplicaSet(s.d, s.rsList)
	olds := FindOldReplicaSets(s.rsList, existing)
	newRS, err := s.newReplicaSet(ctx, existing, olds, create)
	if err != nil {
		return nil, nil, err
	}
	return newRS, olds, nil
}

// newReplicaSet returns the ReplicaSet of the current template, updating
// its annotations, or creates it (when create) sized by NewRSNewReplicas.
func (s *syncState) newReplicaSet(ctx context.Context, existing *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, error) {
	d := s.d
	newRevision := strconv.FormatInt(MaxRevision(olds)+1, 10)
	if existing != nil {
		rs := proto.Clone(existing).(*appsv1.ReplicaSet)
		annotated := setNewReplicaSetAnnotations(d, rs, newRevision, true)
		if annotated || rs.GetSpec().GetMinReadySeconds() != d.GetSpec().GetMinReadySeconds() {
			rs.Spec.MinReadySeconds = d.GetSpec().GetMinReadySeconds()
			updated, err := s.c.rsAPI.Update(ctx, rs)
			if err != nil {
				return nil, fmt.Errorf("update annotations of replica set %s: %w", rs.Metadata.Name, err)
			}
			s.replace(updated)
			rs = updated
		}
		if err := s.setRevision(ctx, rs.GetMetadata().GetAnnotations()[RevisionAnnotation]); err != nil {
			return nil, err
		}
		if d := s.d; hasProgressDeadline(d) && condition(d.Status, Progressing) == nil {
			d.Status = statusOrEmpty(d)
			setCondition(d.Status, newCondition(Progressing, corev1.ConditionTrue, ReasonFoundNewRS, fmt.Sprintf("Found new replica set %q", rs.Metadata.Name), s.c.Now()))
		}
		return rs, nil
	}
	if !create {
		return nil, nil
	}
	var collisions *int32
	if d.Status != nil {
		collisions = d.Status.CollisionCount
	}
	hash := controller.ComputeHash(d.Spec.Template, collisions)
	template := proto.Clone(d.Spec.Template).(*corev1.PodTemplateSpec)
	if template.Metadata == nil {
		template.Metadata = &metav1.ObjectMeta{}
	}
	template.Metadata.Labels = cloneLabelsWith(template.Metadata.Labels, PodTemplateHashLabel, hash)
	selector := proto.Clone(d.Spec.Selector).(*metav1.LabelSelector)
	selector.MatchLabels = cloneLabelsWith(selector.MatchLabels, PodTemplateHashLabel, hash)
	rs := &appsv1.ReplicaSet{
		ApiVersion: "apps/v1", Kind: "ReplicaSet",
		Metadata: &metav1.ObjectMeta{
			Name: d.Metadata.Name + "-" + hash, Namespace: d.Metadata.Namespace,
			Labels:          template.Metadata.Labels,
			OwnerReferences: []*metav1.OwnerReference{controller.NewControllerRef(d, "apps/v1", "Deployment")},
		},
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(0), MinReadySeconds: d.Spec.MinReadySeconds, Selector: selector, Template: template},
	}
	n := NewRSNewReplicas(d, append(append([]*appsv1.ReplicaSet(nil), olds...), rs), rs, s.current)
	rs.Spec.Replicas = proto.Int32(n)
	setNewReplicaSetAnnotations(d, rs, newRevision, false)
	created, err := s.c.rsAPI.Create(ctx, rs)
	alreadyExists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		// Ours from an earlier sync whose event has not arrived (or from
		// before a restart): use it. Anything else is a hash collision.
		cur, gerr := s.c.rsAPI.Get(ctx, rs.Metadata.Namespace, rs.Metadata.Name)
		if gerr != nil {
			return nil, gerr
		}
		if ref := controller.ControllerRefOf(cur); ref != nil && ref.GetUid() == d.Metadata.Uid && EqualIgnoreHash(d.Spec.Template, cur.Spec.Template) {
			created, err, alreadyExists = cur, nil, true
			break
		}
		d.Status = statusOrEmpty(d)
		d.Status.CollisionCount = proto.Int32(d.Status.GetCollisionCount() + 1)
		if werr := s.writeStatus(ctx); werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("replica set %s exists with another template: hash collision, collisionCount now %d", rs.Metadata.Name, d.Status.GetCollisionCount())
	case apierrors.IsForbidden(err):
		return nil, err // the namespace is being deleted
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Metadata.Name, err)
		if hasProgressDeadline(d) {
			d.Status = statusOrEmpty(d)
			setCondition(d.Status, newCondition(Progressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, s.c.Now()))
			_ = s.writeStatus(ctx)
		}
		s.c.Recorder.Event(d, controller.EventWarning, "FailedCreate", msg)
		return nil, err
	}
	s.replace(created)
	if !alreadyExists && n > 0 {
		s.c.Recorder.Eventf(d, controller.EventNormal, "ScalingReplicaSet", "Scaled up replica set %s to %d from 0", created.Metadata.Name, n)
	}
	if err := s.setRevision(ctx, newRevision); err != nil {
		return nil, err
	}
	if d := s.d; !alreadyExists && hasProgressDeadline(d) {
		d.Status = statusOrEmpty(d)
		setCondition(d.Status, newCondition(Progressing, corev1.ConditionTrue, ReasonNewRSCreated, fmt.Sprintf("Created new replica set %q", created.Metadata.Name), s.c.Now()))
	}
	return created, nil
}

// setRevision records the new ReplicaSet's revision on the deployment.
// Annotations are metadata: they are written with Update, not UpdateStatus.
// It replaces s.d with the written object (keeping the status computed so
// far): callers must not hold on to the old s.d.
func (s *syncState) setRevision(ctx context.Context, rev string) error {
	if rev == "" || s.d.GetMetadata().GetAnnotations()[RevisionAnnotation] == rev {
		return nil
	}
	d := s.d
	updated, err := controller.Update(ctx, s.c.dAPI, d, func(cur *appsv1.Deployment) bool {
		if cur.Metadata.Annotations == nil {
			cur.Metadata.Annotations = map[string]string{}
		}
		cur.Metadata.Annotations[RevisionAnnotation] = rev
		return true
	})
	if err == nil {
		s.d = updated
		s.d.Status = d.Status // keep the status this sync computed so far
	}
	if err != nil {
		return fmt.Errorf("set revision of deployment %s/%s: %w", d.Metadata.Namespace, d.Metadata.Name, err)
	}
	return nil
}

// current is the pod count a ReplicaSet has or will have (see podCount).
func (s *syncState) current(rs *appsv1.ReplicaSet) int32 {
	n, _ := s.c.podCount(rs, s.d.GetSpec().GetMinReadySeconds())
	return n
}

// available is a ReplicaSet's available pods (see podCount).
func (s *syncState) available(rs *appsv1.ReplicaSet) int32 {
	_, n := s.c.podCount(rs, s.d.GetSpec().GetMinReadySeconds())
	return n
}

func (s *syncState) availableOf(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += s.available(rs)
	}
	return n
}

// scaleReplicaSet sets a ReplicaSet's replicas (and the deployment size
// annotations) and records ScalingReplicaSet; it returns whether the
// size changed and the written ReplicaSet.
func (s *syncState) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, size int32) (bool, *appsv1.ReplicaSet, error) {
	d := s.d
	sizeChanged := RSReplicas(rs) != size
	cp := proto.Clone(rs).(*appsv1.ReplicaSet)
	annotated := setReplicasAnnotations(cp, Replicas(d), Replicas(d)+MaxSurge(d))
	if !sizeChanged && !annotated {
		return false, rs, nil
	}
	old := RSReplicas(rs)
	cp.Spec.Replicas = proto.Int32(size)
	updated, err := s.c.rsAPI.Update(ctx, cp)
	if err != nil {
		return false, rs, fmt.Errorf("scale replica set %s/%s to %d: %w", rs.Metadata.Namespace, rs.Metadata.Name, size, err)
	}
	s.replace(updated)
	if sizeChanged {
		op := "up"
		if size < old {
			op = "down"
		}
		s.c.Recorder.Eventf(d, controller.EventNormal, "ScalingReplicaSet", "Scaled %s replica set %s to %d from %d", op, rs.Metadata.Name, size, old)
	}
	return sizeChanged, updated, nil
}

// isScalingEvent reports that the deployment's replicas changed since its
// active ReplicaSets were last sized (their desired-replicas annotation).
func (s *syncState) isScalingEvent() bool {
	existing := FindNewReplicaSet(s.d, s.rsList)
	for _, rs := range FilterActive(append(FindOldReplicaSets(s.rsList, existing), existing)) {
		v, ok := rs.GetMetadata().GetAnnotations()[DesiredReplicasAnnotation]
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && int32(n) != Replicas(s.d) {
			return true
		}
	}
	return false
}

// scale resizes the ReplicaSets after the deployment's replicas changed:
// the single active one (or the newest) takes the whole size; otherwise
// a saturated new one makes the old ones go; otherwise (mid-rollout) the
// change is spread proportionally.
func (s *syncState) scale(ctx context.Context, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	d := s.d
	if rs := FindActiveOrLatest(newRS, olds); rs != nil {
		if RSReplicas(rs) == Replicas(d) {
			return nil
		}
		_, _, err := s.scaleReplicaSet(ctx, rs, Replicas(d))
		return err
	}
	if IsSaturated(d, newRS) {
		for _, old := range FilterActive(olds) {
			if _, _, err := s.scaleReplicaSet(ctx, old, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRolling(d) {
		return nil
	}
	active := FilterActive(append(append([]*appsv1.ReplicaSet(nil), olds...), newRS))
	sizes := ProportionalSizes(d, active)
	for _, rs := range active {
		if _, _, err := s.scaleReplicaSet(ctx, rs, sizes[rs.Metadata.Name]); err != nil {
			return err
		}
	}
	return nil
}

// syncScaleOnly handles a paused deployment or a scaling event: sizes
// change, the template does not roll out.
func (s *syncState) syncScaleOnly(ctx context.Context) error {
	newRS, olds, err := s.allReplicaSets(ctx, false)
	if err != nil {
		return err
	}
	if err := s.scale(ctx, newRS, olds); err != nil {
		return err
	}
	newRS, olds = s.refresh(newRS, olds)
	if s.d.Spec.Paused {
		if err := s.cleanup(ctx, olds); err != nil {
			return err
		}
	}
	return s.syncStatus(ctx, newRS, olds)
}

// refresh re-reads newRS and olds from rsList after writes.
func (s *syncState) refresh(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	byUID := map[string]*appsv1.ReplicaSet{}
	for _, rs := range s.rsList {
		byUID[rs.GetMetadata().GetUid()] = rs
	}
	if newRS != nil {
		newRS = byUID[newRS.GetMetadata().GetUid()]
	}
	out := make([]*appsv1.ReplicaSet, 0, len(olds))
	for _, rs := range olds {
		if x := byUID[rs.GetMetadata().GetUid()]; x != nil {
			out = append(out, x)
		}
	}
	return newRS, out
}

// syncStatusOnly writes status without touching ReplicaSets (deployment
// being deleted).
func (s *syncState) syncStatusOnly(ctx context.Context) error {
	newRS := FindNewReplicaSet(s.d, s.rsList)
	return s.syncStatus(ctx, newRS, FindOldReplicaSets(s.rsList, newRS))
}

// syncStatus writes the computed status if it differs.
func (s *syncState) syncStatus(ctx context.Context, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	s.d.Status = s.calculateStatus(newRS, olds)
	return s.writeStatusIfChanged(ctx, s.orig)
}

// calculateStatus counts the ReplicaSets' pods and sets Available.
func (s *syncState) calculateStatus(newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) *appsv1.DeploymentStatus {
	d := s.d
	all := append(append([]*appsv1.ReplicaSet(nil), olds...), newRS)
	st := proto.Clone(statusOrEmpty(d)).(*appsv1.DeploymentStatus)
	st.ObservedGeneration = d.Metadata.Generation
	st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas = 0, 0, 0, 0
	var total int32
	for _, rs := range all {
		if rs == nil {
			continue
		}
		total += RSReplicas(rs)
		st.Replicas += rs.GetStatus().GetReplicas()
		st.ReadyReplicas += rs.GetStatus().GetReadyReplicas()
		st.AvailableReplicas += rs.GetStatus().GetAvailableReplicas()
	}
	if newRS != nil {
		st.UpdatedReplicas = newRS.GetStatus().GetReplicas()
	}
	st.UnavailableReplicas = max(total-st.AvailableReplicas, 0)
	if st.AvailableReplicas >= Replicas(d)-MaxUnavailable(d) {
		setCondition(st, newCondition(Available, corev1.ConditionTrue, ReasonMinimumReplicasAvailable, "Deployment has minimum availability.", s.c.Now()))
	} else {
		setCondition(st, newCondition(Available, corev1.ConditionFalse, ReasonMinimumReplicasUnavailable, "Deployment does not have minimum availability.", s.c.Now()))
	}
	return st
}

// writeStatusIfChanged writes s.d.Status when it differs from before.
func (s *syncState) writeStatusIfChanged(ctx context.Context, before *appsv1.DeploymentStatus) error {
	if proto.Equal(before, s.d.Status) {
		return nil
	}
	return s.writeStatus(ctx)
}

// writeStatus writes s.d.Status; on a conflict the next sync recomputes.
func (s *syncState) writeStatus(ctx context.Context) error {
	updated, err := s.c.dAPI.UpdateStatus(ctx, s.d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of deployment %s/%s: %w", s.d.Metadata.Namespace, s.d.Metadata.Name, err)
	}
	s.d = updated
	s.orig = proto.Clone(statusOrEmpty(updated)).(*appsv1.DeploymentStatus)
	return nil
}

// cleanup deletes the oldest old ReplicaSets beyond revisionHistoryLimit,
// only those scaled to zero with no pods left.
func (s *syncState) cleanup(ctx context.Context, olds []*appsv1.ReplicaSet) error {
	limit := s.d.GetSpec().RevisionHistoryLimit
	if limit == nil {
		return nil
	}
	var cleanable []*appsv1.ReplicaSet
	for _, rs := range olds {
		if rs != nil && rs.Metadata.DeletionTimestamp == nil {
			cleanable = append(cleanable, rs)
		}
	}
	diff := len(cleanable) - int(*limit)
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(cleanable, func(i, j int) bool {
		if Revision(cleanable[i]) != Revision(cleanable[j]) {
			return Revision(cleanable[i]) < Revision(cleanable[j])
		}
		return cleanable[i].Metadata.GetCreationTimestamp().AsTime().Before(cleanable[j].Metadata.GetCreationTimestamp().AsTime())
	})
	for _, rs := range cleanable[:diff] {
		if rs.GetStatus().GetReplicas() != 0 || RSReplicas(rs) != 0 || rs.Metadata.Generation > rs.GetStatus().GetObservedGeneration() {
			continue
		}
		if current := s.current(rs); current != 0 {
			continue
		}
		s.c.Log.Info("deleting old replica set beyond the revision history", "replicaset", rs.Metadata.Namespace+"/"+rs.Metadata.Name, "revision", Revision(rs))
		_, err := s.c.rsAPI.Delete(ctx, rs.Metadata.Namespace, rs.Metadata.Name, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{Uid: rs.Metadata.Uid}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete old replica set %s: %w", rs.Metadata.Name, err)
		}
	}
	return nil
}
