package deployment

import (
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/controller-manager/controller"
)

// Annotations and labels the controller maintains, as Kubernetes names them.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	ChangeCauseAnnotation     = corev1.AnnotationChangeCause
	// PodTemplateHashLabel is added to a ReplicaSet's selector, template
	// and pods so the ReplicaSets of one Deployment never share pods.
	PodTemplateHashLabel = "pod-template-hash"
)

// Condition types, reasons and strategy names.
const (
	Available   = "Available"
	Progressing = "Progressing"

	ReasonMinimumReplicasAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumReplicasUnavailable = "MinimumReplicasUnavailable"
	ReasonNewRSCreated               = "NewReplicaSetCreated"
	ReasonFoundNewRS                 = "FoundNewReplicaSet"
	ReasonRSUpdated                  = "ReplicaSetUpdated"
	ReasonNewRSAvailable             = "NewReplicaSetAvailable"
	ReasonTimedOut                   = "ProgressDeadlineExceeded"
	ReasonPaused                     = "DeploymentPaused"
	ReasonResumed                    = "DeploymentResumed"
	ReasonFailedRSCreate             = "ReplicaSetCreateError"

	RecreateStrategy      = "Recreate"
	RollingUpdateStrategy = "RollingUpdate"
)

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// Replicas is the deployment's spec.replicas (default 1).
func Replicas(d *appsv1.Deployment) int32 { return replicas(d.GetSpec().Replicas) }

// RSReplicas is a ReplicaSet's spec.replicas (0 for nil, which also stands
// for "no ReplicaSet").
func RSReplicas(rs *appsv1.ReplicaSet) int32 {
	if rs == nil {
		return 0
	}
	return replicas(rs.GetSpec().Replicas)
}

func isRolling(d *appsv1.Deployment) bool {
	return d.GetSpec().GetStrategy().GetType() != RecreateStrategy
}

// ResolveFenceposts turns maxSurge and maxUnavailable into numbers for
// desired replicas: surge rounds up, unavailable rounds down, and both
// zero becomes unavailable 1 so a rollout can always proceed.
func ResolveFenceposts(d *appsv1.Deployment) (surge, unavailable int32, err error) {
	ru := d.GetSpec().GetStrategy().GetRollingUpdate()
	desired := int(Replicas(d))
	s, err := controller.ScaledValue(ru.GetMaxSurge(), desired, true, int(math.Ceil(float64(desired)/4)))
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := controller.ScaledValue(ru.GetMaxUnavailable(), desired, false, desired/4)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

// MaxSurge is the resolved maxSurge (0 for Recreate).
func MaxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _, _ := ResolveFenceposts(d)
	return s
}

// MaxUnavailable is the resolved maxUnavailable, at most replicas (0 for
// Recreate or no replicas).
func MaxUnavailable(d *appsv1.Deployment) int32 {
	if !isRolling(d) || Replicas(d) == 0 {
		return 0
	}
	_, u, _ := ResolveFenceposts(d)
	return min(u, Replicas(d))
}

// templateWithoutHash returns a copy of t without the pod-template-hash label.
func templateWithoutHash(t *corev1.PodTemplateSpec) *corev1.PodTemplateSpec {
	c := proto.Clone(t).(*corev1.PodTemplateSpec)
	if c == nil {
		c = &corev1.PodTemplateSpec{}
	}
	if c.Metadata != nil {
		delete(c.Metadata.Labels, PodTemplateHashLabel)
	}
	return c
}

// EqualIgnoreHash compares two pod templates ignoring pod-template-hash.
func EqualIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	return proto.Equal(templateWithoutHash(a), templateWithoutHash(b))
}

// byCreation sorts ReplicaSets oldest first (name breaks ties).
func byCreation(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool {
		a, b := rss[i].GetMetadata().GetCreationTimestamp().AsTime(), rss[j].GetMetadata().GetCreationTimestamp().AsTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return rss[i].GetMetadata().GetName() < rss[j].GetMetadata().GetName()
	})
}

// FindNewReplicaSet returns the oldest ReplicaSet whose template equals
// the deployment's (ignoring the hash label), or nil.
func FindNewReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	s := append([]*appsv1.ReplicaSet(nil), rss...)
	byCreation(s)
	for _, rs := range s {
		if EqualIgnoreHash(rs.GetSpec().GetTemplate(), d.GetSpec().GetTemplate()) {
			return rs
		}
	}
	return nil
}

// FindOldReplicaSets returns every ReplicaSet but newRS.
func FindOldReplicaSets(rss []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if newRS != nil && rs.GetMetadata().GetUid() == newRS.GetMetadata().GetUid() {
			continue
		}
		out = append(out, rs)
	}
	return out
}

