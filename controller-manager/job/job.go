// Package job is the Job controller: it runs a Job's pods until
// spec.completions of them succeeded (or, without completions, until one
// did and none is active), at most spec.parallelism at a time; it fails
// the Job when more pods failed than spec.backoffLimit or when it ran
// longer than spec.activeDeadlineSeconds, recreating failed pods with an
// exponential back-off in between; it sets the Complete or Failed
// condition, honours spec.suspend, and deletes a finished Job once
// spec.ttlSecondsAfterFinished has passed.
package job

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	batchv1 "minik8s/api/batch/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/informer"
	"minik8s/api/labels"
	metav1 "minik8s/api/meta/v1"
	"minik8s/controller-manager/controller"
)

// Component is the event source of this controller.
const Component = "job-controller"

// Back-off of pod re-creation after failures: 10s doubling to 6 minutes,
// as Kubernetes does.
const (
	DefaultBackoff = 10 * time.Second
	MaxBackoff     = 6 * time.Minute
)

// Config wires a Controller.
type Config struct {
	Jobs        controller.API[*batchv1.Job]
	Pods        controller.API[*corev1.Pod]
	JobInformer *informer.Informer[*batchv1.Job]
	PodInformer *informer.Informer[*corev1.Pod]
	Recorder    controller.EventRecorder
	Metrics     *controller.Metrics
	// Backoff is the first re-creation delay after a failure (default DefaultBackoff).
	Backoff time.Duration
	Now     func() time.Time
}

// Controller runs Jobs.
type Controller struct {
	controller.Base
	api        controller.API[*batchv1.Job]
	pods       controller.API[*corev1.Pod]
	podControl controller.PodControl
	jobs       *informer.Lister[*batchv1.Job]
	podLister  *informer.Lister[*corev1.Pod]
	backoff    time.Duration
}

// New returns a controller and registers its handlers.
func New(cfg Config) *Controller {
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	c := &Controller{Base: controller.NewBase("job", cfg.Recorder, cfg.Metrics, cfg.Now), api: cfg.Jobs, pods: cfg.Pods, backoff: cfg.Backoff}
	c.Sync = c.sync
	c.podControl = controller.RealPodControl{Pods: cfg.Pods, Recorder: c.Recorder}
	c.jobs = controller.Lister(&c.Base, cfg.JobInformer)
	c.podLister = controller.Lister(&c.Base, cfg.PodInformer)
	cfg.JobInformer.AddEventHandler(informer.HandlerFuncs[*batchv1.Job]{
		AddFunc: func(j *batchv1.Job) { c.Enqueue(j) }, UpdateFunc: func(_, j *batchv1.Job) { c.Enqueue(j) },
		DeleteFunc: func(j *batchv1.Job) { c.Expectations.Delete(informer.KeyOf(j)) },
	})
	cfg.PodInformer.AddEventHandler(c.OwnedPodEvents(controller.OwnerKey(c.jobs, "Job")))
	return c
}

