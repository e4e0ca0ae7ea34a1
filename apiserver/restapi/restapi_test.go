package restapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "minik8s/api/all"
	"minik8s/apiserver/cache"
	_ "minik8s/apiserver/registry/all"
)

const pods = "/api/v1/namespaces/default/pods"

// TestVerbs walks one pod through every verb and the answers Kubernetes
// gives, in order.
func TestVerbs(t *testing.T) {
	s := newServer(t, cache.Options{})
	created := s.mustDo(http.StatusCreated, "POST", pods, podJSON("web", "web", ""))
	if created.str("metadata.uid") == "" || created.str("metadata.resourceVersion") == "" || created.str("metadata.namespace") != "default" {
		t.Fatalf("created pod lacks system fields: %v", created["metadata"])
	}
	rv := created.str("metadata.resourceVersion")

	t.Run("create again", func(t *testing.T) {
		wantStatus(t, s.do("POST", pods, podJSON("web", "web", "")), 409, "AlreadyExists", `pods "web" already exists`)
	})
	t.Run("get", func(t *testing.T) {
		got := s.mustDo(200, "GET", pods+"/web", "")
		if got.str("kind") != "Pod" || got.str("apiVersion") != "v1" || got.str("metadata.resourceVersion") != rv {
			t.Fatalf("get answered %v", got)
		}
	})
	t.Run("get missing", func(t *testing.T) {
		st := wantStatus(t, s.do("GET", pods+"/x", ""), 404, "NotFound", `pods "x" not found`)
		if st.str("details.name") != "x" || st.str("details.kind") != "pods" {
			t.Fatalf("details = %v, want name x kind pods", st["details"])
		}
	})
	t.Run("put with a stale resourceVersion", func(t *testing.T) {
		updated := s.mustDo(200, "PUT", pods+"/web", strings.Replace(podJSON("web", "web2", ""), `"name":"web",`, `"name":"web","resourceVersion":"`+rv+`",`, 1))
		if updated.str("metadata.labels.app") != "web2" || updated.str("metadata.resourceVersion") == rv {
			t.Fatalf("update answered %v", updated["metadata"])
		}
		stale := strings.Replace(podJSON("web", "web3", ""), `"name":"web",`, `"name":"web","resourceVersion":"`+rv+`",`, 1)
		wantStatus(t, s.do("PUT", pods+"/web", stale), 409, "Conflict", `Operation cannot be fulfilled on pods "web": the object has been modified`)
		if got := s.mustDo(200, "GET", pods+"/web", ""); got.str("metadata.labels.app") != "web2" {
			t.Fatalf("the refused update was stored: %v", got["metadata"])
		}
	})
	t.Run("put of another name", func(t *testing.T) {
		wantStatus(t, s.do("PUT", pods+"/web", podJSON("other", "web", "")), 400, "BadRequest", "does not match the name on the URL")
	})
	t.Run("delete", func(t *testing.T) {
		gone := s.mustDo(200, "DELETE", pods+"/web", "")
		if gone.str("metadata.name") != "web" {
			t.Fatalf("delete answered %v", gone)
		}
		wantStatus(t, s.do("GET", pods+"/web", ""), 404, "NotFound", `pods "web" not found`)
		wantStatus(t, s.do("DELETE", pods+"/web", ""), 404, "NotFound", `pods "web" not found`)
	})
	t.Run("unknown resource", func(t *testing.T) {
		wantStatus(t, s.do("GET", "/api/v1/namespaces/default/widgets", ""), 404, "NotFound", "")
	})
	t.Run("namespaced create without namespace", func(t *testing.T) {
		wantStatus(t, s.do("POST", "/api/v1/pods", podJSON("a", "a", "")), 400, "BadRequest", "namespace")
	})
	t.Run("create in a missing namespace", func(t *testing.T) {
		wantStatus(t, s.do("POST", "/api/v1/namespaces/nowhere/pods", podJSON("a", "a", "")), 404, "NotFound", `namespaces "nowhere" not found`)
	})
	t.Run("invalid object", func(t *testing.T) {
		r := s.do("POST", pods, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"web","image":"nginx"}]}}`)
		wantStatus(t, r, 422, "Invalid", "metadata.name")
	})
}

func TestList(t *testing.T) {
	s := newServer(t, cache.Options{})
	for _, p := range []struct{ name, app, node string }{
		{"a", "web", "node-1"}, {"b", "web", ""}, {"c", "db", "node-1"}, {"d", "db", ""}, {"e", "web", "node-2"},
	} {
		s.mustDo(201, "POST", pods, podJSON(p.name, p.app, p.node))
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"a", "b", "c", "d", "e"}},
		{"?labelSelector=app%3Dweb", []string{"a", "b", "e"}},
		{"?labelSelector=app+in+(db),app!%3Dweb", []string{"c", "d"}},
		{"?fieldSelector=spec.nodeName%3Dnode-1", []string{"a", "c"}},
		{"?fieldSelector=spec.nodeName%3D", []string{"b", "d"}},
		{"?fieldSelector=metadata.name%3Dd", []string{"d"}},
		{"?labelSelector=app%3Dweb&fieldSelector=spec.nodeName!%3D", []string{"a", "e"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			list := s.mustDo(200, "GET", pods+tc.query, "")
			if list.str("kind") != "PodList" || list.str("apiVersion") != "v1" || list.str("metadata.resourceVersion") == "" {
				t.Fatalf("list header: kind %q apiVersion %q metadata %v", list.str("kind"), list.str("apiVersion"), list["metadata"])
			}
			if got := list.names(); !slices.Equal(got, tc.want) {
				t.Fatalf("names %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("all namespaces", func(t *testing.T) {
		if got := s.mustDo(200, "GET", "/api/v1/pods", "").names(); len(got) != 5 {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("limit and continue", func(t *testing.T) {
		var got []string
		path := pods + "?limit=2"
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("too many pages")
			}
			page := s.mustDo(200, "GET", path, "")
			if n := len(page.names()); n > 2 {
				t.Fatalf("page of %d items with limit 2", n)
			}
			got = append(got, page.names()...)
			cont := page.str("metadata.continue")
			if cont == "" {
				break
			}
			path = pods + "?limit=2&continue=" + cont
		}
		if !slices.Equal(got, []string{"a", "b", "c", "d", "e"}) {
			t.Fatalf("pages gave %v", got)
		}
	})
	t.Run("unsupported field selector", func(t *testing.T) {
		wantStatus(t, s.do("GET", pods+"?fieldSelector=spec.foo%3Dbar", ""), 400, "BadRequest", "field label not supported: spec.foo")
	})
	t.Run("bad label selector", func(t *testing.T) {
		wantStatus(t, s.do("GET", pods+"?labelSelector=app+in+(", ""), 400, "BadRequest", "")
	})
	t.Run("bad limit", func(t *testing.T) {
		wantStatus(t, s.do("GET", pods+"?limit=-1", ""), 400, "BadRequest", "limit")
	})
}

func TestPatch(t *testing.T) {
	s := newServer(t, cache.Options{})
	s.mustDo(201, "POST", pods, podJSON("p", "web", ""))
	const deploy = "/apis/apps/v1/namespaces/default/deployments"
	s.mustDo(201, "POST", deploy, deploymentJSON)

	tests := []struct {
		name        string
		path        string
		contentType string
		query       string
		body        string
		code        int
		check       func(t *testing.T, o obj)
	}{
		{"json patch", pods + "/p", "application/json-patch+json", "",
			`[{"op":"add","path":"/metadata/labels/tier","value":"front"}]`, 200,
			func(t *testing.T, o obj) {
				if o.str("metadata.labels.tier") != "front" || o.str("metadata.labels.app") != "web" {
					t.Fatalf("labels %v", o.get("metadata.labels"))
				}
			}},
		{"merge patch", pods + "/p", "application/merge-patch+json", "",
			`{"metadata":{"labels":{"tier":null,"env":"prod"}}}`, 200,
			func(t *testing.T, o obj) {
				if o.get("metadata.labels.tier") != nil || o.str("metadata.labels.env") != "prod" {
					t.Fatalf("labels %v", o.get("metadata.labels"))
				}
			}},
		{"strategic merge patch merges containers by name", deploy + "/web", "application/strategic-merge-patch+json", "",
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.36"}]}}}}`, 200,
			func(t *testing.T, o obj) {
				var names []string
				for _, c := range o.list("spec.template.spec.containers") {
					names = append(names, obj(c.(map[string]any)).str("name"))
				}
				if !slices.Equal(names, []string{"sidecar", "web"}) && !slices.Equal(names, []string{"web", "sidecar"}) {
					t.Fatalf("containers %v, want web and sidecar", names)
				}
				if g, _ := o.get("metadata.generation").(float64); g != 2 {
					t.Fatalf("generation %v after a spec patch, want 2", o.get("metadata.generation"))
				}
			}},
		{"server-side apply (forced over the creator)", deploy + "/web", "application/apply-patch+yaml", "?fieldManager=tester&force=true",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n", 200,
			func(t *testing.T, o obj) {
				if r, _ := o.get("spec.replicas").(float64); r != 3 {
					t.Fatalf("replicas %v, want 3", o.get("spec.replicas"))
				}
				found := false
				for _, m := range o.list("metadata.managedFields") {
					e := obj(m.(map[string]any))
					found = found || (e.str("manager") == "tester" && e.str("operation") == "Apply")
				}
				if !found {
					t.Fatalf("no Apply entry of manager tester in %v", o.get("metadata.managedFields"))
				}
			}},
		{"server-side apply conflicting with another manager", deploy + "/web", "application/apply-patch+yaml", "?fieldManager=other",
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 5\n", 409, nil},
		{"server-side apply creates", "/api/v1/namespaces/default/configmaps/applied", "application/apply-patch+yaml", "?fieldManager=tester",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n", 201,
			func(t *testing.T, o obj) {
				if o.str("data.k") != "v" {
					t.Fatalf("applied configmap %v", o)
				}
			}},
		{"status subresource takes only the status", pods + "/p/status", "application/merge-patch+json", "",
			`{"metadata":{"labels":{"via":"status"}},"spec":{"nodeName":"node-9"},"status":{"phase":"Running"}}`, 200,
			func(t *testing.T, o obj) {
				if o.str("status.phase") != "Running" || o.str("spec.nodeName") != "" || o.str("metadata.labels.via") != "" {
					t.Fatalf("phase %q nodeName %q labels %v", o.str("status.phase"), o.str("spec.nodeName"), o.get("metadata.labels"))
				}
			}},
		{"main resource ignores the status", pods + "/p", "application/merge-patch+json", "",
			`{"status":{"phase":"Failed"}}`, 200,
			func(t *testing.T, o obj) {
				if o.str("status.phase") != "Running" {
					t.Fatalf("phase %q, want Running kept", o.str("status.phase"))
				}
			}},
		{"apply without fieldManager", deploy + "/web", "application/apply-patch+yaml", "",
			"spec:\n  replicas: 2\n", 400, nil},
		{"unsupported patch type", pods + "/p", "text/plain", "", `x`, 415, nil},
		{"malformed json patch", pods + "/p", "application/json-patch+json", "", `{"op":`, 400, nil},
		{"patch of a missing object", pods + "/missing", "application/merge-patch+json", "", `{}`, 404, nil},
		{"patch to an unknown field", pods + "/p", "application/merge-patch+json", "", `{"spec":{"foo":1}}`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do("PATCH", tc.path+tc.query, tc.body, "Content-Type: "+tc.contentType)
			if r.code != tc.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tc.code)
			}
			if tc.check == nil {
				wantStatus(t, r, tc.code, r.obj(t).str("reason"), "")
				return
			}
			tc.check(t, r.obj(t))
			// What was answered is what is stored.
			stored := s.mustDo(200, "GET", tc.path, "")
			if stored.str("metadata.resourceVersion") != r.obj(t).str("metadata.resourceVersion") {
				t.Fatalf("stored rv %s, answered %s", stored.str("metadata.resourceVersion"), r.obj(t).str("metadata.resourceVersion"))
			}
		})
	}
}