// FilterActive keeps the non-nil ReplicaSets with replicas > 0.
func FilterActive(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && RSReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// Revision reads a ReplicaSet's revision annotation (0 if absent).
func Revision(rs *appsv1.ReplicaSet) int64 {
	v, _ := strconv.ParseInt(rs.GetMetadata().GetAnnotations()[RevisionAnnotation], 10, 64)
	return v
}

// MaxRevision is the highest revision among rss.
func MaxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, Revision(rs))
	}
	return m
}

func sumSpec(rss []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range rss {
		n += RSReplicas(rs)
	}
	return n
}

// NewRSNewReplicas is how far the new ReplicaSet may grow now: to the
// deployment's replicas under Recreate; under RollingUpdate by at most
// what keeps all pods within replicas+maxSurge. current counts the pods
// each ReplicaSet has or will have (see Controller.podCount).
func NewRSNewReplicas(d *appsv1.Deployment, allRSs []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, current func(*appsv1.ReplicaSet) int32) int32 {
	if !isRolling(d) {
		return Replicas(d)
	}
	var total int32
	for _, rs := range allRSs {
		if rs != nil {
			total += current(rs)
		}
	}
	maxTotal := Replicas(d) + MaxSurge(d)
	if total >= maxTotal {
		return RSReplicas(newRS)
	}
	up := min(maxTotal-total, Replicas(d)-RSReplicas(newRS))
	return RSReplicas(newRS) + max(up, 0)
}

// IsSaturated reports a new ReplicaSet that fully serves the deployment.
func IsSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, err := strconv.Atoi(rs.GetMetadata().GetAnnotations()[DesiredReplicasAnnotation])
	if err != nil {
		return false
	}
	return int32(desired) == Replicas(d) && RSReplicas(rs) == Replicas(d) && rs.GetStatus().GetAvailableReplicas() == Replicas(d)
}

// FindActiveOrLatest returns the only active ReplicaSet, or the newest
// one when none is active; nil when several are active.
func FindActiveOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	byCreation(olds)
	active := FilterActive(append(append([]*appsv1.ReplicaSet(nil), olds...), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[len(olds)-1]
	case 1:
		return active[0]
	}
	return nil
}

// replicaSetFraction is the share of a proportional scale a ReplicaSet
// gets: its size relative to the deployment's size when it was last
// scaled (the max-replicas annotation).
func replicaSetFraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if Replicas(d) == 0 {
		return -RSReplicas(rs)
	}
	deploymentReplicas := Replicas(d) + MaxSurge(d)
	annotated, err := strconv.Atoi(rs.GetMetadata().GetAnnotations()[MaxReplicasAnnotation])
	if err != nil || annotated == 0 {
		annotated = int(d.GetStatus().GetReplicas())
	}
	if annotated == 0 {
		return 0
	}
	size := float64(RSReplicas(rs)*deploymentReplicas) / float64(annotated)
	return int32(math.Round(size)) - RSReplicas(rs)
}

// proportion is how many replicas rs gains (or loses) in a proportional
// scale of toAdd of which added are already handed out.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rs == nil || RSReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := replicaSetFraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(f, allowed)
	}
	return max(f, allowed)
}

// ProportionalSizes spreads a scale of a deployment in the middle of a
// rollout over its active ReplicaSets in proportion to their sizes (the
// largest - newest on ties - first when growing, the smallest - oldest on
// ties - first when shrinking), leftovers going to the first. It returns
// the new size of every ReplicaSet in active.
func ProportionalSizes(d *appsv1.Deployment, active []*appsv1.ReplicaSet) map[string]int32 {
	allowed := Replicas(d)
	if allowed > 0 {
		allowed += MaxSurge(d)
	}
	toAdd := allowed - sumSpec(active)
	rss := append([]*appsv1.ReplicaSet(nil), active...)
	newer := func(i, j int) bool {
		return rss[i].GetMetadata().GetCreationTimestamp().AsTime().After(rss[j].GetMetadata().GetCreationTimestamp().AsTime())
	}
	switch {
	case toAdd > 0:
		sort.SliceStable(rss, func(i, j int) bool {
			if RSReplicas(rss[i]) != RSReplicas(rss[j]) {
				return RSReplicas(rss[i]) > RSReplicas(rss[j])
			}
			return newer(i, j)
		})
	case toAdd < 0:
		sort.SliceStable(rss, func(i, j int) bool {
			if RSReplicas(rss[i]) != RSReplicas(rss[j]) {
				return RSReplicas(rss[i]) > RSReplicas(rss[j])
			}
			return newer(j, i)
		})
	}
	sizes := map[string]int32{}
	var added int32
	for _, rs := range rss {
		p := proportion(rs, d, toAdd, added)
		sizes[rs.GetMetadata().GetName()] = RSReplicas(rs) + p
		added += p
	}
	if len(rss) > 0 && toAdd != 0 {
		first := rss[0].GetMetadata().GetName()
		sizes[first] = max(sizes[first]+toAdd-added, 0)
	}
	return sizes
}

