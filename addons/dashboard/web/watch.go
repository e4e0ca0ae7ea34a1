package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// Server-sent events of the pods page (GET /api/pods/watch?namespace=)
// and of the events page (GET /api/events/watch?namespace=), also of one
// object's events (&fieldSelector=involvedObject.name=...):
//
//	event: reset    data: {"items": [Row...]}   the whole list, first and after every relist
//	event: upsert   data: Row                   an object added or changed
//	event: delete   data: Row                   an object gone
//	event: failure  data: {"error", "reason", "code"}  the stream ends (the app stops)
//
// Row is a PodRow or an EventRow. The list and the watch are made with
// the user's token, so a user sees exactly the objects the apiserver lets
// them list and watch.

// sse writes one event stream.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (e *sse) send(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *sse) comment(text string) error {
	if _, err := fmt.Fprintf(e.w, ": %s\n\n", text); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (s *Server) watchPods(w http.ResponseWriter, r *http.Request) {
	now := s.now
	stream(s, w, r, s.api.Pods, "pod",
		func(items []*corev1.Pod) any { return s.podRows(items) },
		func(p *corev1.Pod) any { return podRow(p, now()) })
}

// watchEvents streams the events of a namespace ("" all) as the events
// page shows them, newest last (GET /api/events/watch?namespace=).
func (s *Server) watchEvents(w http.ResponseWriter, r *http.Request) {
	stream(s, w, r, s.api.Events, "event",
		func(items []*corev1.Event) any { return eventRows(items) },
		func(e *corev1.Event) any { return eventRow(e) })
}

// stream serves a list and then a watch of res, as the user, as
// server-sent events: rows turns a list into the reset's items, row one
// object into an upsert's or delete's data. The namespace, labelSelector
// and fieldSelector come from the query (a pod's page follows its events
// with the fieldSelector its detail names).
func stream[T scheme.Object](s *Server, w http.ResponseWriter, r *http.Request, res client.Interface[T], what string, rows func([]T) any, row func(T) any) {
	ctx := r.Context()
	ns := r.URL.Query().Get("namespace")
	opts := client.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector"), FieldSelector: r.URL.Query().Get("fieldSelector")}

	// The first list decides the answer: a refusal is a plain JSON error
	// (EventSource cannot read it, the app's fetch of the list can).
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	list, err := res.List(lctx, ns, opts)
	cancel()
	if err != nil {
		writeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := &sse{w: w, rc: http.NewResponseController(w)}
	s.metrics.streams.Inc()
	defer s.metrics.streams.Dec()

	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		if err := out.send("reset", map[string]any{"items": rows(list.Items)}); err != nil {
			return
		}
		rv := list.ResourceVersion
		for {
			var err error
			rv, err = follow(ctx, out, res, ns, opts, rv, heartbeat.C, row)
			if ctx.Err() != nil {
				return
			}
			if apierrors.IsExpired(err) {
				break // the version is too old: list again
			}
			if err != nil {
				s.log.Debug(what+" watch ended", "namespace", ns, "err", err)
				_ = out.send("failure", errorOf(err))
				return
			}
			// The apiserver closed the stream: resume from rv after a
			// pause, so a closing apiserver is not hammered.
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		lctx, cancel := context.WithTimeout(ctx, callTimeout)
		list, err = res.List(lctx, ns, opts)
		cancel()
		if err != nil {
			_ = out.send("failure", errorOf(err))
			return
		}
	}
}

// follow watches res from rv and sends every change until the watch
// ends; it returns the last resourceVersion seen and the watch's error
// (nil when the stream simply closed).
func follow[T scheme.Object](ctx context.Context, out *sse, res client.Interface[T], ns string, opts client.ListOptions, rv string, beat <-chan time.Time, row func(T) any) (string, error) {
	opts.ResourceVersion, opts.AllowBookmarks = rv, true
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := res.Watch(wctx, ns, opts)
	if err != nil {
		return rv, err
	}
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, ctx.Err()
		case <-beat:
			if err := out.comment("keep-alive"); err != nil {
				return rv, err
			}
		case ev, ok := <-watch.ResultChan():
			if !ok {
				return rv, nil
			}
			if ev.Type == client.Error {
				return rv, ev.Err
			}
			rv = ev.Object.GetMetadata().GetResourceVersion()
			var err error
			switch ev.Type {
			case client.Added, client.Modified:
				err = out.send("upsert", row(ev.Object))
			case client.Deleted:
				err = out.send("delete", row(ev.Object))
			}
			if err != nil {
				return rv, err
			}
		}
	}
}