const configMaps = "/api/v1/namespaces/default/configmaps"

func TestDeleteOptions(t *testing.T) {
	s := newServer(t, cache.Options{})
	tests := []struct {
		name       string
		query      string
		body       func(cur obj) string
		code       int
		reason     string
		kept       bool
		finalizers []string
	}{
		{"uid precondition holds", "", func(cur obj) string {
			return `{"preconditions":{"uid":"` + cur.str("metadata.uid") + `"}}`
		}, 200, "", false, nil},
		{"uid precondition fails", "", func(obj) string { return `{"preconditions":{"uid":"not-the-uid"}}` }, 409, "Conflict", true, nil},
		{"resourceVersion precondition holds", "", func(cur obj) string {
			return `{"preconditions":{"resourceVersion":"` + cur.str("metadata.resourceVersion") + `"}}`
		}, 200, "", false, nil},
		{"resourceVersion precondition fails", "", func(obj) string { return `{"preconditions":{"resourceVersion":"1"}}` }, 409, "Conflict", true, nil},
		{"propagationPolicy Background", "?propagationPolicy=Background", nil, 200, "", false, nil},
		{"propagationPolicy Foreground", "?propagationPolicy=Foreground", nil, 200, "", true, []string{"foregroundDeletion"}},
		{"propagationPolicy Orphan in the body", "", func(obj) string {
			return `{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"}`
		}, 200, "", true, []string{"orphan"}},
		{"orphanDependents", "", func(obj) string { return `{"orphanDependents":true}` }, 200, "", true, []string{"orphan"}},
		{"invalid propagationPolicy", "?propagationPolicy=Sometimes", nil, 400, "BadRequest", true, nil},
		{"negative gracePeriodSeconds", "?gracePeriodSeconds=-1", nil, 422, "Invalid", true, nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "cm" + string(rune('a'+i))
			cur := s.mustDo(201, "POST", configMaps, configMapJSON(name, nil))
			body := ""
			if tc.body != nil {
				body = tc.body(cur)
			}
			r := s.do("DELETE", configMaps+"/"+name+tc.query, body)
			if tc.reason != "" {
				wantStatus(t, r, tc.code, tc.reason, "")
			} else if r.code != tc.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tc.code)
			}
			after := s.do("GET", configMaps+"/"+name, "")
			if kept := after.code == 200; kept != tc.kept {
				t.Fatalf("kept = %v, want %v (%s)", kept, tc.kept, after.body)
			}
			if tc.finalizers != nil {
				o := after.obj(t)
				var got []string
				for _, f := range o.list("metadata.finalizers") {
					got = append(got, f.(string))
				}
				if !slices.Equal(got, tc.finalizers) || o.str("metadata.deletionTimestamp") == "" {
					t.Fatalf("finalizers %v deletionTimestamp %q, want %v and set", got, o.str("metadata.deletionTimestamp"), tc.finalizers)
				}
			}
		})
	}
}

