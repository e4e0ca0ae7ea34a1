package patch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
)

func kind(t *testing.T, apiVersion, k string) *scheme.Kind {
	t.Helper()
	kd, err := scheme.ByKind(apiVersion, k)
	if err != nil {
		t.Fatal(err)
	}
	return kd
}

// deployment is a stored Deployment with two containers, env, ports and
// volume mounts: the lists strategic merge patch merges by key.
const deployment = `{"apiVersion":"apps/v1","kind":"Deployment",
 "metadata":{"name":"web","namespace":"default","uid":"u1","resourceVersion":"5","labels":{"app":"web","tier":"fe"}},
 "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
  "template":{"metadata":{"labels":{"app":"web"}},
   "spec":{"containers":[
     {"name":"app","image":"nginx:1.0","ports":[{"containerPort":80},{"containerPort":443}],
      "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
      "volumeMounts":[{"name":"data","mountPath":"/data"}]},
     {"name":"sidecar","image":"busybox","args":["sleep","3600"]}],
    "volumes":[{"name":"data","emptyDir":{}}],
    "tolerations":[{"key":"k1","operator":"Exists"}]}}}}`

// field walks a decoded JSON object by keys and list indexes.
func field(t *testing.T, data []byte, path ...any) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch p := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[p]
		case int:
			l, ok := v.([]any)
			if !ok || p >= len(l) {
				return nil
			}
			v = l[p]
		}
	}
	return v
}

