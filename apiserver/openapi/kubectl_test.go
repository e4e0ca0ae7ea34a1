package openapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"minik8s/api/scheme"
)

// TestKubectl runs the real kubectl (skipped when it is not installed)
// against the documents, behind a stand-in for the rest of the REST front:
// legacy discovery and a create that records its query.
func TestKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed")
	}
	var mu sync.Mutex
	var queries, patches []string
	srv := httptest.NewServer(fakeFront(t, Handler(), func(r *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, r.Method+" "+r.URL.String())
		if r.Method == http.MethodPatch {
			patches = append(patches, r.Header.Get("Content-Type")+" "+string(body))
		}
	}))
	defer srv.Close()
	cache := t.TempDir()
	run := func(t *testing.T, stdin string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--server=" + srv.URL, "--cache-dir=" + cache}, args...)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(cache, "none"), "HOME="+cache)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"explain v3", []string{"explain", "pods.spec.containers"}, []string{"Container is one container of a pod.", "name\t<string> -required-"}},
		{"explain v2 (protobuf)", []string{"explain", "--output=plaintext-openapiv2", "deployments.spec.template.spec.containers.ports"}, []string{"containerPort\t<integer> -required-"}},
		{"explain IntOrString", []string{"explain", "services.spec.ports.targetPort"}, []string{"<IntOrString>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, "", tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	// kubectl validates a manifest against the OpenAPI schema itself
	// unless the OpenAPI says the server does (fieldValidation on the
	// kind's PATCH): then an unknown field reaches the server, with
	// fieldValidation=Strict, for the server to reject.
	t.Run("create --validate=strict leaves validation to the server", func(t *testing.T) {
		run(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":{"bogus":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}}}`,
			"create", "--validate=strict", "-f", "-")
		mu.Lock()
		defer mu.Unlock()
		for _, q := range queries {
			if strings.HasPrefix(q, "POST /apis/apps/v1/namespaces/default/deployments?") && strings.Contains(q, "fieldValidation=Strict") {
				return
			}
		}
		t.Errorf("no POST with fieldValidation=Strict; requests: %v", queries)
	})

	// kubectl apply builds a strategic merge patch from the OpenAPI's
	// merge keys: containers and env are merged by name.
	t.Run("apply merges lists by their keys", func(t *testing.T) {
		pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},"spec":{"containers":[{"name":"c","image":"nginx","env":[{"name":"A","value":"%s"}]}]}}`
		run(t, strings.Replace(pod, "%s", "1", 1), "apply", "-f", "-")
		run(t, strings.Replace(pod, "%s", "2", 1), "apply", "-f", "-")
		mu.Lock()
		defer mu.Unlock()
		if len(patches) == 0 {
			t.Fatalf("no PATCH; requests: %v", queries)
		}
		last := patches[len(patches)-1]
		for _, want := range []string{"application/strategic-merge-patch+json ", `"$setElementOrder/containers":[{"name":"c"}]`, `"$setElementOrder/env":[{"name":"A"}]`} {
			if !strings.Contains(last, want) {
				t.Errorf("patch lacks %s:\n%s", want, last)
			}
		}
	})
}

// fakeFront serves legacy discovery for every registered kind, the OpenAPI
// handler, and a store of the objects created: POST keeps one, GET returns
// it, PATCH returns it unchanged; record sees every resource request.
func fakeFront(t *testing.T, openapi http.Handler, record func(r *http.Request, body []byte)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/openapi/", openapi)
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if err := json.NewEncoder(w).Encode(v); err != nil {
			t.Error(err)
		}
	}
	notFound := map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
	var mu sync.Mutex
	store := map[string]json.RawMessage{} // by item path
	byGV := map[string][]map[string]any{}
	for _, k := range scheme.All() {
		byGV[k.APIVersion()] = append(byGV[k.APIVersion()], map[string]any{
			"name": k.Resource, "singularName": strings.ToLower(k.Kind), "namespaced": k.Namespaced, "kind": k.Kind,
			"verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"}, "shortNames": k.ShortNames,
		})
	}
	var groups []any
	for gv, resources := range byGV {
		prefix := "/api/" + gv
		if g, v, ok := strings.Cut(gv, "/"); ok {
			prefix = "/apis/" + gv
			ver := map[string]string{"groupVersion": gv, "version": v}
			groups = append(groups, map[string]any{"name": g, "versions": []any{ver}, "preferredVersion": ver})
		}
		list := map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
		mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) { reply(w, 200, list) })
		mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			record(r, body)
			mu.Lock()
			defer mu.Unlock()
			switch r.Method {
			case http.MethodPost:
				var o struct {
					Metadata struct{ Name string } `json:"metadata"`
				}
				if err := json.Unmarshal(body, &o); err != nil {
					reply(w, 400, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 400, "message": err.Error()})
					return
				}
				store[r.URL.Path+"/"+o.Metadata.Name] = body
				reply(w, 201, json.RawMessage(body))
			case http.MethodGet, http.MethodPatch:
				if o, ok := store[r.URL.Path]; ok {
					reply(w, 200, o)
					return
				}
				reply(w, 404, notFound)
			default:
				reply(w, 404, notFound)
			}
		})
	}
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []any{map[string]string{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
	})
	return mux
}
