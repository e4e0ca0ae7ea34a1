package informer

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	"minik8s/api/labels"
	"minik8s/api/scheme"
)

type podEvent = client.Event[*corev1.Pod]

// fakeLW serves a scripted list and hands each watch to the test.
type fakeLW struct {
	mu        sync.Mutex
	items     []*corev1.Pod
	rv        string
	listErr   error
	lists     int
	watchErr  error
	watchOpts []client.ListOptions
	watches   chan *fakeWatch
}

func newFakeLW(rv string, items ...*corev1.Pod) *fakeLW {
	return &fakeLW{items: items, rv: rv, watches: make(chan *fakeWatch, 10)}
}

func (f *fakeLW) Kind() *scheme.Kind {
	k, _ := scheme.ByResource("pods")
	return k
}

func (f *fakeLW) List(_ context.Context, _ string, _ client.ListOptions) (*client.List[*corev1.Pod], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	if f.listErr != nil {
		return nil, f.listErr
	}
	return &client.List[*corev1.Pod]{Items: append([]*corev1.Pod(nil), f.items...), ResourceVersion: f.rv}, nil
}

func (f *fakeLW) Watch(_ context.Context, _ string, opts client.ListOptions) (client.Watch[*corev1.Pod], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchOpts = append(f.watchOpts, opts)
	if f.watchErr != nil {
		err := f.watchErr
		f.watchErr = nil
		return nil, err
	}
	w := &fakeWatch{ch: make(chan podEvent, 10), stopped: make(chan struct{})}
	f.watches <- w
	return w, nil
}

func (f *fakeLW) set(rv string, items ...*corev1.Pod) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rv, f.items = rv, items
}

func (f *fakeLW) listCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lists
}

func (f *fakeLW) lastWatchRV() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watchOpts[len(f.watchOpts)-1].ResourceVersion
}

type fakeWatch struct {
	ch      chan podEvent
	once    sync.Once
	stopped chan struct{}
}

func (w *fakeWatch) ResultChan() <-chan podEvent { return w.ch }
func (w *fakeWatch) Stop()                       { w.once.Do(func() { close(w.stopped) }) }

// recorder turns handler calls into strings on a channel.
type recorder struct{ ch chan string }

func newRecorder() *recorder { return &recorder{ch: make(chan string, 100)} }

func (r *recorder) OnAdd(p *corev1.Pod) { r.ch <- "add " + KeyOf(p) + "@" + p.Metadata.ResourceVersion }
func (r *recorder) OnUpdate(o, n *corev1.Pod) {
	r.ch <- fmt.Sprintf("update %s@%s->%s", KeyOf(n), o.Metadata.ResourceVersion, n.Metadata.ResourceVersion)
}
func (r *recorder) OnDelete(p *corev1.Pod) {
	r.ch <- "delete " + KeyOf(p) + "@" + p.Metadata.ResourceVersion
}

// expect reads n handler calls (sorted, since a list's order is not fixed).
func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for range want {
		select {
		case s := <-r.ch:
			got = append(got, s)
		case <-time.After(2 * time.Second):
			t.Fatalf("timed out; got %v, want %v", got, want)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handler calls = %v, want %v", got, want)
	}
}

func (r *recorder) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case s := <-r.ch:
		t.Fatalf("unexpected handler call %q", s)
	case <-time.After(30 * time.Millisecond):
	}
}

func nextWatch(t *testing.T, lw *fakeLW) *fakeWatch {
	t.Helper()
	select {
	case w := <-lw.watches:
		return w
	case <-time.After(2 * time.Second):
		t.Fatal("informer did not watch")
		return nil
	}
}

