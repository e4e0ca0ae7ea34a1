package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	apierrors "minik8s/api/errors"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// Watch event types, as the apiserver sends them.
const (
	Added    = "ADDED"
	Modified = "MODIFIED"
	Deleted  = "DELETED"
	Bookmark = "BOOKMARK"
	Error    = "ERROR"
)

// Event is one change seen by a watch. For BOOKMARK, Object carries only
// metadata.resourceVersion. For ERROR, Object is the zero T and Err says
// why the watch ended: a *errors.StatusError (IsExpired means the start
// version is too old and the caller must relist) or a transport error.
type Event[T scheme.Object] struct {
	Type   string
	Object T
	Err    error
}

// Watch is a running watch. Its channel closes when the watch ends: after
// Stop, when the context ends, when the server closes the stream, or right
// after an ERROR event (at most one is sent, always last).
type Watch[T scheme.Object] interface {
	// ResultChan returns the channel of events; the same channel every call.
	ResultChan() <-chan Event[T]
	// Stop ends the watch and releases the stream; it is safe to call more
	// than once and from any goroutine. Events may still be buffered.
	Stop()
}

type watcher[T scheme.Object] struct {
	ch     chan Event[T]
	cancel context.CancelFunc
	once   sync.Once
}

func (w *watcher[T]) ResultChan() <-chan Event[T] { return w.ch }
func (w *watcher[T]) Stop()                       { w.once.Do(w.cancel) }

// Watch streams changes in a namespace ("" for all) after
// opts.ResourceVersion. Opening the stream is retried on Unavailable; once
// open, a broken stream ends the watch with an ERROR event and the caller
// re-watches from the last resourceVersion it saw (api/informer does).
func (r *Resource[T]) Watch(ctx context.Context, namespace string, opts ListOptions) (Watch[T], error) {
	wctx, cancel := context.WithCancel(ctx)
	var stream rpc.API_WatchClient
	err := r.c.idempotent(wctx, "watch "+r.kind.Resource, func() (err error) {
		stream, err = r.c.api.Watch(wctx, &rpc.WatchRequest{
			Resource: r.kind.Resource, Namespace: r.ns(namespace),
			LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector,
			ResourceVersion: opts.ResourceVersion, AllowBookmarks: opts.AllowBookmarks,
		})
		return err
	})
	if err != nil {
		cancel()
		return nil, err
	}
	w := &watcher[T]{ch: make(chan Event[T], 16), cancel: cancel}
	go r.pump(wctx, w, stream)
	return w, nil
}

// pump turns stream messages into events until the stream or ctx ends.
func (r *Resource[T]) pump(ctx context.Context, w *watcher[T], stream rpc.API_WatchClient) {
	defer close(w.ch)
	defer w.Stop()
	send := func(ev Event[T]) bool {
		select {
		case w.ch <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		msg, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return
			}
			r.c.log.Debug("watch stream broke", "resource", r.kind.Resource, "err", err)
			send(Event[T]{Type: Error, Err: apierrors.FromGRPC(err)})
			return
		}
		if msg.GetType() == Error {
			st := msg.GetStatus()
			if st == nil {
				st = apierrors.NewInternal(errors.New("watch ERROR event without status")).Status
			}
			send(Event[T]{Type: Error, Err: &apierrors.StatusError{Status: st}})
			return
		}
		obj, err := r.unmarshal(msg.GetObject())
		if err != nil {
			send(Event[T]{Type: Error, Err: fmt.Errorf("watch %s: %s event: %w", r.kind.Resource, msg.GetType(), err)})
			return
		}
		if !send(Event[T]{Type: msg.GetType(), Object: obj}) {
			return
		}
	}
}