func TestDeleteCollection(t *testing.T) {
	s := newServer(t, cache.Options{})
	for _, c := range []struct{ name, tier string }{{"a", "front"}, {"b", "front"}, {"c", "back"}} {
		s.mustDo(201, "POST", configMaps, configMapJSON(c.name, map[string]string{"tier": c.tier}))
	}
	deleted := s.mustDo(200, "DELETE", configMaps+"?labelSelector=tier%3Dfront", "")
	if deleted.str("kind") != "ConfigMapList" || !slices.Equal(deleted.names(), []string{"a", "b"}) {
		t.Fatalf("deletecollection answered %s %v", deleted.str("kind"), deleted.names())
	}
	if left := s.mustDo(200, "GET", configMaps, "").names(); !slices.Equal(left, []string{"c"}) {
		t.Fatalf("left %v, want c", left)
	}
}

// TestDryRun: dryRun=All answers every write as it would be and stores
// nothing (the storage revision does not move).
func TestDryRun(t *testing.T) {
	s := newServer(t, cache.Options{})
	cur := s.mustDo(201, "POST", configMaps, configMapJSON("cm", map[string]string{"a": "1"}))
	rv := cur.str("metadata.resourceVersion")
	tests := []struct {
		name, method, path, body, contentType string
		code                                  int
	}{
		{"create", "POST", configMaps, configMapJSON("new", nil), "application/json", 201},
		{"update", "PUT", configMaps + "/cm", strings.Replace(configMapJSON("cm", map[string]string{"a": "2"}), `"name":"cm"`, `"name":"cm","resourceVersion":"`+rv+`"`, 1), "application/json", 200},
		{"patch", "PATCH", configMaps + "/cm", `{"metadata":{"labels":{"a":"3"}}}`, "application/merge-patch+json", 200},
		{"apply", "PATCH", configMaps + "/applied", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n", "application/apply-patch+yaml", 201},
		{"delete", "DELETE", configMaps + "/cm", "", "application/json", 200},
		{"deletecollection", "DELETE", configMaps, "", "application/json", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.revision()
			r := s.do(tc.method, tc.path+"?dryRun=All&fieldManager=tester", tc.body, "Content-Type: "+tc.contentType)
			if r.code != tc.code {
				t.Fatalf("%d %s, want %d", r.code, r.body, tc.code)
			}
			if after := s.revision(); after != before {
				t.Fatalf("dry run wrote: revision %d -> %d", before, after)
			}
		})
	}
	got := s.mustDo(200, "GET", configMaps, "")
	if !slices.Equal(got.names(), []string{"cm"}) || got.str("items.0.metadata.labels.a") != "1" {
		t.Fatalf("after dry runs: %v", got["items"])
	}
}

