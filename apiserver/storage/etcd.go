// Package storage keeps API objects in etcd: one key per object under
// /registry/<resource>/[<namespace>/]<name>, the value the object's
// Kubernetes JSON. An object's resourceVersion is the etcd mod revision of
// its key; it is never written into the stored JSON, only set on read.
// Every write is a transaction comparing the mod revision the caller read,
// so a stale writer gets a Conflict and nothing acknowledged is lost.
package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/storage/encryption"
)

// Prefix is the root of every key the apiserver writes.
const Prefix = "/registry"

// Etcd is the etcd3 implementation of Interface: it reads and writes objects
// of every kind in etcd.
type Etcd struct {
	cli *clientv3.Client

	// written holds the objects this apiserver is writing, by key with the
	// exact bytes, so the watch that brings the write back does not decode
	// the JSON the object was made from. The value is compared, not the
	// revision: the watch event may arrive before the write's response.
	// Equal bytes decode to an equal object, so a match is always right.
	mu      sync.Mutex
	written map[string]writtenObject

	// encryption transforms the values of the resources it names
	// (--encryption-provider-config); nil stores every value as JSON.
	encryption encryption.Config

	// OnCorrupt hears of every stored value that cannot be decoded, by
	// key; lists and watches skip such values (so one bad object never
	// stops a resource from being served) and Get names the key. Set it
	// before the store is used; nil logs nothing.
	OnCorrupt func(key string, err error)
}

type writtenObject struct {
	data []byte
	obj  scheme.Object
}

// maxWritten bounds the handoff map should a kind's watch not be running.
const maxWritten = 20000

// NewEtcd returns the etcd3 storage over a client it does not own.
func NewEtcd(cli *clientv3.Client) *Etcd { return &Etcd{cli: cli, written: map[string]writtenObject{}} }

// Encrypt makes the store encrypt the values of the resources c names
// (and decrypt them on every read). Call it before the store is used.
func (s *Etcd) Encrypt(c encryption.Config) { s.encryption = c }

// transformer of a kind; nil when its values are stored as they are.
func (s *Etcd) transformer(k *scheme.Kind) encryption.Transformer {
	if s.encryption == nil {
		return nil
	}
	return s.encryption.For(k.Group, k.Resource)
}

// encode renders obj as stored at key: its JSON, encrypted when the
// kind's resource is configured so.
func (s *Etcd) encode(k *scheme.Kind, key string, obj scheme.Object) ([]byte, error) {
	data, err := Encode(obj)
	if err != nil {
		return nil, err
	}
	if t := s.transformer(k); t != nil {
		return t.ToStorage(data, key)
	}
	return data, nil
}

// decode parses the value stored at key.
func (s *Etcd) decode(k *scheme.Kind, key, value []byte, modRev int64) (scheme.Object, error) {
	if t := s.transformer(k); t != nil {
		data, _, err := t.FromStorage(value, string(key))
		if err != nil {
			return nil, err
		}
		value = data
	}
	return Decode(k, value, modRev)
}

// Stale reports whether the stored value of an object was written by
// another encryption provider than the first configured one, so that
// rewriting it - even unchanged - moves it to the current key. The
// generic store asks before it skips a no-op update; kinds without
// encryption answer at once, without reading etcd.
func (s *Etcd) Stale(ctx context.Context, k *scheme.Kind, ns, name string) (bool, error) {
	t := s.transformer(k)
	if t == nil {
		return false, nil
	}
	key := Key(k, ns, name)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return false, translate(err)
	}
	if len(resp.Kvs) == 0 {
		return false, nil
	}
	_, stale, err := t.FromStorage(resp.Kvs[0].Value, key)
	return stale, err
}

// remember records that obj, encoded as data, is being written at key.
func (s *Etcd) remember(key string, data []byte, obj scheme.Object) {
	c := proto.Clone(obj).(scheme.Object)
	scheme.Meta(c).ResourceVersion = ""
	s.mu.Lock()
	if len(s.written) >= maxWritten {
		clear(s.written)
	}
	s.written[key] = writtenObject{data: data, obj: c}
	s.mu.Unlock()
}