func names(t *testing.T, data []byte, path ...any) []string {
	t.Helper()
	l, _ := field(t, data, path...).([]any)
	var out []string
	for _, e := range l {
		m, _ := e.(map[string]any)
		switch {
		case m["mountPath"] != nil:
			out = append(out, m["mountPath"].(string))
		case m["name"] != nil:
			out = append(out, m["name"].(string))
		case m["containerPort"] != nil:
			out = append(out, jsonString(m["containerPort"]))
		case m["key"] != nil:
			out = append(out, m["key"].(string))
		}
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// decodes checks the result is a valid object of k for our codec.
func decodes(t *testing.T, k *scheme.Kind, data []byte) {
	t.Helper()
	if err := codec.UnmarshalJSON(data, k.New()); err != nil {
		t.Fatalf("result does not decode: %v\n%s", err, data)
	}
}

type check func(t *testing.T, out []byte)

func equals(want any, path ...any) check {
	return func(t *testing.T, out []byte) {
		t.Helper()
		got := field(t, out, path...)
		if jsonString(got) != jsonString(want) {
			t.Errorf("%v = %s, want %s", path, jsonString(got), jsonString(want))
		}
	}
}

func listKeys(want []string, path ...any) check {
	return func(t *testing.T, out []byte) {
		t.Helper()
		if got := names(t, out, path...); !reflect.DeepEqual(got, want) {
			t.Errorf("%v keys = %q, want %q", path, got, want)
		}
	}
}

var (
	containers = []any{"spec", "template", "spec", "containers"}
	app        = append(append([]any{}, containers...), 0)
)

func at(base []any, more ...any) []any { return append(append([]any{}, base...), more...) }

func TestApply(t *testing.T) {
	deploy := kind(t, "apps/v1", "Deployment")
	tests := []struct {
		name      string
		patchType string
		patch     string
		checks    []check
	}{
		// Strategic merge patch: lists merge by their Kubernetes merge keys.
		{"smp container image by name", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}`,
			[]check{listKeys([]string{"app", "sidecar"}, containers...), equals("busybox:2", at(containers, 1, "image")...),
				equals([]any{"sleep", "3600"}, at(containers, 1, "args")...), equals("nginx:1.0", at(app, "image")...)}},
		// Without $setElementOrder, Kubernetes puts the patch's items first.
		{"smp new container", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"log","image":"fluentd"}]}}}}`,
			[]check{listKeys([]string{"log", "app", "sidecar"}, containers...)}},
		{"smp env by name", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"B","value":"20"},{"name":"C","value":"3"}]}]}}}}`,
			[]check{listKeys([]string{"A", "B", "C"}, at(app, "env")...), equals("20", at(app, "env", 1, "value")...)}},
		{"smp ports by containerPort", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"app","ports":[{"containerPort":443,"name":"https"}]}]}}}}`,
			[]check{listKeys([]string{"80", "https"}, at(app, "ports")...)}},
		{"smp volumeMounts by mountPath", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"app","volumeMounts":[{"name":"cfg","mountPath":"/etc/cfg"}]}]}}}}`,
			[]check{listKeys([]string{"/etc/cfg", "/data"}, at(app, "volumeMounts")...)}},
		{"smp $patch delete container", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}`,
			[]check{listKeys([]string{"app"}, containers...)}},
		{"smp $patch replace list", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"only","image":"x"},{"$patch":"replace"}]}}}}`,
			[]check{listKeys([]string{"only"}, containers...)}},
		{"smp $patch replace map", StrategicMergePatchType,
			`{"metadata":{"labels":{"$patch":"replace","new":"1"}}}`,
			[]check{equals(map[string]any{"new": "1"}, "metadata", "labels")}},
		{"smp $setElementOrder", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"app"}],"containers":[{"name":"app","image":"nginx:2"}]}}}}`,
			[]check{listKeys([]string{"sidecar", "app"}, containers...), equals("nginx:2", at(containers, 1, "image")...)}},
		{"smp $deleteFromPrimitiveList", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$deleteFromPrimitiveList/args":["3600"]}]}}}}`,
			// args is atomic in Kubernetes' schema; the directive still
			// removes the value from the stored list.
			[]check{equals([]any{"sleep"}, at(containers, 1, "args")...)}},
		{"smp $retainKeys", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"volumes":[{"name":"data","$retainKeys":["name","hostPath"],"hostPath":{"path":"/mnt"}}]}}}}`,
			[]check{equals([]any{map[string]any{"name": "data", "hostPath": map[string]any{"path": "/mnt"}}}, "spec", "template", "spec", "volumes")}},
		{"smp null deletes a field", StrategicMergePatchType,
			`{"metadata":{"labels":{"tier":null}},"spec":{"replicas":null}}`,
			[]check{equals(map[string]any{"app": "web"}, "metadata", "labels"), equals(nil, "spec", "replicas")}},
		{"smp tolerations are atomic", StrategicMergePatchType,
			`{"spec":{"template":{"spec":{"tolerations":[{"key":"k2","operator":"Exists"}]}}}}`,
			[]check{listKeys([]string{"k2"}, "spec", "template", "spec", "tolerations")}},

		// JSON merge patch: maps merge, null deletes, lists are replaced.
		{"merge replicas", MergePatchType, `{"spec":{"replicas":5}}`,
			[]check{equals(5.0, "spec", "replicas"), listKeys([]string{"app", "sidecar"}, containers...)}},
		{"merge null deletes", MergePatchType, `{"metadata":{"labels":{"tier":null}}}`,
			[]check{equals(map[string]any{"app": "web"}, "metadata", "labels")}},
		{"merge list replaced whole", MergePatchType,
			`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}`,
			[]check{listKeys([]string{"sidecar"}, containers...)}},
		{"merge with charset parameter", MergePatchType + "; charset=utf-8", `{"spec":{"paused":true}}`,
			[]check{equals(true, "spec", "paused")}},

		// JSON patch (RFC 6902).
		{"json replace", JSONPatchType, `[{"op":"replace","path":"/spec/replicas","value":7}]`,
			[]check{equals(7.0, "spec", "replicas")}},
		{"json add to list end", JSONPatchType,
			`[{"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"Z","value":"26"}}]`,
			[]check{listKeys([]string{"A", "B", "Z"}, at(app, "env")...)}},
		{"json remove", JSONPatchType, `[{"op":"remove","path":"/spec/template/spec/containers/1"}]`,
			[]check{listKeys([]string{"app"}, containers...)}},
		{"json test then replace", JSONPatchType,
			`[{"op":"test","path":"/spec/replicas","value":2},{"op":"replace","path":"/spec/replicas","value":3}]`,
			[]check{equals(3.0, "spec", "replicas")}},
		{"json copy and move", JSONPatchType,
			`[{"op":"copy","from":"/metadata/labels/app","path":"/metadata/labels/copied"},{"op":"move","from":"/metadata/labels/tier","path":"/metadata/labels/moved"}]`,
			[]check{equals(map[string]any{"app": "web", "copied": "web", "moved": "fe"}, "metadata", "labels")}},
		{"json escaped path", JSONPatchType,
			`[{"op":"add","path":"/metadata/annotations","value":{}},{"op":"add","path":"/metadata/annotations/example.com~1note","value":"x"}]`,
			[]check{equals(map[string]any{"example.com/note": "x"}, "metadata", "annotations")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Apply(deploy, []byte(deployment), tt.patchType, []byte(tt.patch))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			decodes(t, deploy, out)
			for _, c := range tt.checks {
				c(t, out)
			}
		})
	}
}

