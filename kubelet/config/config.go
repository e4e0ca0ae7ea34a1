// Package config merges the kubelet's pod sources into one stream for the
// pod manager: the apiserver (pods bound to this node, minus mirror pods)
// and the manifest directory (static pods). It also says when every
// source has delivered its pods once ("sources ready"): only then may the
// manager treat the sandboxes of pods nobody mentions as orphans, or a
// kubelet restarted before its informer synced would kill every pod.
package config

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "minik8s/api/core/v1"
	"minik8s/api/informer"
	"minik8s/kubelet/static"
)

// Source names.
const (
	SourceAPI  = "api"
	SourceFile = "file"
)

// Sink receives the merged pods; the pod manager implements it.
type Sink interface {
	// UpdatePod says a pod is new or changed.
	UpdatePod(pod *corev1.Pod)
	// RemovePod says a pod is gone from its source.
	RemovePod(uid string)
	// Kick asks for a pod to be synced now (its status written again).
	Kick(uid string)
	// SetSourcesReady says every source delivered its pods once.
	SetSourcesReady()
}

// Options configure a Config.
type Options struct {
	// Sources lists the sources (SourceAPI, SourceFile) that must deliver
	// once before the sink is told the sources are ready. With none, it
	// is told at once.
	Sources []string
	// MirrorChanged, if set, is called when a mirror pod came, changed or
	// went in the apiserver, and when the API source synced: the mirror
	// keeper rechecks.
	MirrorChanged func()
	// StaticChanged, if set, gets the whole set of static pods after each
	// change of the manifest directory (the mirror keeper publishes them).
	StaticChanged func(pods []*corev1.Pod)
}

// Config merges the sources into a Sink. Safe for concurrent use; the
// sink is called with Config's lock held, so calls arrive in order.
type Config struct {
	sink Sink
	opts Options

	mu        sync.Mutex
	delivered map[string]bool
	ready     bool
	static    map[string]*corev1.Pod // by UID
}

// New returns a Config feeding sink.
func New(sink Sink, opts Options) *Config {
	c := &Config{sink: sink, opts: opts, delivered: map[string]bool{}, static: map[string]*corev1.Pod{}}
	for _, s := range opts.Sources {
		c.delivered[s] = false
	}
	c.mu.Lock()
	c.checkReady()
	c.mu.Unlock()
	return c
}

// checkReady tells the sink once every source delivered; mu is held.
func (c *Config) checkReady() {
	if c.ready {
		return
	}
	for _, ok := range c.delivered {
		if !ok {
			return
		}
	}
	c.ready = true
	c.sink.SetSourcesReady()
}

// Delivered marks a source as having delivered its pods once.
func (c *Config) Delivered(source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delivered[source] = true
	c.checkReady()
}

// Ready reports whether every source delivered.
func (c *Config) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// APIUpdate takes a pod added or changed in the apiserver. A mirror pod
// is not run: it only makes its static pod's status be offered again.
func (c *Config) APIUpdate(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if static.IsMirror(pod) {
		if c.opts.MirrorChanged != nil {
			c.opts.MirrorChanged()
		}
		// The static pod's status goes to this mirror: offer it again.
		c.sink.Kick(static.UIDFromHash(pod.GetMetadata().GetAnnotations()[static.AnnotationMirror]))
		return
	}
	c.sink.UpdatePod(pod)
}

// APIDelete takes a pod deleted from the apiserver.
func (c *Config) APIDelete(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if static.IsMirror(pod) {
		if c.opts.MirrorChanged != nil {
			c.opts.MirrorChanged()
		}
		return
	}
	c.sink.RemovePod(pod.GetMetadata().GetUid())
}

// WatchAPI feeds the pod informer's events (it runs elsewhere) to the
// sink, waits for the informer to sync and marks the API source
// delivered. It returns then, or when ctx ends first; the events keep
// flowing.
func (c *Config) WatchAPI(ctx context.Context, inf *informer.Informer[*corev1.Pod]) {
	inf.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc:    c.APIUpdate,
		UpdateFunc: func(_, p *corev1.Pod) { c.APIUpdate(p) },
		DeleteFunc: c.APIDelete,
	})
	if !informer.WaitForCacheSync(ctx, inf.HasSynced) {
		return
	}
	if c.opts.MirrorChanged != nil {
		c.opts.MirrorChanged()
	}
	c.Delivered(SourceAPI)
}

// SetStatic takes the full set of static pods: new and changed ones are
// updated, those no longer there removed, and the file source is marked
// delivered.
func (c *Config) SetStatic(pods []*corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	for _, p := range pods {
		uid := p.GetMetadata().GetUid()
		seen[uid] = true
		c.static[uid] = p
		c.sink.UpdatePod(p)
	}
	for uid := range c.static {
		if !seen[uid] {
			c.sink.RemovePod(uid)
			delete(c.static, uid)
		}
	}
	if c.opts.StaticChanged != nil {
		c.opts.StaticChanged(pods)
	}
	c.delivered[SourceFile] = true
	c.checkReady()
}

// WatchFiles reads the manifest directory dir every period and feeds the
// static pods (named for node) to SetStatic, until ctx ends.
func (c *Config) WatchFiles(ctx context.Context, dir, node string, period time.Duration, log *slog.Logger) {
	static.Watch(ctx, dir, node, period, log, c.SetStatic)
}