// forget drops what remember recorded for a write that did not happen
// (refused or failed), unless another write has replaced it since.
func (s *Etcd) forget(key string, data []byte) {
	s.mu.Lock()
	if w, ok := s.written[key]; ok && bytes.Equal(w.data, data) {
		delete(s.written, key)
	}
	s.mu.Unlock()
}

// recall returns the object written at key as data, if this store wrote it.
func (s *Etcd) recall(key string, data []byte) scheme.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.written[key]
	if !ok || !bytes.Equal(w.data, data) {
		return nil
	}
	delete(s.written, key)
	return w.obj
}

// KeyPrefix is the etcd prefix holding every object of a kind, or of a
// kind in one namespace when ns is not empty. It ends with "/".
func KeyPrefix(k *scheme.Kind, ns string) string {
	if k.Namespaced && ns != "" {
		return Prefix + "/" + k.Resource + "/" + ns + "/"
	}
	return Prefix + "/" + k.Resource + "/"
}

// Key is the etcd key of one object.
func Key(k *scheme.Kind, ns, name string) string {
	if k.Namespaced {
		return Prefix + "/" + k.Resource + "/" + ns + "/" + name
	}
	return Prefix + "/" + k.Resource + "/" + name
}

// Encode renders obj as stored: JSON with resourceVersion cleared.
func Encode(obj scheme.Object) ([]byte, error) {
	md := scheme.Meta(obj)
	rv := md.ResourceVersion
	md.ResourceVersion = ""
	data, err := codec.MarshalJSON(obj)
	md.ResourceVersion = rv
	return data, err
}

// Decode parses a stored value and stamps its resourceVersion.
func Decode(k *scheme.Kind, data []byte, modRev int64) (scheme.Object, error) {
	obj := k.New()
	if err := codec.UnmarshalJSON(data, obj); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", k.Resource, err)
	}
	scheme.Meta(obj).ResourceVersion = strconv.FormatInt(modRev, 10)
	return obj, nil
}

// ParseRV parses a resourceVersion; "" is 0.
func ParseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q: must be a non-negative integer", rv))
	}
	return n, nil
}

func nameOf(key string) string { return key[strings.LastIndex(key, "/")+1:] }

// Create writes obj if its key does not exist yet and returns the stored
// object with its resourceVersion.
func (s *Etcd) Create(ctx context.Context, k *scheme.Kind, obj scheme.Object) (scheme.Object, error) {
	md := scheme.Meta(obj)
	key := Key(k, md.Namespace, md.Name)
	data, err := s.encode(k, key, obj)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	s.remember(key, data, obj)
	rev, written, _, err := s.commitPut(ctx, key, data, 0, "create", k, md.Name)
	if err != nil || !written {
		s.forget(key, data)
	}
	if err != nil {
		return nil, err
	}
	if !written {
		return nil, apierrors.NewAlreadyExists(k.GroupResource(), md.Name)
	}
	md.ResourceVersion = strconv.FormatInt(rev, 10)
	return obj, nil
}

// leaderOnly marks a request for a member that knows a leader: one that
// does not (cut off from the others, or during an election) refuses it at
// once with ErrNoLeader instead of holding it until its request timeout
// (7 s) - a proposal waits for a leader and a linearizable read for one's
// read index. A read refused so is retried by the etcd client on the next
// member, a write by commitPut; so a member cut off from its peers costs
// a write a retry, not its deadline.
func leaderOnly(ctx context.Context) context.Context { return clientv3.WithRequireLeader(ctx) }