func start(t *testing.T, lw *fakeLW, resync time.Duration) (*Informer[*corev1.Pod], *recorder) {
	t.Helper()
	inf := New[*corev1.Pod](lw, "", client.ListOptions{}, resync)
	inf.backoff = client.Backoff{Duration: time.Millisecond, Factor: 1}
	inf.log = slog.New(slog.DiscardHandler)
	rec := newRecorder()
	inf.AddEventHandler(rec)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { inf.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return inf, rec
}

func TestListWatchAndRewatch(t *testing.T) {
	lw := newFakeLW("10", mkPod("a", "x", "5", "", nil), mkPod("a", "y", "10", "", nil))
	inf, rec := start(t, lw, 0)
	rec.expect(t, "add a/x@5", "add a/y@10")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if !WaitForCacheSync(ctx, inf.HasSynced) {
		t.Fatal("never synced")
	}

	w := nextWatch(t, lw)
	if rv := lw.lastWatchRV(); rv != "10" {
		t.Fatalf("first watch from %q, want the list's 10", rv)
	}
	w.ch <- podEvent{Type: client.Added, Object: mkPod("a", "z", "11", "", nil)}
	w.ch <- podEvent{Type: client.Modified, Object: mkPod("a", "x", "12", "", nil)}
	w.ch <- podEvent{Type: client.Deleted, Object: mkPod("a", "y", "13", "", nil)}
	rec.expect(t, "add a/z@11")
	rec.expect(t, "update a/x@5->12")
	rec.expect(t, "delete a/y@13")
	w.ch <- podEvent{Type: client.Bookmark, Object: mkPod("", "", "20", "", nil)}

	// The stream ends cleanly: re-watch from the bookmark, without a relist.
	close(w.ch)
	nextWatch(t, lw)
	if rv := lw.lastWatchRV(); rv != "20" {
		t.Errorf("re-watch from %q, want the bookmark's 20", rv)
	}
	if n := lw.listCount(); n != 1 {
		t.Errorf("lists = %d, want 1 (re-watch must not relist)", n)
	}
	rec.expectNothing(t)
}

func TestExpiredRelistsAndDiffs(t *testing.T) {
	lw := newFakeLW("10", mkPod("a", "keep", "1", "", nil), mkPod("a", "change", "2", "", nil), mkPod("a", "gone", "3", "", nil))
	_, rec := start(t, lw, 0)
	rec.expect(t, "add a/keep@1", "add a/change@2", "add a/gone@3")
	w := nextWatch(t, lw)

	// While "disconnected": gone is deleted, change is modified, fresh appears.
	lw.set("50", mkPod("a", "keep", "1", "", nil), mkPod("a", "change", "40", "", nil), mkPod("a", "fresh", "45", "", nil))
	w.ch <- podEvent{Type: client.Error, Err: apierrors.NewExpired("too old resource version: 10 (30)")}
	close(w.ch)
	rec.expect(t, "delete a/gone@3", "update a/change@2->40", "add a/fresh@45")
	nextWatch(t, lw)
	if rv := lw.lastWatchRV(); rv != "50" {
		t.Errorf("watch after relist from %q, want 50", rv)
	}
	if n := lw.listCount(); n != 2 {
		t.Errorf("lists = %d, want 2", n)
	}
}

func TestFailuresRetry(t *testing.T) {
	lw := newFakeLW("1", mkPod("a", "x", "1", "", nil))
	lw.listErr = apierrors.NewUnavailable("etcd down")
	inf, rec := start(t, lw, 0)
	for lw.listCount() < 3 {
		time.Sleep(time.Millisecond)
	}
	if inf.HasSynced() {
		t.Fatal("synced without a successful list")
	}
	lw.mu.Lock()
	lw.listErr = nil
	lw.watchErr = apierrors.NewUnavailable("apiserver gone") // the first watch fails: relist
	lw.mu.Unlock()
	rec.expect(t, "add a/x@1")
	w := nextWatch(t, lw)
	if n := lw.listCount(); n < 4 {
		t.Errorf("lists = %d; a failed watch must relist", n)
	}
	// A broken stream (not Expired) re-watches from the last version.
	w.ch <- podEvent{Type: client.Modified, Object: mkPod("a", "x", "7", "", nil)}
	rec.expect(t, "update a/x@1->7")
	before := lw.listCount()
	w.ch <- podEvent{Type: client.Error, Err: apierrors.NewUnavailable("connection reset")}
	close(w.ch)
	w = nextWatch(t, lw)
	if rv := lw.lastWatchRV(); rv != "7" || lw.listCount() != before {
		t.Errorf("after broken stream: watch from %q with %d lists, want 7 and %d", rv, lw.listCount(), before)
	}
	// A watch refused before any event (gRPC reports it on the stream) relists.
	w.ch <- podEvent{Type: client.Error, Err: apierrors.NewUnavailable("refused")}
	close(w.ch)
	nextWatch(t, lw)
	if n := lw.listCount(); n != before+1 {
		t.Errorf("lists = %d after a refused watch, want %d", n, before+1)
	}
	rec.expect(t, "update a/x@7->1") // the fake's list still says version 1
}

func TestResyncAndLateHandler(t *testing.T) {
	lw := newFakeLW("3", mkPod("a", "x", "3", "", nil))
	inf, rec := start(t, lw, 20*time.Millisecond)
	rec.expect(t, "add a/x@3")
	rec.expect(t, "update a/x@3->3") // resync
	late := newRecorder()
	inf.AddEventHandler(HandlerFuncs[*corev1.Pod]{AddFunc: late.OnAdd})
	late.expect(t, "add a/x@3")
}

func TestLister(t *testing.T) {
	lw := newFakeLW("9",
		mkPod("a", "web-1", "1", "n1", map[string]string{"app": "web"}),
		mkPod("a", "db", "2", "n2", map[string]string{"app": "db"}),
		mkPod("b", "web-2", "3", "n1", map[string]string{"app": "web"}),
	)
	inf, rec := start(t, lw, 0)
	inf.AddIndexer("node", func(p *corev1.Pod) []string { return []string{p.Spec.GetNodeName()} })
	rec.expect(t, "add a/web-1@1", "add a/db@2", "add b/web-2@3")
	l := inf.Lister()

	if p, err := l.Get("a", "db"); err != nil || p.Metadata.ResourceVersion != "2" {
		t.Errorf("Get a/db = %v, %v", p, err)
	}
	if _, err := l.Get("a", "nope"); !apierrors.IsNotFound(err) {
		t.Errorf("Get missing: %v, want NotFound", err)
	}
	keys := func(ps []*corev1.Pod) string {
		var out []string
		for _, p := range ps {
			out = append(out, KeyOf(p))
		}
		sort.Strings(out)
		return fmt.Sprint(out)
	}
	web := labels.MustParse("app=web")
	if got := keys(l.List(web)); got != "[a/web-1 b/web-2]" {
		t.Errorf("List(app=web) = %s", got)
	}
	if got := keys(l.List(nil)); got != "[a/db a/web-1 b/web-2]" {
		t.Errorf("List(nil) = %s", got)
	}
	if got := keys(l.ListNamespace("a", web)); got != "[a/web-1]" {
		t.Errorf("ListNamespace(a, app=web) = %s", got)
	}
	if got := keys(l.ListNamespace("a", labels.Everything())); got != "[a/db a/web-1]" {
		t.Errorf("ListNamespace(a) = %s", got)
	}
	byNode, err := inf.ByIndex("node", "n1")
	if err != nil || keys(byNode) != "[a/web-1 b/web-2]" {
		t.Errorf("ByIndex(node, n1) = %s, %v", keys(byNode), err)
	}
	if _, err := l.ByIndex("nope", "x"); err == nil {
		t.Error("unknown index did not fail")
	}
}

func TestRunTwiceReturns(t *testing.T) {
	lw := newFakeLW("1")
	inf, _ := start(t, lw, 0)
	nextWatch(t, lw)
	done := make(chan struct{})
	go func() { inf.Run(context.Background()); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("second Run did not return")
	}
}

func TestFactorySharesInformers(t *testing.T) {
	c, err := client.New([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f := NewFactory(c, 0)
	a := For[*corev1.Pod](f, "ns1")
	if For[*corev1.Pod](f, "ns1") != a {
		t.Error("same resource and namespace gave two informers")
	}
	if For[*corev1.Pod](f, "") == a {
		t.Error("different namespaces share an informer")
	}
	nodes := For[*corev1.Node](f, "")
	if nodes.lw.Kind().Resource != "nodes" {
		t.Errorf("node informer serves %s", nodes.lw.Kind().Resource)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	f.Start(ctx)
	f.Start(ctx) // idempotent
	if f.WaitForCacheSync(ctx) {
		t.Error("synced without an apiserver")
	}
}