func finishedCondition(j *batchv1.Job) *batchv1.JobCondition {
	for _, c := range j.GetStatus().GetConditions() {
		if (c.GetType() == "Complete" || c.GetType() == "Failed") && c.GetStatus() == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// Counts are the pods of a Job by state.
type Counts struct {
	Active, Ready, Succeeded, Failed int32
	// LastFailure is when the latest failed pod finished (zero if none).
	LastFailure time.Time
}

// Count classifies a Job's pods. Restarts of OnFailure pods count as
// failures towards the backoff limit, as in Kubernetes.
func Count(pods []*corev1.Pod) Counts {
	var n Counts
	for _, p := range pods {
		switch p.GetStatus().GetPhase() {
		case corev1.PodSucceeded:
			n.Succeeded++
		case corev1.PodFailed:
			n.Failed++
			for _, cs := range p.GetStatus().GetContainerStatuses() {
				if f := cs.GetState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(n.LastFailure) {
					n.LastFailure = f.AsTime()
				}
			}
			if n.LastFailure.IsZero() {
				n.LastFailure = p.GetMetadata().GetCreationTimestamp().AsTime()
			}
		default:
			if p.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			n.Active++
			if controller.IsPodReady(p) {
				n.Ready++
			}
			if p.GetSpec().GetRestartPolicy() == "OnFailure" {
				for _, cs := range p.GetStatus().GetContainerStatuses() {
					n.Failed += cs.GetRestartCount()
				}
			}
		}
	}
	return n
}

// WantActive is how many pods should run: parallelism, but no more than
// the completions still missing; without completions, none once one
// succeeded.
func WantActive(j *batchv1.Job, succeeded int32) int32 {
	par := int32(1)
	if p := j.GetSpec().Parallelism; p != nil {
		par = *p
	}
	if comp := j.GetSpec().Completions; comp != nil {
		return max(min(par, *comp-succeeded), 0)
	}
	if succeeded > 0 {
		return 0
	}
	return par
}

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name := informer.SplitKey(key)
	cached, err := c.jobs.Get(ns, name)
	if apierrors.IsNotFound(err) {
		c.Expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	if cond := finishedCondition(cached); cond != nil {
		return c.cleanupFinished(ctx, cached, cond)
	}
	if cached.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	job := proto.Clone(cached).(*batchv1.Job)
	if job.Status == nil {
		job.Status = &batchv1.JobStatus{}
	}
	sel, err := labels.FromLabelSelector(job.GetSpec().GetSelector())
	if err != nil || sel.Empty() {
		c.Recorder.Eventf(job, controller.EventWarning, "InvalidSelector", "Job %s has no usable selector", key)
		return nil
	}
	claimer := &controller.Claimer[*corev1.Pod]{API: c.pods, Owner: job, APIVersion: "batch/v1", Kind: "Job", Selector: sel,
		CanAdopt: controller.RecheckOwner[*batchv1.Job](c.api, job)}
	pods, claimErr := claimer.Claim(ctx, c.podLister.ListNamespace(ns, nil))
	n := Count(pods)
	now := c.Now()
	st := job.Status
	if st.StartTime == nil && !job.GetSpec().GetSuspend() {
		st.StartTime = timestamppb.New(now.Truncate(time.Second))
	}
	succeeded := max(n.Succeeded, st.Succeeded)
	failed := max(n.Failed, st.Failed)
	var activePods []*corev1.Pod
	for _, p := range pods {
		if controller.IsPodActive(p) {
			activePods = append(activePods, p)
		}
	}

	var finish *batchv1.JobCondition
	switch {
	case failed > backoffLimit(job):
		finish = c.condition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit", now)
	case pastDeadline(job, now):
		finish = c.condition("Failed", "DeadlineExceeded", "Job was active longer than specified deadline", now)
	case job.GetSpec().Completions != nil && succeeded >= *job.Spec.Completions,
		job.GetSpec().Completions == nil && succeeded > 0 && n.Active == 0:
		finish = c.condition("Complete", "", "", now)
	}

	var manageErr error
	switch {
	case finish != nil:
		// Stop what still runs; the Job is over.
		manageErr = c.deletePods(ctx, key, job, activePods)
		n.Active = 0
		st.Conditions = append(st.Conditions, finish)
		if finish.Type == "Complete" {
			st.CompletionTime = timestamppb.New(now.Truncate(time.Second))
			c.Recorder.Event(job, controller.EventNormal, "Completed", "Job completed")
		} else {
			c.Recorder.Event(job, controller.EventWarning, finish.Reason, finish.Message)
		}
	case job.GetSpec().GetSuspend():
		manageErr = c.deletePods(ctx, key, job, activePods)
		n.Active = 0
	case c.Expectations.Satisfied(key):
		want := WantActive(job, succeeded)
		switch {
		case n.Active < want:
			// Failed pods are replaced only after the back-off.
			if wait := c.retryDelay(failed, n.LastFailure, now); wait > 0 {
				c.Queue.AddAfter(key, wait)
				break
			}
			manageErr = c.createPods(ctx, key, job, int(want-n.Active))
			n.Active = want
		case n.Active > want:
			victims := controller.PodsToDelete(activePods, int(n.Active-want))
			manageErr = c.deletePods(ctx, key, job, victims)
			n.Active = want
		}
	}
	if d := job.GetSpec().ActiveDeadlineSeconds; d != nil && finish == nil && st.StartTime != nil {
		c.Queue.AddAfter(key, st.StartTime.AsTime().Add(time.Duration(*d)*time.Second).Sub(now)+10*time.Millisecond)
	}
	st.Active, st.Succeeded, st.Failed, st.Ready = n.Active, succeeded, failed, proto.Int32(n.Ready)
	st.Conditions = setSuspended(st.Conditions, job.GetSpec().GetSuspend(), now)
	if !proto.Equal(st, cached.GetStatus()) {
		if err := c.writeStatus(ctx, job); err != nil {
			return errors.Join(claimErr, manageErr, err)
		}
	}
	return errors.Join(claimErr, manageErr)
}

func backoffLimit(j *batchv1.Job) int32 {
	if b := j.GetSpec().BackoffLimit; b != nil {
		return *b
	}
	return 6
}

func pastDeadline(j *batchv1.Job, now time.Time) bool {
	d := j.GetSpec().ActiveDeadlineSeconds
	start := j.GetStatus().GetStartTime()
	return d != nil && start != nil && !now.Before(start.AsTime().Add(time.Duration(*d)*time.Second))
}

// retryDelay is how long to wait before replacing failed pods: back-off
// doubling per failure from the latest failure.
func (c *Controller) retryDelay(failed int32, last time.Time, now time.Time) time.Duration {
	if failed == 0 || last.IsZero() {
		return 0
	}
	d := c.backoff
	for i := int32(1); i < failed && d < MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxBackoff)
	return last.Add(d).Sub(now)
}

func (c *Controller) condition(typ, reason, msg string, now time.Time) *batchv1.JobCondition {
	ts := timestamppb.New(now.Truncate(time.Second))
	return &batchv1.JobCondition{Type: typ, Status: corev1.ConditionTrue, Reason: reason, Message: msg, LastProbeTime: ts, LastTransitionTime: ts}
}

func setSuspended(conds []*batchv1.JobCondition, suspended bool, now time.Time) []*batchv1.JobCondition {
	var cur *batchv1.JobCondition
	for _, c := range conds {
		if c.GetType() == "Suspended" {
			cur = c
		}
	}
	switch {
	case suspended && (cur == nil || cur.Status != corev1.ConditionTrue):
		if cur == nil {
			cur = &batchv1.JobCondition{Type: "Suspended"}
			conds = append(conds, cur)
		}
		cur.Status, cur.Reason, cur.Message = corev1.ConditionTrue, "JobSuspended", "Job suspended"
		cur.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
	case !suspended && cur != nil && cur.Status == corev1.ConditionTrue:
		cur.Status, cur.Reason, cur.Message = corev1.ConditionFalse, "JobResumed", "Job resumed"
		cur.LastTransitionTime = timestamppb.New(now.Truncate(time.Second))
	}
	return conds
}

func (c *Controller) createPods(ctx context.Context, key string, job *batchv1.Job, n int) error {
	c.Expectations.ExpectCreations(key, n)
	ref := controller.NewControllerRef(job, "batch/v1", "Job")
	ok, err := controller.SlowStartBatch(n, 1, func(int) error {
		pod := controller.PodFromTemplate(job.GetSpec().GetTemplate(), job.Metadata.Namespace, controller.GenerateNamePrefix(job.Metadata.Name), ref)
		_, err := c.podControl.CreatePod(ctx, pod, job)
		return err
	})
	for range n - ok {
		c.Expectations.CreationObserved(key)
	}
	if err != nil {
		return fmt.Errorf("create pods of job %s: %w", key, err)
	}
	return nil
}

func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = controller.PodKey(p)
	}
	c.Expectations.ExpectDeletions(key, keys)
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.podControl.DeletePod(ctx, p.Metadata.Namespace, p.Metadata.Name, job); err != nil {
				c.Expectations.DeletionObserved(key, keys[i])
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Controller) writeStatus(ctx context.Context, job *batchv1.Job) error {
	_, err := c.api.UpdateStatus(ctx, job)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of job %s/%s: %w", job.Metadata.Namespace, job.Metadata.Name, err)
	}
	return nil
}