// ambiguous reports an etcd error after which a write may or may not
// have been applied (a leader change while it was in flight), or was not
// applied for want of a leader: both are worth another try.
func ambiguous(err error) bool {
	for _, e := range []error{rpctypes.ErrTimeout, rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost,
		rpctypes.ErrLeaderChanged, rpctypes.ErrNoLeader} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// attemptTimeout bounds one attempt of a write. A member that stopped
// answering (SIGSTOP, a hung disk, a link gone silent) keeps its
// connection open, and a write the client sent on it would wait for the
// request's whole deadline - though the other members could take it at
// once. Our writes are compare-and-swap transactions, so another attempt
// (the client picks the next member) is safe: if the abandoned one is
// applied later its comparison fails, and if it was applied first the
// retry finds exactly its data. A healthy etcd answers in milliseconds;
// a slow one costs a retry, not an error.
const attemptTimeout = 2 * time.Second

// retryable reports a write attempt worth another try: etcd's ambiguous
// errors, the attempt's own deadline, and a connection that broke under
// it (Unavailable: a member's keepalive failed) - all may or may not have
// been applied, which the compare-and-swap makes safe to try again.
func retryable(ctx context.Context, err error) bool {
	return ambiguous(err) || ctx.Err() == nil && (timedOut(err) || status.Code(err) == codes.Unavailable)
}

// timedOut reports an attempt that ran into its own deadline.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded
}

// commitPut writes data at key if the key's mod revision is rev (0: the
// key must not exist). While etcd elects a new leader a write can fail
// ambiguously; it is retried, and a retry that finds the key holding
// exactly data (which carries the object's uid and timestamps, so no
// other writer produces it) knows the earlier attempt went through - so a
// member failover costs a client neither an error nor a false conflict.
// exists reports whether the key was there when the write was refused.
//
// An error after which the write may or may not have been applied (the
// connection to etcd lost mid-transaction, a leader change outlasting the
// retries, the request's deadline) is an ambiguous write naming verb,
// k and name (translateWrite).
func (s *Etcd) commitPut(ctx context.Context, key string, data []byte, rev int64, verb string, k *scheme.Kind, name string) (newRev int64, written, exists bool, err error) {
	backoff := 100 * time.Millisecond
	var unsure error // an earlier attempt's error after which it may have been applied
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(leaderOnly(ctx), attemptTimeout)
		resp, err := s.cli.Txn(actx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(data))).
			Else(clientv3.OpGet(key)).
			Commit()
		cancel()
		if err != nil {
			if !retryable(ctx, err) || attempt >= 5 || ctx.Err() != nil {
				return 0, false, false, failedWrite(err, unsure, verb, k, name)
			}
			// A refusal for want of a leader (leaderOnly) was never
			// proposed; anything else ambiguous may yet be applied.
			if !errors.Is(err, rpctypes.ErrNoLeader) {
				unsure = err
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return 0, false, false, translateWrite(ctx.Err(), verb, k, name)
			}
			backoff *= 2
			continue
		}
		if resp.Succeeded {
			return resp.Header.Revision, true, true, nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return 0, false, false, nil
		}
		if attempt > 0 && bytes.Equal(kvs[0].Value, data) {
			return kvs[0].ModRevision, true, true, nil
		}
		return 0, false, true, nil
	}
}

// read is a small linearizable read (one key, or a count), its attempt
// bounded by attemptTimeout and tried once more - on the client's next
// member - if it ran out: a read changes nothing, so a member that stopped
// answering costs it a retry, not the request's deadline. Lists are not
// bounded so: a large one may take longer than an attempt; the client's
// keepalive ends a silent member's connection under them.
//
// One retry only: a member without a leader is retried by the etcd
// client itself within an attempt, so an attempt that ran out may also
// mean no member has a leader, which more attempts would not mend.
func (s *Etcd) read(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(leaderOnly(ctx), attemptTimeout)
		resp, err := s.cli.Get(actx, key, opts...)
		cancel()
		if err == nil || attempt == 1 || ctx.Err() != nil || !timedOut(err) {
			return resp, err
		}
	}
}

