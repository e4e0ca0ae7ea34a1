package client

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/rpc"
	"minik8s/api/scheme"
)

// fakeAPI is a tiny in-memory apiserver for pods, enough to check the
// client's encoding, error mapping and retries.
type fakeAPI struct {
	rpc.UnimplementedAPIServer
	mu          sync.Mutex
	rv          int
	pods        map[string]*corev1.Pod
	unavailable int // fail this many reads with Unavailable first
	reads       int
	watchEvents []*rpc.WatchEvent
	lastWatch   *rpc.WatchRequest
	lastBind    *rpc.CreateRequest
}

func newFakeAPI() *fakeAPI { return &fakeAPI{pods: map[string]*corev1.Pod{}} }

func (f *fakeAPI) read() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.unavailable > 0 {
		f.unavailable--
		return status.Error(codes.Unavailable, "etcd is down")
	}
	return nil
}

func enc(m proto.Message) *rpc.Object {
	raw, _ := proto.Marshal(m)
	return &rpc.Object{Raw: raw}
}

func (f *fakeAPI) Create(_ context.Context, req *rpc.CreateRequest) (*rpc.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Subresource == "binding" {
		f.lastBind = req
		return &rpc.Object{}, nil
	}
	p := &corev1.Pod{}
	if err := proto.Unmarshal(req.Object.Raw, p); err != nil {
		return nil, apierrors.ToGRPC(apierrors.NewBadRequest(err.Error()))
	}
	key := req.Namespace + "/" + p.Metadata.GetName()
	if _, ok := f.pods[key]; ok {
		return nil, apierrors.ToGRPC(apierrors.NewAlreadyExists("pods", p.Metadata.GetName()))
	}
	f.rv++
	p.Metadata.ResourceVersion = strconv.Itoa(f.rv)
	f.pods[key] = p
	return enc(p), nil
}

