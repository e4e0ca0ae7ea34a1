// Package record writes Events for components: "Scheduled", "Pulled",
// "ScalingReplicaSet" and the rest. Recording never blocks the caller; a
// background goroutine writes the events. A repeat of the same event (same
// object, type, reason and message) updates the existing Event's count and
// lastTimestamp instead of creating another object, and a burst beyond the
// queue's capacity is dropped with a log line rather than slowing the
// component down.
package record

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// Event types.
const (
	Normal  = "Normal"
	Warning = "Warning"
)

// Recorder records events for one component on one host.
type Recorder struct {
	events    *client.Resource[*corev1.Event]
	component string
	host      string
	now       func() time.Time
	// queues holds one queue per writer; an event goes to the writer its
	// aggregation key hashes to, so repeats of one event stay in order
	// while unrelated events are written in parallel.
	queues   []chan *corev1.Event
	writers  sync.WaitGroup
	stopOnce sync.Once
	cancel   context.CancelFunc

	// stopMu guards stopped: Event after Stop is dropped, never a send on
	// a closed queue.
	stopMu  sync.RWMutex
	stopped bool

	// seen maps an aggregation key to the Event object last written for
	// it, so repeats become updates.
	mu   sync.Mutex
	seen map[string]*corev1.Event
}

// New starts a recorder; Stop flushes and ends it.
func New(c *client.Client, component, host string) *Recorder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{
		events:    client.For[*corev1.Event](c),
		component: component,
		host:      host,
		now:       time.Now,
		cancel:    cancel,
		seen:      map[string]*corev1.Event{},
	}
	for range writers {
		q := make(chan *corev1.Event, queueSize/writers)
		r.queues = append(r.queues, q)
		r.writers.Add(1)
		go r.run(ctx, q)
	}
	return r
}

// writers is how many events are written at once; queueSize bounds the
// events waiting across all of them.
const (
	writers   = 4
	queueSize = 1000
)

// Event records an event about obj. eventType is Normal or Warning.
func (r *Recorder) Event(obj scheme.Object, eventType, reason, message string) {
	if obj == nil {
		return
	}
	md := obj.GetMetadata()
	ref := &corev1.ObjectReference{
		Kind: obj.GetKind(), ApiVersion: obj.GetApiVersion(),
		Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid(),
		ResourceVersion: md.GetResourceVersion(),
	}
	if ref.Kind == "" {
		if k, err := scheme.KindOf(obj); err == nil {
			ref.Kind, ref.ApiVersion = k.Kind, k.APIVersion()
		}
	}
	ns := md.GetNamespace()
	if ns == "" {
		ns = "default" // events about cluster-scoped objects, as Kubernetes does
	}
	now := timestamppb.New(r.now().Truncate(time.Second))
	ev := &corev1.Event{
		Metadata:           &metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", md.GetName(), strings.ReplaceAll(uuid.NewString(), "-", "")[:16]), Namespace: ns},
		InvolvedObject:     ref,
		Reason:             reason,
		Message:            message,
		Type:               eventType,
		Source:             &corev1.EventSource{Component: r.component, Host: r.host},
		FirstTimestamp:     now,
		LastTimestamp:      now,
		Count:              1,
		ReportingComponent: r.component,
		ReportingInstance:  r.host,
	}
	h := fnv.New32a()
	h.Write([]byte(aggregationKey(ev)))
	q := r.queues[h.Sum32()%uint32(len(r.queues))]
	r.stopMu.RLock()
	defer r.stopMu.RUnlock()
	if r.stopped {
		return
	}
	select {
	case q <- ev:
	default:
		slog.Warn("event queue full, dropping event", "reason", reason, "object", ref.Namespace+"/"+ref.Name)
	}
}

// Eventf is Event with a formatted message.
func (r *Recorder) Eventf(obj scheme.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

// Stop writes what is queued (for at most a few seconds) and stops.
func (r *Recorder) Stop() {
	r.stopOnce.Do(func() {
		r.stopMu.Lock()
		r.stopped = true
		for _, q := range r.queues {
			close(q)
		}
		r.stopMu.Unlock()
		done := make(chan struct{})
		go func() { r.writers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			r.cancel()
			<-done
		}
		r.cancel()
	})
}

func aggregationKey(ev *corev1.Event) string {
	o := ev.InvolvedObject
	return strings.Join([]string{o.Kind, o.Namespace, o.Name, o.Uid, ev.Type, ev.Reason, ev.Message, ev.Source.GetComponent()}, "\x00")
}

func (r *Recorder) run(ctx context.Context, q <-chan *corev1.Event) {
	defer r.writers.Done()
	for ev := range q {
		r.write(ctx, ev)
	}
}

// write creates the event, or bumps the count of the one it repeats.
func (r *Recorder) write(ctx context.Context, ev *corev1.Event) {
	key := aggregationKey(ev)
	r.mu.Lock()
	prev := r.seen[key]
	r.mu.Unlock()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if prev != nil {
		upd := proto.Clone(prev).(*corev1.Event)
		upd.Count++
		upd.LastTimestamp = ev.LastTimestamp
		out, err := r.events.Update(wctx, upd)
		if err == nil {
			r.remember(key, out)
			return
		}
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			slog.Warn("could not update event", "reason", ev.Reason, "err", err)
			return
		}
		// Gone (expired or deleted) or changed elsewhere: write a new one.
	}
	out, err := r.events.Create(wctx, ev)
	if err != nil {
		if ctx.Err() == nil {
			slog.Warn("could not write event", "reason", ev.Reason, "object", ev.InvolvedObject.Namespace+"/"+ev.InvolvedObject.Name, "err", err)
		}
		return
	}
	r.remember(key, out)
}

// maxSeen bounds the aggregation memory; when full it starts over, which
// at worst writes one new Event for a repeat.
const maxSeen = 4096

func (r *Recorder) remember(key string, ev *corev1.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) >= maxSeen {
		clear(r.seen)
	}
	r.seen[key] = ev
}
