package fake

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"minik8s/api/scheme"
)

// Cluster is a set of in-memory APIs over untyped objects, one per kind,
// sharing one resourceVersion sequence and one clock as one apiserver
// does. Created objects carry apiVersion and kind. For tests of clients
// that pick the resource at run time (minictl, the garbage collector).
type Cluster struct {
	now  func() time.Time
	rv   atomic.Int64
	mu   sync.Mutex
	apis map[string]*API[scheme.Object] // by resource
}

// NewCluster returns an empty cluster whose creationTimestamps are now().
func NewCluster(now func() time.Time) *Cluster {
	return &Cluster{now: now, apis: map[string]*API[scheme.Object]{}}
}

// Resource returns the API of kind k, the same one every call.
func (c *Cluster) Resource(k *scheme.Kind) *API[scheme.Object] {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.apis[k.Resource]
	if !ok {
		a = newAPI[scheme.Object](k, &c.rv)
		a.Now, a.typeMeta = c.now, true
		c.apis[k.Resource] = a
	}
	return a
}

// Add creates objs, as if created earlier; it panics on an unregistered
// kind or a duplicate, a broken test.
func (c *Cluster) Add(objs ...scheme.Object) {
	for _, o := range objs {
		if _, err := c.resourceOf(o).Create(context.Background(), o); err != nil {
			panic(err)
		}
	}
}

// Put stores a copy of obj as it is (see API.Put).
func (c *Cluster) Put(obj scheme.Object) { c.resourceOf(obj).Put(obj) }

// Get returns a copy of the stored object, or nil.
func (c *Cluster) Get(resource, namespace, name string) scheme.Object {
	k, err := scheme.ByResource(resource)
	if err != nil {
		panic(err)
	}
	o, err := c.Resource(k).Get(context.Background(), namespace, name)
	if err != nil {
		return nil
	}
	return o
}

func (c *Cluster) resourceOf(o scheme.Object) *API[scheme.Object] {
	k, err := scheme.KindOf(o)
	if err != nil {
		panic(err)
	}
	return c.Resource(k)
}