// Get reads one object from etcd (a linearizable read).
func (s *Etcd) Get(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	resp, err := s.read(ctx, Key(k, ns, name))
	if err != nil {
		return nil, translate(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NewNotFound(k.GroupResource(), name)
	}
	kv := resp.Kvs[0]
	obj, err := s.decode(k, kv.Key, kv.Value, kv.ModRevision)
	if err != nil {
		s.corrupt(string(kv.Key), err)
		return nil, apierrors.NewStoreReadError(k.GroupResource(), name, string(kv.Key), err)
	}
	return obj, nil
}

// Update writes obj if the key's mod revision still equals obj's
// resourceVersion. A mismatch is a Conflict; a missing key is NotFound.
func (s *Etcd) Update(ctx context.Context, k *scheme.Kind, obj scheme.Object) (scheme.Object, error) {
	md := scheme.Meta(obj)
	key := Key(k, md.Namespace, md.Name)
	rv, err := ParseRV(md.ResourceVersion)
	if err != nil {
		return nil, err
	}
	data, err := s.encode(k, key, obj)
	if err != nil {
		return nil, apierrors.NewInternal(err)
	}
	s.remember(key, data, obj)
	newRev, written, exists, err := s.commitPut(ctx, key, data, rv, "update", k, md.Name)
	if err != nil || !written {
		s.forget(key, data)
	}
	if err != nil {
		return nil, err
	}
	if !written {
		if !exists {
			return nil, apierrors.NewNotFound(k.GroupResource(), md.Name)
		}
		return nil, apierrors.NewConflict(k.GroupResource(), md.Name,
			"the object has been modified; please apply your changes to the latest version and try again")
	}
	md.ResourceVersion = strconv.FormatInt(newRev, 10)
	return obj, nil
}

// Delete removes the key if its mod revision equals rv and returns the
// last stored object, with the deletion's revision as resourceVersion.
func (s *Etcd) Delete(ctx context.Context, k *scheme.Kind, ns, name string, rv int64) (scheme.Object, error) {
	key := Key(k, ns, name)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rv)).
		Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if err != nil {
		return nil, translateWrite(err, "delete", k, name)
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) == 0 {
			return nil, apierrors.NewNotFound(k.GroupResource(), name)
		}
		return nil, apierrors.NewConflict(k.GroupResource(), name, "the object has been modified; please apply your changes to the latest version and try again")
	}
	prev := resp.Responses[0].GetResponseDeleteRange().PrevKvs
	if len(prev) == 0 {
		return nil, apierrors.NewNotFound(k.GroupResource(), name)
	}
	obj, err := s.decode(k, prev[0].Key, prev[0].Value, resp.Header.Revision)
	if err != nil {
		// Deleted all the same: what is returned is all that is known.
		return stub(k, ns, name, resp.Header.Revision), nil
	}
	return obj, nil
}

// List reads every object of a kind (in ns, or all namespaces when ns is
// "") and returns them with the etcd revision they were read at.
func (s *Etcd) List(ctx context.Context, k *scheme.Kind, ns string) ([]scheme.Object, int64, error) {
	resp, err := s.cli.Get(leaderOnly(ctx), KeyPrefix(k, ns), clientv3.WithPrefix())
	if err != nil {
		return nil, 0, translate(err)
	}
	out := make([]scheme.Object, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		obj, err := s.decode(k, kv.Key, kv.Value, kv.ModRevision)
		if err != nil {
			s.corrupt(string(kv.Key), err)
			continue
		}
		out = append(out, obj)
	}
	return out, resp.Header.Revision, nil
}

// CurrentRevision returns etcd's latest revision with a cheap linearizable read.
func (s *Etcd) CurrentRevision(ctx context.Context) (int64, error) {
	resp, err := s.read(ctx, Prefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithLimit(1))
	if err != nil {
		return 0, translate(err)
	}
	return resp.Header.Revision, nil
}

// EventType says what happened to a key.
type EventType int

// Event types of a raw watch.
const (
	Put EventType = iota
	Deleted
	// Progress carries only a revision: etcd has nothing newer for the prefix.
	Progress
)

// RawEvent is one decoded change from etcd.
type RawEvent struct {
	Type     EventType
	Object   scheme.Object // the new object, or for Deleted the last one
	Revision int64
	Created  bool // Put of a key that did not exist
}

// WatchContext derives the context a Watch and its RequestProgress calls
// must share: etcd groups watches into one stream per context metadata.
func (s *Etcd) WatchContext(ctx context.Context) context.Context {
	return clientv3.WithRequireLeader(ctx)
}