func (f *fakeAPI) Get(_ context.Context, req *rpc.GetRequest) (*rpc.Object, error) {
	if err := f.read(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pods[req.Namespace+"/"+req.Name]
	if !ok {
		return nil, apierrors.ToGRPC(apierrors.NewNotFound("pods", req.Name))
	}
	return enc(p), nil
}

func (f *fakeAPI) List(_ context.Context, req *rpc.ListRequest) (*rpc.ListResponse, error) {
	if err := f.read(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &rpc.ListResponse{Metadata: &metav1.ListMeta{ResourceVersion: strconv.Itoa(f.rv)}}
	for _, p := range f.pods {
		resp.Items = append(resp.Items, enc(p))
	}
	return resp, nil
}

func (f *fakeAPI) Update(_ context.Context, req *rpc.UpdateRequest) (*rpc.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := &corev1.Pod{}
	if err := proto.Unmarshal(req.Object.Raw, p); err != nil {
		return nil, apierrors.ToGRPC(apierrors.NewBadRequest(err.Error()))
	}
	key := req.Namespace + "/" + p.Metadata.GetName()
	old, ok := f.pods[key]
	if !ok {
		return nil, apierrors.ToGRPC(apierrors.NewNotFound("pods", p.Metadata.GetName()))
	}
	if old.Metadata.ResourceVersion != p.Metadata.ResourceVersion {
		return nil, apierrors.ToGRPC(apierrors.NewConflict("pods", p.Metadata.GetName(), "the object has been modified"))
	}
	if req.Subresource == "status" {
		old = proto.Clone(old).(*corev1.Pod)
		old.Status = p.Status
		p = old
	}
	f.rv++
	p.Metadata.ResourceVersion = strconv.Itoa(f.rv)
	f.pods[key] = p
	return enc(p), nil
}

func (f *fakeAPI) Delete(_ context.Context, req *rpc.DeleteRequest) (*rpc.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.Namespace + "/" + req.Name
	p, ok := f.pods[key]
	if !ok {
		return nil, apierrors.ToGRPC(apierrors.NewNotFound("pods", req.Name))
	}
	delete(f.pods, key)
	return enc(p), nil
}

func (f *fakeAPI) Watch(req *rpc.WatchRequest, stream rpc.API_WatchServer) error {
	if err := f.read(); err != nil {
		return err
	}
	f.mu.Lock()
	f.lastWatch = req
	evs := f.watchEvents
	f.mu.Unlock()
	for _, ev := range evs {
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
	<-stream.Context().Done()
	return nil
}

func (f *fakeAPI) Discovery(context.Context, *rpc.DiscoveryRequest) (*rpc.DiscoveryResponse, error) {
	return &rpc.DiscoveryResponse{Resources: []*rpc.APIResource{{Name: "pods", Kind: "Pod", Version: "v1", Namespaced: true}}}, nil
}

// serve starts f on a loopback port and returns its address and a stop func.
func serve(t *testing.T, f *fakeAPI) (string, func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	rpc.RegisterAPIServer(s, f)
	go func() { _ = s.Serve(lis) }()
	var once sync.Once
	stop := func() { once.Do(s.Stop) }
	t.Cleanup(stop)
	return lis.Addr().String(), stop
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

var fastRetry = Backoff{Steps: 10, Duration: 5 * time.Millisecond, Factor: 2, Cap: 100 * time.Millisecond}

func newClient(t *testing.T, servers ...string) *Client {
	t.Helper()
	c, err := New(servers, WithRetry(fastRetry), WithUserAgent("client-test"), WithDialTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func pod(ns, name string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: &corev1.PodSpec{NodeName: "n1"}}
}

func TestCRUD(t *testing.T) {
	ctx := context.Background()
	addr, _ := serve(t, newFakeAPI())
	pods := For[*corev1.Pod](newClient(t, addr))

	created, err := pods.Create(ctx, pod("default", "web"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Metadata.ResourceVersion == "" || created.Spec.NodeName != "n1" {
		t.Fatalf("created = %v", created)
	}
	if _, err := pods.Create(ctx, pod("default", "web")); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	got, err := pods.Get(ctx, "default", "web")
	if err != nil || !proto.Equal(got, created) {
		t.Fatalf("get = %v, %v", got, err)
	}
	if _, err := pods.Get(ctx, "default", "nope"); !apierrors.IsNotFound(err) {
		t.Fatalf("get missing: %v, want NotFound", err)
	}

	stale := proto.Clone(got).(*corev1.Pod)
	got.Spec.NodeName = "n2"
	updated, err := pods.Update(ctx, got)
	if err != nil || updated.Spec.NodeName != "n2" {
		t.Fatalf("update = %v, %v", updated, err)
	}
	if _, err := pods.Update(ctx, stale); !apierrors.IsConflict(err) {
		t.Fatalf("stale update: %v, want Conflict", err)
	}
	updated.Status = &corev1.PodStatus{Phase: "Running"}
	st, err := pods.UpdateStatus(ctx, updated)
	if err != nil || st.Status.GetPhase() != "Running" {
		t.Fatalf("update status = %v, %v", st, err)
	}

	list, err := pods.List(ctx, "", ListOptions{})
	if err != nil || len(list.Items) != 1 || list.ResourceVersion != st.Metadata.ResourceVersion {
		t.Fatalf("list = %+v, %v", list, err)
	}
	deleted, err := pods.Delete(ctx, "default", "web", nil)
	if err != nil || deleted.Metadata.GetName() != "web" {
		t.Fatalf("delete = %v, %v", deleted, err)
	}
	if _, err := pods.Delete(ctx, "default", "web", nil); !apierrors.IsNotFound(err) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestDynamicBindDiscovery(t *testing.T) {
	ctx := context.Background()
	f := newFakeAPI()
	addr, _ := serve(t, f)
	c := newClient(t, addr)
	dyn, err := c.Dynamic("pods")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := dyn.Create(ctx, pod("ns1", "a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := obj.(*corev1.Pod); !ok {
		t.Fatalf("dynamic create returned %T", obj)
	}
	if _, err := c.Dynamic("nosuchthings"); err == nil {
		t.Error("unknown resource accepted")
	}
	b := &corev1.Binding{Metadata: &metav1.ObjectMeta{Name: "a"}}
	if err := c.Bind(ctx, "ns1", "a", b); err != nil {
		t.Fatal(err)
	}
	if f.lastBind.Name != "a" || f.lastBind.Subresource != "binding" || f.lastBind.Resource != "pods" {
		t.Errorf("bind request = %v", f.lastBind)
	}
	res, err := c.Discovery(ctx)
	if err != nil || len(res) != 1 || res[0].Name != "pods" {
		t.Errorf("discovery = %v, %v", res, err)
	}
}

func TestReadsRetryOnUnavailable(t *testing.T) {
	f := newFakeAPI()
	f.unavailable = 3
	addr, _ := serve(t, f)
	pods := For[*corev1.Pod](newClient(t, addr))
	if _, err := pods.List(context.Background(), "", ListOptions{}); err != nil {
		t.Fatalf("list after 3 Unavailable: %v", err)
	}
	if f.reads != 4 {
		t.Errorf("reads = %d, want 4", f.reads)
	}

	f.unavailable = 100
	_, err := pods.Get(context.Background(), "default", "x")
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.Status.Reason != apierrors.ReasonUnavailable {
		t.Fatalf("err = %v, want ServiceUnavailable StatusError", err)
	}
}

func TestFailover(t *testing.T) {
	ctx := context.Background()
	f := newFakeAPI()
	a, stopA := serve(t, f)
	b, _ := serve(t, f)
	c := newClient(t, deadAddr(t), a, b)
	pods := For[*corev1.Pod](c)
	if _, err := pods.Create(ctx, pod("default", "x")); err != nil {
		t.Fatalf("create with a dead first server: %v", err)
	}
	stopA()
	for i := 0; i < 5; i++ {
		if _, err := pods.Get(ctx, "default", "x"); err != nil {
			t.Fatalf("get %d after stopping one server: %v", i, err)
		}
	}
}

func TestWatch(t *testing.T) {
	f := newFakeAPI()
	p := pod("default", "w")
	p.Metadata.ResourceVersion = "7"
	f.watchEvents = []*rpc.WatchEvent{
		{Type: Added, Object: enc(p)},
		{Type: Bookmark, Object: enc(&corev1.Pod{Metadata: &metav1.ObjectMeta{ResourceVersion: "9"}})},
		{Type: Error, Status: apierrors.NewExpired("too old resource version: 1 (5)").Status},
	}
	addr, _ := serve(t, f)
	pods := For[*corev1.Pod](newClient(t, addr))
	w, err := pods.Watch(context.Background(), "default", ListOptions{ResourceVersion: "5", AllowBookmarks: true, LabelSelector: "a=b"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var got []Event[*corev1.Pod]
	for ev := range w.ResultChan() {
		got = append(got, ev)
	}
	if len(got) != 3 {
		t.Fatalf("got %d events, want 3: %v", len(got), got)
	}
	if got[0].Type != Added || got[0].Object.Metadata.GetName() != "w" {
		t.Errorf("event 0 = %+v", got[0])
	}
	if got[1].Type != Bookmark || got[1].Object.Metadata.GetResourceVersion() != "9" {
		t.Errorf("event 1 = %+v", got[1])
	}
	if got[2].Type != Error || !apierrors.IsExpired(got[2].Err) {
		t.Errorf("event 2 = %+v, want Expired", got[2])
	}
	if r := f.lastWatch; r.ResourceVersion != "5" || !r.AllowBookmarks || r.LabelSelector != "a=b" || r.Namespace != "default" {
		t.Errorf("watch request = %v", r)
	}
}

func TestWatchStopAndBrokenStream(t *testing.T) {
	f := newFakeAPI()
	addr, stop := serve(t, f)
	pods := For[*corev1.Pod](newClient(t, addr))

	w, err := pods.Watch(context.Background(), "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	w.Stop()
	for range w.ResultChan() {
	}

	w, err = pods.Watch(context.Background(), "", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the stream reach the server
	stop()
	var last Event[*corev1.Pod]
	for ev := range w.ResultChan() {
		last = ev
	}
	if last.Type != Error || last.Err == nil {
		t.Errorf("last event = %+v, want ERROR with cause", last)
	}
}

var _ scheme.Object = (*corev1.Pod)(nil)