// setReplicasAnnotations records the deployment's size (and size plus
// surge) on a ReplicaSet; it reports whether anything changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	md := rs.GetMetadata()
	d, m := strconv.Itoa(int(desired)), strconv.Itoa(int(maxReplicas))
	if md.Annotations[DesiredReplicasAnnotation] == d && md.Annotations[MaxReplicasAnnotation] == m {
		return false
	}
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	md.Annotations[DesiredReplicasAnnotation], md.Annotations[MaxReplicasAnnotation] = d, m
	return true
}

// skippedAnnotations are not copied from a deployment to its ReplicaSets.
var skippedAnnotations = map[string]bool{
	"kubectl.kubernetes.io/last-applied-configuration": true,
	RevisionAnnotation:                          true,
	DesiredReplicasAnnotation:                   true,
	MaxReplicasAnnotation:                       true,
	"deployment.kubernetes.io/revision-history": true,
}

// setNewReplicaSetAnnotations copies the deployment's annotations to the
// new ReplicaSet and raises its revision to newRevision (never lowers
// it), plus the replicas annotations. It reports whether rs changed.
func setNewReplicaSetAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision string, exists bool) bool {
	md := rs.GetMetadata()
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	changed := false
	for k, v := range d.GetMetadata().GetAnnotations() {
		if skippedAnnotations[k] || md.Annotations[k] == v {
			continue
		}
		md.Annotations[k] = v
		changed = true
	}
	oldRev, _ := strconv.ParseInt(md.Annotations[RevisionAnnotation], 10, 64)
	newRev, _ := strconv.ParseInt(newRevision, 10, 64)
	if md.Annotations[RevisionAnnotation] == "" || oldRev < newRev {
		md.Annotations[RevisionAnnotation] = newRevision
		changed = true
	}
	if !exists && setReplicasAnnotations(rs, Replicas(d), Replicas(d)+MaxSurge(d)) {
		changed = true
	}
	return changed
}

// --- conditions ---

// condition returns the deployment status condition of type t, or nil.
func condition(st *appsv1.DeploymentStatus, t string) *appsv1.DeploymentCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == t {
			return c
		}
	}
	return nil
}

func newCondition(t, status, reason, msg string, now time.Time) *appsv1.DeploymentCondition {
	ts := timestamppb.New(now.Truncate(time.Second))
	return &appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: msg, LastUpdateTime: ts, LastTransitionTime: ts}
}

// setCondition puts c into st, keeping the old transition time when the
// status did not change, and leaving st alone if only the update time
// would move for an identical condition.
func setCondition(st *appsv1.DeploymentStatus, c *appsv1.DeploymentCondition) {
	cur := condition(st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	removeCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

func removeCondition(st *appsv1.DeploymentStatus, t string) {
	out := st.Conditions[:0]
	for _, c := range st.Conditions {
		if c.GetType() != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

// hasProgressDeadline is false only for the "infinite" deadline.
func hasProgressDeadline(d *appsv1.Deployment) bool {
	p := d.GetSpec().ProgressDeadlineSeconds
	return p == nil || *p != math.MaxInt32
}

func progressDeadline(d *appsv1.Deployment) time.Duration {
	if p := d.GetSpec().ProgressDeadlineSeconds; p != nil {
		return time.Duration(*p) * time.Second
	}
	return 600 * time.Second
}

// DeploymentComplete reports a deployment whose replicas are all updated
// and available and none of an old ReplicaSet remains.
func DeploymentComplete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	return st.GetUpdatedReplicas() == Replicas(d) && st.GetReplicas() == Replicas(d) &&
		st.GetAvailableReplicas() == Replicas(d) && st.GetObservedGeneration() >= d.GetMetadata().GetGeneration()
}

// DeploymentProgressing reports progress between the deployment's current
// status and newStatus: more updated, ready or available replicas, or
// fewer old ones.
func DeploymentProgressing(d *appsv1.Deployment, newStatus *appsv1.DeploymentStatus) bool {
	old := d.GetStatus()
	oldStale := old.GetReplicas() - old.GetUpdatedReplicas()
	newStale := newStatus.GetReplicas() - newStatus.GetUpdatedReplicas()
	return newStatus.GetUpdatedReplicas() > old.GetUpdatedReplicas() || newStale < oldStale ||
		newStatus.GetReadyReplicas() > old.GetReadyReplicas() || newStatus.GetAvailableReplicas() > old.GetAvailableReplicas()
}

// DeploymentTimedOut reports a rollout that made no progress for
// progressDeadlineSeconds since the Progressing condition last changed.
func DeploymentTimedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := condition(st, Progressing)
	if c == nil {
		return false
	}
	switch c.Reason {
	case ReasonNewRSAvailable:
		return false
	case ReasonTimedOut:
		return true
	}
	return c.GetLastUpdateTime().AsTime().Add(progressDeadline(d)).Before(now)
}

// cloneLabelsWith returns a copy of m with k=v.
func cloneLabelsWith(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}