func TestApplyErrors(t *testing.T) {
	deploy := kind(t, "apps/v1", "Deployment")
	tests := []struct {
		name       string
		patchType  string
		patch      string
		code       int32
		reason     string
		msgContain string
	}{
		{"unknown media type", "application/json", `{}`, 415, "UnsupportedMediaType",
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml"},
		{"json patch not a list", JSONPatchType, `{"op":"add"}`, 400, "BadRequest", "cannot unmarshal"},
		{"json patch bad json", JSONPatchType, `[{"op":`, 400, "BadRequest", "unexpected end"},
		{"json patch test fails", JSONPatchType, `[{"op":"test","path":"/spec/replicas","value":9}]`, 422, "Invalid", "test"},
		{"json patch missing path", JSONPatchType, `[{"op":"replace","path":"/spec/nothere/x","value":1}]`, 422, "Invalid", ""},
		{"json patch unknown op", JSONPatchType, `[{"op":"frob","path":"/spec"}]`, 422, "Invalid", "frob"},
		{"json patch unknown field", JSONPatchType, `[{"op":"add","path":"/spec/replicaz","value":1}]`, 400, "BadRequest", "spec.replicaz"},
		{"json patch changes kind", JSONPatchType, `[{"op":"replace","path":"/kind","value":"ReplicaSet"}]`, 400, "BadRequest", "apiVersion and kind"},
		{"merge bad json", MergePatchType, `{"spec":`, 400, "BadRequest", ""},
		{"merge not an object", MergePatchType, `[1]`, 400, "BadRequest", ""},
		{"merge wrong type", MergePatchType, `{"spec":{"replicas":"two"}}`, 400, "BadRequest", "spec.replicas"},
		{"smp bad json", StrategicMergePatchType, `{`, 400, "BadRequest", ""},
		{"smp bad $patch", StrategicMergePatchType, `{"spec":{"$patch":"frob"}}`, 400, "BadRequest", "frob"},
		{"smp list of lists", StrategicMergePatchType, `{"spec":{"template":{"spec":{"containers":[["x"]]}}}}`, 400, "BadRequest", ""},
		{"smp unknown field", StrategicMergePatchType, `{"spec":{"replicaz":1}}`, 400, "BadRequest", "spec.replicaz"},
		{"apply through Apply", ApplyPatchType, `{}`, 400, "BadRequest", "ServerSideApply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Apply(deploy, []byte(deployment), tt.patchType, []byte(tt.patch))
			se := assertStatus(t, err, tt.code, tt.reason, tt.msgContain)
			t.Logf("%d %s: %s", se.Status.Code, se.Status.Reason, se.Status.Message)
		})
	}
}

func assertStatus(t *testing.T, err error, code int32, reason, msgContain string) *apierrors.StatusError {
	t.Helper()
	se, ok := err.(*apierrors.StatusError)
	if !ok {
		t.Fatalf("error %v (%T) is not a StatusError", err, err)
	}
	if se.Status.Code != code || se.Status.Reason != reason {
		t.Errorf("got %d %s (%q), want %d %s", se.Status.Code, se.Status.Reason, se.Status.Message, code, reason)
	}
	if !strings.Contains(se.Status.Message, msgContain) {
		t.Errorf("message %q does not contain %q", se.Status.Message, msgContain)
	}
	return se
}

// A kind k8s.io/api does not have gets merge patch semantics for a strategic
// merge patch: lists are replaced whole.
func TestStrategicFallsBackToMergeForUnknownKinds(t *testing.T) {
	custom := &scheme.Kind{Group: "example.com", Version: "v1", Kind: "Deployment", Resource: "widgets",
		New: func() scheme.Object { return &appsv1.Deployment{} }}
	current := strings.Replace(deployment, `"apps/v1"`, `"example.com/v1"`, 1)
	out, err := Apply(custom, []byte(current), StrategicMergePatchType,
		[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	decodes(t, custom, out)
	listKeys([]string{"sidecar"}, containers...)(t, out)
	if got := field(t, out, at(containers, 0, "args")...); got != nil {
		t.Errorf("merged instead of replaced: args = %v", got)
	}
}