// RequestProgress asks etcd to send a Progress event on every watch made
// with ctx (from WatchContext), advancing watchers to its current revision.
func (s *Etcd) RequestProgress(ctx context.Context) error { return s.cli.RequestProgress(ctx) }

// Watch streams changes of a kind after revision rev (exclusive) until ctx
// ends. It closes the channel on error after sending the error on errc;
// a compacted rev gives an Expired error. ctx should come from WatchContext.
func (s *Etcd) Watch(ctx context.Context, k *scheme.Kind, rev int64) (<-chan RawEvent, <-chan error) {
	out := make(chan RawEvent, 256)
	errc := make(chan error, 1)
	wch := s.cli.Watch(ctx, KeyPrefix(k, ""), clientv3.WithPrefix(), clientv3.WithPrevKV(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	go func() {
		defer close(out)
		for resp := range wch {
			if err := resp.Err(); err != nil {
				if errors.Is(err, rpctypes.ErrCompacted) || resp.CompactRevision > 0 {
					errc <- apierrors.NewExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, resp.CompactRevision))
				} else {
					errc <- translate(err)
				}
				return
			}
			if resp.IsProgressNotify() {
				select {
				case out <- RawEvent{Type: Progress, Revision: resp.Header.Revision}:
				case <-ctx.Done():
					return
				}
				continue
			}
			for _, ev := range resp.Events {
				re, err := s.rawEvent(k, ev)
				if err != nil {
					// One bad value must not stop the watch (and with it
					// the watch cache of the whole resource): skip it.
					s.corrupt(string(ev.Kv.Key), err)
					continue
				}
				select {
				case out <- re:
				case <-ctx.Done():
					return
				}
			}
		}
		if ctx.Err() == nil {
			errc <- apierrors.NewUnavailable("etcd watch closed")
		}
	}()
	return out, errc
}

func (s *Etcd) rawEvent(k *scheme.Kind, ev *clientv3.Event) (RawEvent, error) {
	switch ev.Type {
	case mvccpb.PUT:
		obj := s.recall(string(ev.Kv.Key), ev.Kv.Value)
		if obj != nil {
			scheme.Meta(obj).ResourceVersion = strconv.FormatInt(ev.Kv.ModRevision, 10)
		} else {
			var err error
			if obj, err = s.decode(k, ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision); err != nil {
				// An object overwritten with a value that cannot be read
				// is gone as far as watchers can tell.
				s.corrupt(string(ev.Kv.Key), err)
				if ev.PrevKv == nil {
					return RawEvent{}, err
				}
				prev, perr := s.decode(k, ev.PrevKv.Key, ev.PrevKv.Value, ev.Kv.ModRevision)
				if perr != nil {
					return RawEvent{}, err
				}
				return RawEvent{Type: Deleted, Object: prev, Revision: ev.Kv.ModRevision}, nil
			}
		}
		return RawEvent{Type: Put, Object: obj, Revision: ev.Kv.ModRevision, Created: ev.IsCreate()}, nil
	default:
		if ev.PrevKv == nil {
			return RawEvent{}, fmt.Errorf("delete of %s without previous value", nameOf(string(ev.Kv.Key)))
		}
		obj, err := s.decode(k, ev.PrevKv.Key, ev.PrevKv.Value, ev.Kv.ModRevision)
		if err != nil {
			return RawEvent{}, err
		}
		return RawEvent{Type: Deleted, Object: obj, Revision: ev.Kv.ModRevision}, nil
	}
}

// corrupt reports a value that cannot be decoded.
func (s *Etcd) corrupt(key string, err error) {
	if s.OnCorrupt != nil {
		s.OnCorrupt(key, err)
	}
}

// stub is what is known of an object whose value cannot be read: its
// kind, namespace, name and revision.
func stub(k *scheme.Kind, ns, name string, rev int64) scheme.Object {
	obj := k.New()
	scheme.SetTypeMeta(obj, k)
	md := scheme.Meta(obj)
	md.Name, md.Namespace, md.ResourceVersion = name, ns, strconv.FormatInt(rev, 10)
	return obj
}

