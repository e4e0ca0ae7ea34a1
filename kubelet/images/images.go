// Package images makes sure a container's image is present before it is
// created, honouring imagePullPolicy, with a back-off between failed pulls
// (ErrImagePull first, then ImagePullBackOff) and the Pulling, Pulled,
// Failed and BackOff events Kubernetes emits.
package images

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/record"
	"minik8s/api/scheme"
	"minik8s/api/workqueue"
	"minik8s/kubelet/runtime"
)

// Waiting reasons a container gets while its image is not there.
const (
	ReasonErrImagePull      = "ErrImagePull"
	ReasonImagePullBackOff  = "ImagePullBackOff"
	ReasonErrImageNeverPull = "ErrImageNeverPull"
	ReasonInvalidImageName  = "InvalidImageName"
)

// PullError is a failed (or backed-off) image pull; Reason is the
// container's waiting reason.
type PullError struct {
	Reason, Message string
	// Retry is when a new pull may be tried (zero: on the next sync).
	Retry time.Time
}

func (e *PullError) Error() string { return e.Reason + ": " + e.Message }

// Policy returns a container's effective pull policy: the given one, else
// Always for ":latest" or untagged images and IfNotPresent otherwise.
func Policy(c *corev1.Container) string {
	if p := c.GetImagePullPolicy(); p != "" {
		return p
	}
	img := c.GetImage()
	if strings.Contains(img, "@") {
		return "IfNotPresent"
	}
	last := img[strings.LastIndex(img, "/")+1:]
	if !strings.Contains(last, ":") || strings.HasSuffix(last, ":latest") {
		return "Always"
	}
	return "IfNotPresent"
}

// Puller ensures images. Safe for concurrent use.
type Puller struct {
	rt    runtime.Runtime
	rec   record.EventRecorder
	clock workqueue.Clock
	base  time.Duration
	max   time.Duration

	mu    sync.Mutex
	fails map[string]*failure // by pod UID + image
}

type failure struct {
	delay time.Duration
	at    time.Time
	msg   string
}

// NewPuller returns a Puller whose back-off starts at base and doubles up
// to max (Kubernetes: 10s and 5m).
func NewPuller(rt runtime.Runtime, rec record.EventRecorder, clock workqueue.Clock, base, max time.Duration) *Puller {
	if clock == nil {
		clock = workqueue.RealClock{}
	}
	return &Puller{rt: rt, rec: rec, clock: clock, base: base, max: max, fails: map[string]*failure{}}
}

// Ensure makes c's image present for pod and returns it. A *PullError
// says why not.
func (p *Puller) Ensure(ctx context.Context, pod scheme.Object, podUID string, c *corev1.Container) (runtime.Image, error) {
	ref := c.GetImage()
	if _, err := runtime.Normalize(ref); err != nil || ref == "" {
		msg := fmt.Sprintf("Failed to apply default image tag %q: couldn't parse image name", ref)
		p.event(pod, "Warning", "InspectFailed", msg)
		return runtime.Image{}, &PullError{Reason: ReasonInvalidImageName, Message: msg}
	}
	policy := Policy(c)
	if policy != "Always" {
		img, err := p.rt.GetImage(ctx, ref)
		if err == nil {
			p.event(pod, "Normal", "Pulled", fmt.Sprintf("Container image %q already present on machine", ref))
			return img, nil
		}
		if !errors.Is(err, runtime.ErrNotFound) {
			return runtime.Image{}, err
		}
		if policy == "Never" {
			msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", ref)
			p.event(pod, "Warning", "ErrImageNeverPull", msg)
			return runtime.Image{}, &PullError{Reason: ReasonErrImageNeverPull, Message: msg}
		}
	}
	key := podUID + "/" + ref
	now := p.clock.Now()
	p.mu.Lock()
	f := p.fails[key]
	if f != nil && now.Before(f.at.Add(f.delay)) {
		retry := f.at.Add(f.delay)
		msg := fmt.Sprintf("Back-off pulling image %q", ref)
		p.mu.Unlock()
		p.event(pod, "Normal", "BackOff", msg)
		return runtime.Image{}, &PullError{Reason: ReasonImagePullBackOff, Message: msg, Retry: retry}
	}
	p.mu.Unlock()

	p.event(pod, "Normal", "Pulling", fmt.Sprintf("Pulling image %q", ref))
	start := p.clock.Now()
	img, err := p.rt.PullImage(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return runtime.Image{}, ctx.Err()
		}
		p.mu.Lock()
		if f == nil {
			f = &failure{delay: p.base}
			p.fails[key] = f
		} else {
			f.delay = min(f.delay*2, p.max)
		}
		f.at, f.msg = p.clock.Now(), err.Error()
		retry := f.at.Add(f.delay)
		p.mu.Unlock()
		msg := fmt.Sprintf("Failed to pull image %q: %v", ref, err)
		p.event(pod, "Warning", "Failed", msg)
		p.event(pod, "Warning", "Failed", "Error: "+ReasonErrImagePull)
		return runtime.Image{}, &PullError{Reason: ReasonErrImagePull, Message: msg, Retry: retry}
	}
	p.mu.Lock()
	delete(p.fails, key)
	p.mu.Unlock()
	p.event(pod, "Normal", "Pulled", fmt.Sprintf("Successfully pulled image %q in %s", ref, p.clock.Now().Sub(start).Round(time.Millisecond)))
	return img, nil
}

// Forget drops the back-off state of a pod.
func (p *Puller) Forget(podUID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.fails {
		if strings.HasPrefix(k, podUID+"/") {
			delete(p.fails, k)
		}
	}
}

func (p *Puller) event(obj scheme.Object, typ, reason, msg string) {
	if p.rec != nil && obj != nil {
		p.rec.Event(obj, typ, reason, msg)
	}
}
