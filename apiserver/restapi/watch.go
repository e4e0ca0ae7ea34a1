package restapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/cache"
)

// watch streams WatchEvent JSON objects, one per line, flushed as they
// come; a resourceVersion too old for the cache is an ERROR event with an
// Expired Status (410), as Kubernetes sends it, so reflectors relist.
func (h *Handler) watch(w http.ResponseWriter, r *http.Request, rt route) {
	o, err := listOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	ctx := r.Context()
	if ts := r.URL.Query().Get("timeoutSeconds"); ts != "" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 {
			writeError(w, apierrors.NewBadRequest("invalid timeoutSeconds "+strconv.Quote(ts)))
			return
		}
		if n > 0 {
			var cancel func()
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	table := wantsTable(r)
	wt, err := h.cfg.API.Watch(ctx, rt.target, o)
	if err != nil && !apierrors.IsExpired(err) {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	if err != nil {
		st, _ := codec.MarshalJSON(statusOf(err))
		_, _ = w.Write(watchEvent("ERROR", st))
		flush()
		return
	}
	defer wt.Stop()
	send := func(ev *cache.Event) bool {
		var data []byte
		var err error
		if table && ev.Type != cache.Bookmark {
			data, err = h.tableJSON(nil, r, rt.kind, []scheme.Object{ev.Object}, "", "")
		} else {
			data, err = codec.MarshalJSON(ev.Object)
		}
		if err != nil {
			return false
		}
		if _, err := w.Write(watchEvent(ev.Type, data)); err != nil {
			return false
		}
		return true
	}
	for _, ev := range wt.Initial() {
		if !send(ev) {
			return
		}
	}
	flush()
	for {
		select {
		case ev, ok := <-wt.Events():
			if !ok {
				return // cut off or stopped: the client resumes from its last version
			}
			if !send(ev) {
				return
			}
			// Send what else is queued before flushing once.
			for more := true; more; {
				select {
				case ev, ok := <-wt.Events():
					if !ok {
						flush()
						return
					}
					if !send(ev) {
						return
					}
				default:
					more = false
				}
			}
			flush()
		case <-ctx.Done():
			return
		}
	}
}

// watchEvent is one line of a watch stream.
func watchEvent(typ string, object []byte) []byte {
	out := make([]byte, 0, len(object)+32)
	out = append(out, `{"type":`...)
	out = strconv.AppendQuote(out, typ)
	out = append(out, `,"object":`...)
	out = append(out, object...)
	out = append(out, "}\n"...)
	return out
}
