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
	var queries []string
	srv := httptest.NewServer(fakeFront(t, Handler(), func(r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		queries = append(queries, r.Method+" "+r.URL.String())
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
}

// fakeFront serves legacy discovery for every registered kind, the OpenAPI
// handler, and answers a create by echoing the object.
func fakeFront(t *testing.T, openapi http.Handler, record func(*http.Request)) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/openapi/", openapi)
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(v); err != nil {
			t.Error(err)
		}
	}
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
		mux.HandleFunc(prefix, func(w http.ResponseWriter, r *http.Request) { reply(w, list) })
		mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
			record(r)
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost {
				w.WriteHeader(http.StatusNotFound)
				reply(w, map[string]any{"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404})
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write(body)
		})
	}
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []any{map[string]string{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
	})
	return mux
}
