package cmd

import (
	"context"
	"reflect"
	"time"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

// ambiguousRetries are the waits before each new attempt after a create
// whose outcome is unknown: an apiserver that died mid-write is usually
// replaced, or restarted, within a few seconds.
var ambiguousRetries = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}

// createResolving creates obj and, when the answer is that the outcome
// is unknown (apierrors.IsAmbiguous: the connection to the apiserver was
// lost after the request went out, or a deadline passed), finds out what
// happened - but only when it can tell:
//
//   - obj has a name: it creates again. Success means the first attempt
//     did not land. AlreadyExists is followed by a get; the stored object
//     is this create's when it holds every field obj sets, with the same
//     value (the server adds defaults, metadata and admission's additions
//   - to lists too, after what was sent - but never changes what was
//     sent), and is then returned as the created object. Another object
//     under that name stays AlreadyExists. A new ambiguous or unavailable
//     answer is retried after ambiguousRetries, then returned.
//   - obj has only a generateName: there is nothing to look for, and a
//     second create could make a second object, so the ambiguous error is
//     returned as it is.
//
// Each call runs under its own request context from rctx.
func createResolving(ctx context.Context, api ResourceAPI, obj scheme.Object, rctx func(context.Context) (context.Context, context.CancelFunc)) (scheme.Object, error) {
	call := func(f func(context.Context) (scheme.Object, error)) (scheme.Object, error) {
		c, cancel := rctx(ctx)
		defer cancel()
		return f(c)
	}
	created, err := call(func(c context.Context) (scheme.Object, error) { return api.Create(c, obj) })
	md := obj.GetMetadata()
	if !apierrors.IsAmbiguous(err) || md.GetName() == "" {
		return created, err
	}
	first := err
	for _, wait := range ambiguousRetries {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, first
		}
		created, err = call(func(c context.Context) (scheme.Object, error) { return api.Create(c, obj) })
		switch {
		case err == nil:
			return created, nil
		case apierrors.IsAlreadyExists(err):
			live, gerr := call(func(c context.Context) (scheme.Object, error) { return api.Get(c, md.GetNamespace(), md.GetName()) })
			if gerr != nil {
				return nil, err
			}
			if sameContent(obj, live) {
				return live, nil
			}
			return nil, err
		case apierrors.IsAmbiguous(err), apierrors.ReasonOf(err) == apierrors.ReasonUnavailable:
			continue
		default:
			return nil, err
		}
	}
	return nil, first
}

// sameContent reports whether stored holds every field sent sets, with
// the same value; status is the server's and is not compared.
func sameContent(sent, stored scheme.Object) bool {
	s, l := codec.ToMap(sent), codec.ToMap(stored)
	delete(s, "status")
	return holdsAll(l, s)
}

// holdsAll: every key of want is in have with a contained value; a list
// has want's elements, each contained, first (the server may append).
func holdsAll(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !holdsAll(h[k], wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) < len(w) {
			return false
		}
		for i := range w {
			if !holdsAll(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(have, want)
	}
}