func TestFieldValidation(t *testing.T) {
	s := newServer(t, cache.Options{})
	body := func(name string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"},"spec":{"foo":1,"containers":[{"name":"web","image":"nginx"}]}}`
	}
	t.Run("Strict", func(t *testing.T) {
		wantStatus(t, s.do("POST", pods+"?fieldValidation=Strict", body("a")), 400, "BadRequest", `strict decoding error: unknown field "spec.foo"`)
	})
	t.Run("default is strict", func(t *testing.T) {
		wantStatus(t, s.do("POST", pods, body("b")), 400, "BadRequest", `unknown field "spec.foo"`)
	})
	t.Run("Warn", func(t *testing.T) {
		r := s.do("POST", pods+"?fieldValidation=Warn", body("c"))
		if r.code != 201 {
			t.Fatalf("%d %s", r.code, r.body)
		}
		if w := r.header.Get("Warning"); !strings.HasPrefix(w, "299 - ") || !strings.Contains(w, "spec.foo") {
			t.Fatalf("Warning header %q", w)
		}
	})
	t.Run("Ignore", func(t *testing.T) {
		r := s.do("POST", pods+"?fieldValidation=Ignore", body("d"))
		if r.code != 201 || r.header.Get("Warning") != "" {
			t.Fatalf("%d warning %q", r.code, r.header.Get("Warning"))
		}
	})
	t.Run("unknown mode", func(t *testing.T) {
		wantStatus(t, s.do("POST", pods+"?fieldValidation=Loose", body("e")), 400, "BadRequest", "fieldValidation")
	})
	t.Run("wrong kind", func(t *testing.T) {
		wantStatus(t, s.do("POST", pods, configMapJSON("f", nil)), 400, "BadRequest", "")
	})
	t.Run("yaml body", func(t *testing.T) {
		s.mustDo(201, "POST", pods, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: from-yaml\nspec:\n  containers:\n  - name: web\n    image: nginx\n",
			"Content-Type: application/yaml")
	})
}