// DeleteCorrupt removes an object whose stored value cannot be decoded
// (Get answered StorageReadError): nothing of it can be checked - no
// precondition, finalizer or grace period - so it is deleted outright, and
// only while its value is still unreadable (a fixed value is left to the
// normal delete). It returns the stub of what was deleted.
func (s *Etcd) DeleteCorrupt(ctx context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	key := Key(k, ns, name)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return nil, translate(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NewNotFound(k.GroupResource(), name)
	}
	kv := resp.Kvs[0]
	if _, err := s.decode(k, kv.Key, kv.Value, kv.ModRevision); err == nil {
		return nil, apierrors.NewConflict(k.GroupResource(), name, "the stored object is readable again; delete it normally")
	}
	del, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		return nil, translate(err)
	}
	if !del.Succeeded {
		return nil, apierrors.NewConflict(k.GroupResource(), name, "the object has been modified; please apply your changes to the latest version and try again")
	}
	return stub(k, ns, name, del.Header.Revision), nil
}

// failedWrite is the error of a write whose last attempt failed with
// err, unsure the error of an earlier attempt that may have been applied
// (nil: none may have). Refusals for want of a leader alone are a plain
// ServiceUnavailable: nothing was proposed. A definite refusal of the retry - etcd out of
// space, say - does not make the outcome known when an earlier attempt
// may have landed: that is an ambiguous write too, never a plain failure
// of a write that is stored.
func failedWrite(err, unsure error, verb string, k *scheme.Kind, name string) error {
	if unsure == nil && errors.Is(err, rpctypes.ErrNoLeader) {
		// Every attempt was refused before it was proposed (leaderOnly).
		return apierrors.NewUnavailable("etcd: no member with a leader took the write; it was not applied: " + err.Error())
	}
	e := translateWrite(err, verb, k, name)
	if unsure == nil || errors.Is(err, context.Canceled) || apierrors.IsUnknownOutcome(e) {
		return e
	}
	return apierrors.NewAmbiguousWrite(verb, k.GroupResource(), name,
		fmt.Errorf("etcd: an earlier attempt may have been applied (%v), and the retry failed: %v", unsure, err))
}

// translateWrite maps the error of a write transaction that was sent to
// etcd. One after which it may or may not have been applied - the
// deadline passed, the connection to etcd was lost, a leader change
// (ambiguous) - is an ambiguous write (504 Timeout, "the outcome of the
// write is unknown"), never ServiceUnavailable, which clients take for
// "not done". The caller's cancellation stays as it is: nobody is left to
// tell.
func translateWrite(err error, verb string, k *scheme.Kind, name string) error {
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded), ambiguous(err),
		status.Code(err) == codes.DeadlineExceeded, status.Code(err) == codes.Unavailable:
		return apierrors.NewAmbiguousWrite(verb, k.GroupResource(), name, fmt.Errorf("etcd: %w", err))
	}
	return translate(err)
}

// translate maps etcd client errors to API errors.
func translate(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeout("etcd request timed out: " + err.Error())
	case errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, rpctypes.ErrCompacted):
		return apierrors.NewExpired("too old resource version: " + err.Error())
	case errors.Is(err, rpctypes.ErrRequestTooLarge):
		return apierrors.NewTooLarge("etcd request too large: " + err.Error())
	case errors.Is(err, rpctypes.ErrNoSpace):
		return noSpace()
	}
	return apierrors.NewUnavailable("etcd: " + err.Error())
}

// noSpace is etcd's refusal of every write once its database reached
// --quota-backend-bytes (the NOSPACE alarm). As Kubernetes does, it is a
// 500 - waiting does not clear it, an operator must - with one line that
// says what happened and what still works; etcd's own words end it so a
// search for them finds it.
func noSpace() error {
	return apierrors.NewInternal(errors.New("etcd is out of space (NOSPACE alarm: its database reached --quota-backend-bytes): " +
		"writes are refused until an operator compacts, defragments and disarms the alarm (hack/etcd-backup.sh reclaim); " +
		"reads and deletes still work: " + rpctypes.ErrNoSpace.Error()))
}
