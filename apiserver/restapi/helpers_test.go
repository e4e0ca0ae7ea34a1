package restapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/app"
	"minik8s/apiserver/cache"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/restapi"
	"minik8s/apiserver/storage/memory"
)

// server is the REST front over the whole request path and in-memory
// storage, wired as app.Run wires it (without the service allocator and
// the component prober).
type server struct {
	t   *testing.T
	URL string
	mem *memory.Store
	st  *generic.Store
}

func newServer(t *testing.T, opts cache.Options) *server {
	t.Helper()
	if opts.ProgressInterval == 0 {
		opts.ProgressInterval = 50 * time.Millisecond
	}
	mem := memory.New()
	st := generic.New(mem, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := st.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	nsKind, _ := scheme.ByResource("namespaces")
	if _, err := st.Create(wctx, nsKind, "", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "default"}}, rest.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	api := app.NewAPI(st, nil, nil, nil, nil, nil)
	hs := httptest.NewServer(restapi.New(restapi.Config{API: api, Patch: app.ApplyPatch}))
	// Registered after the store's cleanup, so it runs first: the
	// handlers end before the caches stop.
	t.Cleanup(hs.Close)
	return &server{t: t, URL: hs.URL, mem: mem, st: st}
}

// revision is the storage's revision, which only writes move.
func (s *server) revision() int64 {
	rev, _ := s.mem.CurrentRevision(context.Background())
	return rev
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

// do sends one request; header is "Name: value" pairs.
func (s *server) do(method, path, body string, header ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: data}
}

// mustDo is do that fails unless the answer has code.
func (s *server) mustDo(code int, method, path, body string, header ...string) obj {
	s.t.Helper()
	r := s.do(method, path, body, header...)
	if r.code != code {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, r.code, r.body, code)
	}
	return r.obj(s.t)
}

// obj is a decoded JSON object, read by path.
type obj map[string]any

func (r response) obj(t *testing.T) obj {
	t.Helper()
	var o obj
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.body)
	}
	return o
}

// get returns the value at a dotted path ("metadata.labels.app"); a
// number segment indexes a list.
func (o obj) get(path string) any {
	var cur any = map[string]any(o)
	for _, seg := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[seg]
		case []any:
			var i int
			if _, err := fmt.Sscanf(seg, "%d", &i); err != nil || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (o obj) str(path string) string {
	s, _ := o.get(path).(string)
	return s
}

func (o obj) list(path string) []any {
	l, _ := o.get(path).([]any)
	return l
}

// names lists metadata.name of each item of a list.
func (o obj) names() []string {
	var out []string
	for _, it := range o.list("items") {
		out = append(out, obj(it.(map[string]any)).str("metadata.name"))
	}
	return out
}

// wantStatus checks a Kubernetes Status error answer.
func wantStatus(t *testing.T, r response, code int, reason, message string) obj {
	t.Helper()
	if r.code != code {
		t.Fatalf("code %d (%s), want %d", r.code, r.body, code)
	}
	st := r.obj(t)
	if st.str("kind") != "Status" || st.str("apiVersion") != "v1" || st.str("status") != "Failure" {
		t.Fatalf("not a failure Status: %s", r.body)
	}
	if c, _ := st.get("code").(float64); int(c) != code {
		t.Fatalf("Status code %v, want %d", st.get("code"), code)
	}
	if st.str("reason") != reason {
		t.Fatalf("Status reason %q, want %q: %s", st.str("reason"), reason, r.body)
	}
	if !strings.Contains(st.str("message"), message) {
		t.Fatalf("Status message %q, want it to contain %q", st.str("message"), message)
	}
	return st
}

func podJSON(name, app, node string) string {
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":%q,"labels":{"app":%q}},`+
		`"spec":{"nodeName":%q,"containers":[{"name":"web","image":"nginx:1.25"}]}}`, name, app, node)
}

func configMapJSON(name string, labels map[string]string) string {
	l, _ := json.Marshal(labels)
	return fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q,"labels":%s},"data":{"k":"v"}}`, name, l)
}

const deploymentJSON = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":1,
"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"web","image":"nginx:1.25"}]}}}}`

// watchStream reads a watch answer line by line.
type watchStream struct {
	t     *testing.T
	resp  *http.Response
	lines chan obj
}

func (s *server) watch(path string, header ...string) *watchStream {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Set(name, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s.t.Fatalf("watch %s: %d %s", path, resp.StatusCode, body)
	}
	w := &watchStream{t: s.t, resp: resp, lines: make(chan obj, 100)}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var o obj
			if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
				o = obj{"type": "UNPARSABLE", "line": sc.Text()}
			}
			w.lines <- o
		}
	}()
	s.t.Cleanup(w.close)
	return w
}

func (w *watchStream) close() { w.resp.Body.Close() }

// next returns the next event; ok is false when the stream ended.
func (w *watchStream) next() (ev obj, ok bool) {
	w.t.Helper()
	select {
	case ev, ok := <-w.lines:
		return ev, ok
	case <-time.After(5 * time.Second):
		w.t.Fatal("no watch event within 5s")
	}
	return nil, false
}

// nextOf skips events of other types (bookmarks) until one of typ.
func (w *watchStream) nextOf(typ string) obj {
	w.t.Helper()
	for {
		ev, ok := w.next()
		if !ok {
			w.t.Fatalf("watch ended waiting for %s", typ)
		}
		if ev.str("type") == typ {
			return ev
		}
		if ev.str("type") != "BOOKMARK" {
			w.t.Fatalf("got %s event %v, want %s", ev.str("type"), ev, typ)
		}
	}
}