func TestWatch(t *testing.T) {
	s := newServer(t, cache.Options{})
	created := s.mustDo(201, "POST", pods, podJSON("a", "web", ""))
	rv := created.str("metadata.resourceVersion")

	t.Run("events from a resourceVersion", func(t *testing.T) {
		w := s.watch(pods + "?watch=true&resourceVersion=" + rv)
		s.mustDo(201, "POST", pods, podJSON("b", "web", ""))
		s.mustDo(200, "PATCH", pods+"/a", `{"metadata":{"labels":{"x":"1"}}}`, "Content-Type: application/merge-patch+json")
		s.mustDo(200, "DELETE", pods+"/b", "")
		for _, want := range []struct{ typ, name string }{{"ADDED", "b"}, {"MODIFIED", "a"}, {"DELETED", "b"}} {
			ev := w.nextOf(want.typ)
			if ev.str("object.metadata.name") != want.name || ev.str("object.kind") != "Pod" {
				t.Fatalf("%s event for %v, want %s", want.typ, ev.get("object.metadata.name"), want.name)
			}
		}
	})
	t.Run("label selector", func(t *testing.T) {
		w := s.watch(pods + "?watch=1&labelSelector=app%3Ddb&resourceVersion=" + rv)
		s.mustDo(201, "POST", pods, podJSON("web-1", "web", ""))
		s.mustDo(201, "POST", pods, podJSON("db-1", "db", ""))
		if ev := w.nextOf("ADDED"); ev.str("object.metadata.name") != "db-1" {
			t.Fatalf("got %v", ev.get("object.metadata.name"))
		}
	})
	t.Run("one object by name", func(t *testing.T) {
		// GET .../pods/NAME?watch=1: Kubernetes' older form of a watch
		// narrowed with fieldSelector=metadata.name=NAME.
		w := s.watch(pods + "/named?watch=1&resourceVersion=" + rv)
		s.mustDo(201, "POST", pods, podJSON("other", "web", ""))
		s.mustDo(201, "POST", pods, podJSON("named", "web", ""))
		if ev := w.nextOf("ADDED"); ev.str("object.metadata.name") != "named" {
			t.Fatalf("watch of pod named got an event for %v", ev.get("object.metadata.name"))
		}
	})
	t.Run("bookmarks", func(t *testing.T) {
		w := s.watch(pods + "?watch=1&allowWatchBookmarks=true&resourceVersion=" + rv)
		// A write to another kind moves the revision; the pods cache learns
		// it from a progress event and bookmarks it.
		cm := s.mustDo(201, "POST", configMaps, configMapJSON("bump", nil))
		deadline := time.After(5 * time.Second)
		for {
			select {
			case <-deadline:
				t.Fatal("no bookmark at the configmap's revision")
			default:
			}
			ev, ok := w.next()
			if !ok {
				t.Fatal("watch ended")
			}
			if ev.str("type") == "BOOKMARK" && atoi(ev.str("object.metadata.resourceVersion")) >= atoi(cm.str("metadata.resourceVersion")) {
				if ev.str("object.kind") != "Pod" || ev.str("object.apiVersion") != "v1" {
					t.Fatalf("bookmark object %v, want an empty Pod", ev["object"])
				}
				return
			}
		}
	})
	t.Run("sendInitialEvents", func(t *testing.T) {
		w := s.watch(pods + "?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan")
		var added []string
		for {
			ev, ok := w.next()
			if !ok {
				t.Fatal("watch ended")
			}
			if ev.str("type") == "ADDED" {
				added = append(added, ev.str("object.metadata.name"))
				continue
			}
			if ev.str("type") != "BOOKMARK" {
				t.Fatalf("got %v before the initial-events-end bookmark", ev)
			}
			ann, _ := ev.get("object.metadata.annotations").(map[string]any)
			if ann["k8s.io/initial-events-end"] != "true" {
				t.Fatalf("bookmark annotations %v", ann)
			}
			break
		}
		if !slices.Equal(added, []string{"a", "db-1", "named", "other", "web-1"}) {
			t.Fatalf("initial events for %v", added)
		}
	})
	t.Run("timeoutSeconds ends the stream", func(t *testing.T) {
		start := time.Now()
		w := s.watch(pods + "?watch=1&timeoutSeconds=1&resourceVersion=" + rv)
		for {
			if _, ok := w.next(); !ok {
				break
			}
		}
		if d := time.Since(start); d < 900*time.Millisecond || d > 4*time.Second {
			t.Fatalf("stream ended after %v, want about 1s", d)
		}
	})
	t.Run("Table", func(t *testing.T) {
		w := s.watch(pods+"?watch=1&resourceVersion="+rv, "Accept: application/json;as=Table;v=v1;g=meta.k8s.io")
		s.mustDo(201, "POST", pods, podJSON("t", "web", ""))
		ev := w.nextOf("ADDED")
		if ev.str("object.kind") != "Table" || len(ev.list("object.rows")) != 1 {
			t.Fatalf("table watch event %v", ev)
		}
	})
}

