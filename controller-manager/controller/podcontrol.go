package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// PodControl creates and deletes pods on behalf of a controller object,
// recording the events Kubernetes records (SuccessfulCreate,
// FailedCreate, SuccessfulDelete, FailedDelete) on that object.
type PodControl interface {
	// CreatePod creates pod (already owned by owner) and returns it as stored.
	CreatePod(ctx context.Context, pod *corev1.Pod, owner scheme.Object) (*corev1.Pod, error)
	// DeletePod deletes the pod namespace/name of owner.
	DeletePod(ctx context.Context, namespace, name string, owner scheme.Object) error
}

// RealPodControl is PodControl through the API.
type RealPodControl struct {
	Pods     API[*corev1.Pod]
	Recorder EventRecorder
}

// CreatePod creates the pod and records the event.
func (c RealPodControl) CreatePod(ctx context.Context, pod *corev1.Pod, owner scheme.Object) (*corev1.Pod, error) {
	if len(pod.GetMetadata().GetLabels()) == 0 {
		return nil, errors.New("unable to create pods, no labels")
	}
	created, err := c.Pods.Create(ctx, pod)
	if err != nil {
		// A namespace being deleted refuses pods: not worth a warning.
		if !apierrors.IsForbidden(err) || ctx.Err() == nil {
			c.Recorder.Eventf(owner, EventWarning, "FailedCreate", "Error creating: %v", err)
		}
		return nil, err
	}
	c.Recorder.Eventf(owner, EventNormal, "SuccessfulCreate", "Created pod: %s", created.GetMetadata().GetName())
	return created, nil
}

// DeletePod deletes the pod and records the event; a pod already gone is
// not an error.
func (c RealPodControl) DeletePod(ctx context.Context, namespace, name string, owner scheme.Object) error {
	_, err := c.Pods.Delete(ctx, namespace, name, nil)
	if err != nil && !apierrors.IsNotFound(err) {
		c.Recorder.Eventf(owner, EventWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s: %w", namespace, name, err)
	}
	if err == nil {
		c.Recorder.Eventf(owner, EventNormal, "SuccessfulDelete", "Deleted pod: %s", name)
	}
	return nil
}

// SlowStartBatch calls fn count times, in batches that start at
// initialBatch and double while every call succeeds, running each batch
// concurrently. It stops after the first batch with a failure and returns
// the number of successful calls and the first error. Starting small means
// a template the apiserver rejects costs one failed call, not a thousand.
func SlowStartBatch(count, initialBatch int, fn func(i int) error) (int, error) {
	remaining := count
	successes := 0
	for batch := min(remaining, initialBatch); batch > 0; batch = min(2*batch, remaining) {
		var wg sync.WaitGroup
		errCh := make(chan error, batch)
		start := count - remaining
		for i := range batch {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if err := fn(i); err != nil {
					errCh <- err
				}
			}(start + i)
		}
		wg.Wait()
		failed := len(errCh)
		successes += batch - failed
		if failed > 0 {
			return successes, <-errCh
		}
		remaining -= batch
	}
	return successes, nil
}