// cleanupFinished deletes a finished Job once its ttlSecondsAfterFinished
// has passed (with its pods, in the foreground), or schedules a look.
func (c *Controller) cleanupFinished(ctx context.Context, job *batchv1.Job, cond *batchv1.JobCondition) error {
	ttl := job.GetSpec().TtlSecondsAfterFinished
	if ttl == nil || job.GetMetadata().GetDeletionTimestamp() != nil {
		return nil
	}
	finished := cond.GetLastTransitionTime().AsTime()
	if t := job.GetStatus().GetCompletionTime(); t != nil {
		finished = t.AsTime()
	}
	expire := finished.Add(time.Duration(*ttl) * time.Second)
	if wait := expire.Sub(c.Now()); wait > 0 {
		c.Queue.AddAfter(informer.KeyOf(job), wait)
		return nil
	}
	c.Log.Info("deleting finished job after its TTL", "job", informer.KeyOf(job), "ttlSecondsAfterFinished", *ttl)
	err := client.RetryOnConflict(ctx, client.Backoff{}, func() error {
		_, err := c.api.Delete(ctx, job.Metadata.Namespace, job.Metadata.Name, &metav1.DeleteOptions{
			PropagationPolicy: "Foreground", Preconditions: &metav1.Preconditions{Uid: job.Metadata.Uid},
		})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