// TestWatchExpired: a resourceVersion older than the cache's history is
// an ERROR event carrying a 410 Expired Status, as Kubernetes sends it.
func TestWatchExpired(t *testing.T) {
	s := newServer(t, cache.Options{History: 2})
	first := s.mustDo(201, "POST", pods, podJSON("a", "web", ""))
	for _, name := range []string{"b", "c", "d", "e"} {
		s.mustDo(201, "POST", pods, podJSON(name, "web", ""))
	}
	// A consistent list waits until the watch cache has every create, so
	// its short history no longer reaches back to the first.
	s.mustDo(200, "GET", pods, "")
	s.mem.Compact(s.revision())
	w := s.watch(pods + "?watch=1&resourceVersion=" + first.str("metadata.resourceVersion"))
	ev, ok := w.next()
	if !ok {
		t.Fatal("watch ended without an event")
	}
	if ev.str("type") != "ERROR" || ev.str("object.kind") != "Status" || ev.str("object.reason") != "Expired" {
		t.Fatalf("got %v, want an ERROR event with an Expired Status", ev)
	}
	if c, _ := ev.get("object.code").(float64); c != 410 {
		t.Fatalf("code %v, want 410", ev.get("object.code"))
	}
	if !strings.Contains(ev.str("object.message"), "too old resource version") {
		t.Fatalf("message %q", ev.str("object.message"))
	}
	if _, ok := w.next(); ok {
		t.Fatal("the stream went on after the ERROR event")
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

const tableAccept = "Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

func TestTable(t *testing.T) {
	s := newServer(t, cache.Options{})
	s.mustDo(201, "POST", pods, podJSON("a", "web", "node-1"))
	s.mustDo(201, "POST", pods, podJSON("b", "web", ""))
	tests := []struct {
		path string
		rows int
	}{
		{pods, 2},
		{pods + "/a", 1},
		{pods + "?includeObject=Object", 2},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			tbl := s.mustDo(200, "GET", tc.path, "", tableAccept)
			if tbl.str("kind") != "Table" || tbl.str("apiVersion") != "meta.k8s.io/v1" {
				t.Fatalf("kind %q apiVersion %q", tbl.str("kind"), tbl.str("apiVersion"))
			}
			cols := tbl.list("columnDefinitions")
			if len(cols) == 0 || obj(cols[0].(map[string]any)).str("name") != "Name" {
				t.Fatalf("columnDefinitions %v", cols)
			}
			rows := tbl.list("rows")
			if len(rows) != tc.rows {
				t.Fatalf("%d rows, want %d", len(rows), tc.rows)
			}
			row := obj(rows[0].(map[string]any))
			if len(row.list("cells")) != len(cols) || row.str("cells.0") != "a" {
				t.Fatalf("row %v for columns %d", row, len(cols))
			}
			want := "PartialObjectMetadata"
			if strings.Contains(tc.path, "includeObject=Object") {
				want = "Pod"
			}
			if row.str("object.kind") != want || row.str("object.metadata.name") != "a" {
				t.Fatalf("row object %v, want a %s", row["object"], want)
			}
		})
	}
}

