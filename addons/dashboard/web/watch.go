package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"minik8s/api/client"
	apierrors "minik8s/api/errors"
)

// Server-sent events of the pods page (GET /api/pods/watch?namespace=):
//
//	event: reset    data: {"items": [PodRow...]}   the whole list, first and after every relist
//	event: upsert   data: PodRow                   a pod added or changed
//	event: delete   data: PodRow                   a pod gone
//	event: failure  data: {"error", "reason", "code"}  the stream ends (the browser reconnects)
//
// The list and the watch are made with the user's token, so a user sees
// exactly the pods the apiserver lets them list and watch.

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
	ctx := r.Context()
	ns := r.URL.Query().Get("namespace")
	opts := client.ListOptions{LabelSelector: r.URL.Query().Get("labelSelector")}

	// The first list decides the answer: a refusal is a plain JSON error
	// (EventSource cannot read it, the app's fetch of /api/pods can).
	lctx, cancel := context.WithTimeout(ctx, callTimeout)
	list, err := s.api.Pods.List(lctx, ns, opts)
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
		if err := out.send("reset", map[string]any{"items": s.podRows(list.Items)}); err != nil {
			return
		}
		rv := list.ResourceVersion
		for {
			var err error
			rv, err = s.followPods(ctx, out, ns, opts, rv, heartbeat.C)
			if ctx.Err() != nil {
				return
			}
			if apierrors.IsExpired(err) {
				break // the version is too old: list again
			}
			if err != nil {
				s.log.Debug("pod watch ended", "namespace", ns, "err", err)
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
		list, err = s.api.Pods.List(lctx, ns, opts)
		cancel()
		if err != nil {
			_ = out.send("failure", errorOf(err))
			return
		}
	}
}

// followPods watches from rv and sends every change until the watch
// ends; it returns the last resourceVersion seen and the watch's error
// (nil when the stream simply closed).
func (s *Server) followPods(ctx context.Context, out *sse, ns string, opts client.ListOptions, rv string, beat <-chan time.Time) (string, error) {
	opts.ResourceVersion, opts.AllowBookmarks = rv, true
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := s.api.Pods.Watch(wctx, ns, opts)
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
				err = out.send("upsert", podRow(ev.Object, s.now()))
			case client.Deleted:
				err = out.send("delete", podRow(ev.Object, s.now()))
			}
			if err != nil {
				return rv, err
			}
		}
	}
}