func TestDiscovery(t *testing.T) {
	s := newServer(t, cache.Options{})
	resources := func(o obj) map[string]obj {
		out := map[string]obj{}
		for _, r := range o.list("resources") {
			ro := obj(r.(map[string]any))
			out[ro.str("name")] = ro
		}
		return out
	}
	t.Run("/api", func(t *testing.T) {
		o := s.mustDo(200, "GET", "/api", "")
		if o.str("kind") != "APIVersions" || o.str("versions.0") != "v1" {
			t.Fatalf("%v", o)
		}
	})
	t.Run("/api/v1", func(t *testing.T) {
		o := s.mustDo(200, "GET", "/api/v1", "")
		rs := resources(o)
		p, ok := rs["pods"]
		if o.str("kind") != "APIResourceList" || o.str("groupVersion") != "v1" || !ok {
			t.Fatalf("%s %s pods=%v", o.str("kind"), o.str("groupVersion"), ok)
		}
		var verbs []string
		for _, v := range p.list("verbs") {
			verbs = append(verbs, v.(string))
		}
		for _, v := range []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"} {
			if !slices.Contains(verbs, v) {
				t.Fatalf("pods verbs %v lack %s", verbs, v)
			}
		}
		if p.str("kind") != "Pod" || p.get("namespaced") != true || p.str("singularName") != "pod" {
			t.Fatalf("pods %v", p)
		}
		if _, ok := rs["pods/status"]; !ok {
			t.Fatal("no pods/status")
		}
		if b, ok := rs["pods/binding"]; !ok || b.str("kind") != "Binding" {
			t.Fatalf("pods/binding %v", b)
		}
	})
	t.Run("/apis", func(t *testing.T) {
		o := s.mustDo(200, "GET", "/apis", "")
		var groups []string
		for _, g := range o.list("groups") {
			groups = append(groups, obj(g.(map[string]any)).str("name"))
		}
		if o.str("kind") != "APIGroupList" || !slices.Contains(groups, "apps") || slices.Contains(groups, "") {
			t.Fatalf("%s groups %v", o.str("kind"), groups)
		}
	})
	t.Run("/apis/apps", func(t *testing.T) {
		o := s.mustDo(200, "GET", "/apis/apps", "")
		if o.str("kind") != "APIGroup" || o.str("preferredVersion.groupVersion") != "apps/v1" {
			t.Fatalf("%v", o)
		}
	})
	t.Run("/apis/apps/v1", func(t *testing.T) {
		o := s.mustDo(200, "GET", "/apis/apps/v1", "")
		if d, ok := resources(o)["deployments"]; o.str("groupVersion") != "apps/v1" || !ok || d.str("kind") != "Deployment" {
			t.Fatalf("%v", o)
		}
	})
	t.Run("/apis/nothing/v1", func(t *testing.T) {
		wantStatus(t, s.do("GET", "/apis/nothing/v1", ""), 404, "NotFound", "")
	})
	for _, path := range []string{"/api", "/apis"} {
		t.Run("aggregated "+path, func(t *testing.T) {
			r := s.do("GET", path, "", "Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
			if r.code != 200 || !strings.Contains(r.header.Get("Content-Type"), "as=APIGroupDiscoveryList") {
				t.Fatalf("%d %q", r.code, r.header.Get("Content-Type"))
			}
			o := r.obj(t)
			if o.str("kind") != "APIGroupDiscoveryList" || o.str("apiVersion") != "apidiscovery.k8s.io/v2" {
				t.Fatalf("%s %s", o.str("kind"), o.str("apiVersion"))
			}
			want := "pods"
			if path == "/apis" {
				want = "deployments"
			}
			found := false
			for _, g := range o.list("items") {
				for _, v := range obj(g.(map[string]any)).list("versions") {
					for _, res := range obj(v.(map[string]any)).list("resources") {
						ro := obj(res.(map[string]any))
						if ro.str("resource") == want {
							found = ro.str("scope") == "Namespaced" && ro.str("responseKind.kind") != ""
						}
					}
				}
			}
			if !found {
				t.Fatalf("no namespaced %s in %s", want, r.body)
			}
		})
	}
}
