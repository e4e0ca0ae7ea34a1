package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "minik8s/api/all"
	appsv1 "minik8s/api/apps/v1"
	coordinationv1 "minik8s/api/coordination/v1"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

const podHead = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n"
const deployHead = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n"

// TestDecodeErrors checks that strict decoding names the field path.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown top-level field", podHead + "spec2: {}\n", `spec2: unknown field "spec2"`},
		{"unknown nested field", podHead + "spec:\n  containers:\n  - name: a\n    imagee: nginx\n",
			`spec.containers[0].imagee: unknown field "imagee"`},
		{"unknown deep in a template", deployHead + "spec:\n  template:\n    spec:\n      containers:\n      - name: a\n      - name: b\n        ports:\n        - containerPortt: 80\n",
			`spec.template.spec.containers[1].ports[0].containerPortt: unknown field "containerPortt"`},
		{"field names are case-sensitive", podHead + "spec:\n  Containers: []\n", `spec.Containers: unknown field "Containers"`},
		{"string for an integer", deployHead + "spec:\n  replicas: \"3\"\n", "spec.replicas: expected an integer, got string"},
		{"boolean for an integer", deployHead + "spec:\n  replicas: true\n", "spec.replicas: expected an integer, got boolean"},
		{"fraction for an integer", deployHead + "spec:\n  replicas: 1.5\n", "spec.replicas: expected an integer, got 1.5"},
		{"int32 overflow", deployHead + "spec:\n  replicas: 3000000000\n", "spec.replicas: integer 3000000000 is out of range for int32"},
		{"int32 underflow", deployHead + "spec:\n  replicas: -2147483649\n", "spec.replicas: integer -2147483649 is out of range for int32"},
		{"int32 overflow as a float", deployHead + "spec:\n  replicas: 3e9\n", "spec.replicas: integer 3000000000 is out of range for int32"},
		{"int64 overflow", podHead + "  generation: 99999999999999999999\n", "metadata.generation: integer 100000000000000000000 is out of range for int64"},
		{"year 0000", podHead + "status:\n  startTime: \"0000-01-01T00:00:00Z\"\n", "status.startTime: invalid time \"0000-01-01T00:00:00Z\": timestamp -62167219200 s is outside years 0001-9999"},
		{"past 9999 by its offset", podHead + "status:\n  startTime: \"9999-12-31T23:59:59-01:00\"\n", "is outside years 0001-9999"},
		{"object for a string", podHead + "spec:\n  nodeName: {a: b}\n", "spec.nodeName: expected a string, got object"},
		{"object for an array", podHead + "spec:\n  containers:\n    name: a\n", "spec.containers: expected an array, got object"},
		{"array for an object", podHead + "spec: []\n", "spec: expected an object, got array"},
		{"string for a boolean", podHead + "spec:\n  hostNetwork: \"true\"\n", "spec.hostNetwork: expected a boolean, got string"},
		{"number in a label", "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    version: 1.2\n", "metadata.labels[version]: expected a string, got number"},
		{"number for a non-quantity string", podHead + "spec:\n  containers:\n  - name: a\n    image: 3\n", "spec.containers[0].image: expected a string, got number"},
		{"number in a non-quantity map", podHead + "spec:\n  nodeSelector:\n    zone: 1\n", "spec.nodeSelector[zone]: expected a string, got number"},
		{"bad quantity type", podHead + "spec:\n  containers:\n  - name: a\n    resources:\n      limits:\n        cpu: [1]\n",
			"spec.containers[0].resources.limits[cpu]: expected a string, got array"},
		{"int-or-string boolean", podHead + "spec:\n  containers:\n  - name: a\n    livenessProbe:\n      httpGet:\n        port: true\n",
			"spec.containers[0].livenessProbe.httpGet.port: expected an integer or a string, got boolean"},
		{"int-or-string fraction", deployHead + "spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: 1.5\n",
			"spec.strategy.rollingUpdate.maxSurge: expected an integer or a string, got 1.5"},
		{"int-or-string overflow", deployHead + "spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: 4294967296\n",
			"spec.strategy.rollingUpdate.maxSurge: expected an integer or a string, got 4294967296"},
		{"bad base64", "apiVersion: v1\nkind: Secret\ndata:\n  password: not*base64\n", "data[password]: invalid base64 data"},
		{"bytes as a number", "apiVersion: v1\nkind: Secret\ndata:\n  password: 12\n", "data[password]: expected a base64 string, got number"},
		{"bad time", podHead + "  creationTimestamp: yesterday\n",
			`metadata.creationTimestamp: invalid time "yesterday": want RFC 3339 like 2006-01-02T15:04:05Z`},
		{"time as a number", podHead + "  creationTimestamp: 1700000000\n", "metadata.creationTimestamp: expected an RFC 3339 time string, got number"},
		{"struct data must be an object", "apiVersion: apps/v1\nkind: ControllerRevision\ndata: [1]\n", "data: expected an object, got array"},
		{"first bad map entry is reported", podHead + "spec:\n  nodeSelector:\n    b: 2\n    a: 1\n", "spec.nodeSelector[a]: expected a string, got number"},
		{"duplicate YAML key", deployHead + "spec:\n  replicas: 1\n  replicas: 2\n", `key "replicas" already set in map`},
		{"duplicate YAML key beside a << in a string", deployHead + "# a << in a comment\nspec:\n  replicas: 1\n  replicas: 2\n", `key "replicas" already set in map`},
		{"duplicate YAML key beside a merge key", deployHead + "x: &a {k: 1}\nspec:\n  <<: *a\n  replicas: 1\n  replicas: 2\n", `key "replicas" already set in map`},
		{"missing kind", "apiVersion: v1\nmetadata:\n  name: x\n", "kind: required field is missing"},
		{"missing apiVersion", "kind: Pod\n", "apiVersion: required field is missing"},
		{"kind not a string", "apiVersion: v1\nkind: 3\n", "kind: expected a string, got number"},
		{"unregistered kind", "apiVersion: v1\nkind: Frobnicator\n", `no kind "Frobnicator" is registered`},
		{"wrong version", "apiVersion: apps/v2\nkind: Deployment\n", `no kind "Deployment" is registered for version "apps/v2"`},
		{"not an object", "- a\n- b\n", "expected an object, got array"},
		{"invalid YAML", "apiVersion: v1\nkind: Pod\nmetadata: {\n", "invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeObject([]byte(tc.doc))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tc.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FieldError", err)
			}
		})
	}
}

// TestJSONErrors covers what only the JSON path sees.
func TestJSONErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"duplicate field", `{"apiVersion":"v1","kind":"Pod","spec":{"nodeName":"a","nodeName":"b"}}`, `spec.nodeName: duplicate field "nodeName"`},
		{"duplicate in a list element", `{"spec":{"containers":[{"name":"a"},{"name":"b","name":"c"}]}}`, `spec.containers[1].name: duplicate field "name"`},
		{"duplicate escaped key", `{"spec":{"nodeName":"a","node\u004eame":"b"}}`, `spec.nodeName: duplicate field "nodeName"`},
		{"duplicate in a big object", `{"metadata":{"labels":{` + manyKeys(100) + `,"k7":"again"}}}`, `metadata.labels.k7: duplicate field "k7"`},
		{"no duplicate across objects", `{"spec":{"containers":[{"name":"a"},{"name":"b"}],"name":1}}`, `spec.name: unknown field "name"`},
		{"trailing data", `{"kind":"Pod"} {}`, "trailing data"},
		{"truncated", `{"kind":"Pod"`, "invalid JSON"},
		{"empty", ``, "invalid JSON"},
		{"unknown field", `{"spec":{"containers":[{"imagee":"x"}]}}`, `spec.containers[0].imagee: unknown field "imagee"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := UnmarshalJSON([]byte(tc.doc), &corev1.Pod{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func manyKeys(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	return b.String()
}

func decodePod(t *testing.T, spec string) *corev1.Pod {
	t.Helper()
	o, _, err := DecodeObject([]byte(podHead + spec))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return o.(*corev1.Pod)
}

func mustYAML(t *testing.T, m proto.Message) string {
	t.Helper()
	y, err := MarshalYAML(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(y)
}

func mustJSON(t *testing.T, m proto.Message) string {
	t.Helper()
	j, err := MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

func TestQuantity(t *testing.T) {
	pod := decodePod(t, "spec:\n  containers:\n  - name: a\n    resources:\n      requests:\n        cpu: 500m\n        memory: 128Mi\n      limits:\n        cpu: 1\n        memory: 1073741824\n        example.com/gpu: 0.5\n")
	res := pod.GetSpec().GetContainers()[0].GetResources()
	for k, want := range map[string]string{"cpu": "1", "memory": "1073741824", "example.com/gpu": "0.5"} {
		if got := res.GetLimits()[k]; got != want {
			t.Errorf("limits[%s] = %q, want %q", k, got, want)
		}
	}
	if got := res.GetRequests()["cpu"]; got != "500m" {
		t.Errorf("requests.cpu = %q", got)
	}
	y := mustYAML(t, pod)
	for _, want := range []string{"cpu: \"1\"\n", "cpu: 500m\n", "memory: 128Mi\n"} {
		if !strings.Contains(y, want) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
	// A single quantity field (not a map) takes a number too.
	pod = decodePod(t, "spec:\n  volumes:\n  - name: v\n    emptyDir:\n      sizeLimit: 1024\n")
	if got := pod.GetSpec().GetVolumes()[0].GetEmptyDir().GetSizeLimit(); got != "1024" {
		t.Errorf("sizeLimit = %q", got)
	}
}

func TestIntOrString(t *testing.T) {
	pod := decodePod(t, "spec:\n  containers:\n  - name: a\n    livenessProbe:\n      httpGet:\n        port: 8080\n    readinessProbe:\n      tcpSocket:\n        port: http\n")
	c := pod.GetSpec().GetContainers()[0]
	if p := c.GetLivenessProbe().GetHttpGet().GetPort(); p.GetType() != 0 || p.GetIntVal() != 8080 {
		t.Errorf("port 8080 decoded as %v", p)
	}
	if p := c.GetReadinessProbe().GetTcpSocket().GetPort(); p.GetType() != 1 || p.GetStrVal() != "http" {
		t.Errorf("port http decoded as %v", p)
	}
	j := mustJSON(t, pod)
	for _, want := range []string{`"httpGet":{"port":8080}`, `"tcpSocket":{"port":"http"}`} {
		if !strings.Contains(j, want) {
			t.Errorf("JSON lacks %s: %s", want, j)
		}
	}

	o, _, err := DecodeObject([]byte(deployHead + "spec:\n  strategy:\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	y := mustYAML(t, o)
	// An int-or-string 0 is set, so it is printed.
	if !strings.Contains(y, "maxSurge: 25%\n") || !strings.Contains(y, "maxUnavailable: 0\n") {
		t.Errorf("YAML:\n%s", y)
	}
}

func TestNullIsUnset(t *testing.T) {
	o, _, err := DecodeObject([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  labels: null\n  creationTimestamp: null\nspec:\n  replicas: null\n  strategy: ~\n  template:\n    spec:\n      containers:\n      - name: a\n        args: null\n      volumes:\n      - name: v\n        emptyDir: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := o.(*appsv1.Deployment)
	if d.Spec.Replicas != nil || d.Spec.Strategy != nil || d.Metadata.CreationTimestamp != nil || d.Metadata.Labels != nil {
		t.Errorf("null fields were set: %v", d)
	}
	if d.Spec.Template.Spec.Volumes[0].EmptyDir != nil {
		t.Error("emptyDir: null was set")
	}
	// A null map value is the empty string, as Go's map[string]string takes it.
	pod := decodePod(t, "  annotations:\n    a: null\n")
	if v, ok := pod.Metadata.Annotations["a"]; !ok || v != "" {
		t.Errorf("annotations = %v", pod.Metadata.Annotations)
	}
}

func TestEmptyObjectKept(t *testing.T) {
	pod := decodePod(t, "spec:\n  volumes:\n  - name: v\n    emptyDir: {}\n")
	if pod.Spec.Volumes[0].EmptyDir == nil {
		t.Fatal("emptyDir: {} was dropped")
	}
	if y := mustYAML(t, pod); !strings.Contains(y, "- emptyDir: {}\n    name: v\n") {
		t.Errorf("YAML:\n%s", y)
	}
}

func TestOptionalZeroValues(t *testing.T) {
	for _, tc := range []struct{ doc, want, notWant string }{
		{deployHead + "spec:\n  replicas: 0\n  minReadySeconds: 0\n  paused: false\n", "replicas: 0\n", "minReadySeconds"},
		{deployHead + "spec:\n  minReadySeconds: 0\n", "", "replicas"},
		{"apiVersion: v1\nkind: ConfigMap\nimmutable: false\n", "immutable: false\n", ""},
		{podHead + "spec:\n  terminationGracePeriodSeconds: 0\n  hostNetwork: false\n  nodeName: \"\"\n", "terminationGracePeriodSeconds: 0\n", "hostNetwork"},
	} {
		o, _, err := DecodeObject([]byte(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		y := mustYAML(t, o)
		if tc.want != "" && !strings.Contains(y, tc.want) {
			t.Errorf("YAML lacks %q:\n%s", tc.want, y)
		}
		if tc.notWant != "" && strings.Contains(y, tc.notWant) {
			t.Errorf("YAML has %q:\n%s", tc.notWant, y)
		}
		if strings.Contains(y, "nodeName") || strings.Contains(y, "paused") {
			t.Errorf("zero non-optional field printed:\n%s", y)
		}
	}
}

func TestBytes(t *testing.T) {
	o, _, err := DecodeObject([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  password: czNjcjN0\n  empty: \"\"\nstringData:\n  user: admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := o.(*corev1.Secret)
	if string(s.Data["password"]) != "s3cr3t" || s.StringData["user"] != "admin" {
		t.Errorf("secret = %v", s)
	}
	if j := mustJSON(t, s); !strings.Contains(j, `"data":{"empty":"","password":"czNjcjN0"}`) {
		t.Errorf("JSON = %s", j)
	}
}

func TestStructData(t *testing.T) {
	doc := `{"apiVersion":"apps/v1","kind":"ControllerRevision","metadata":{"name":"r"},"revision":9007199254740993,` +
		`"data":{"a":[1,-2.5,"x",true,null,{"b":{}},[]],"n":1e3,"big":1e21,"s":"","obj":{"k":[{"z":1}]}}}`
	o, _, err := DecodeObject([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cr := o.(*appsv1.ControllerRevision)
	if cr.Revision != 9007199254740993 {
		t.Errorf("int64 revision = %d", cr.Revision)
	}
	j := mustJSON(t, cr)
	want := `"data":{"a":[1,-2.5,"x",true,null,{"b":{}},[]],"big":1e+21,"n":1000,"obj":{"k":[{"z":1}]},"s":""},"revision":9007199254740993`
	if !strings.Contains(j, want) {
		t.Errorf("JSON\n%s\nlacks\n%s", j, want)
	}
	back := &appsv1.ControllerRevision{}
	if err := UnmarshalJSON([]byte(j), back); err != nil || !proto.Equal(cr, back) {
		t.Errorf("round trip: %v", err)
	}
	// Unknown keys are fine inside data: it is arbitrary JSON.
	if _, _, err := DecodeObject([]byte("apiVersion: apps/v1\nkind: ControllerRevision\ndata:\n  anything: {goes: here}\n")); err != nil {
		t.Error(err)
	}
}

func TestTimestamps(t *testing.T) {
	for _, tc := range []struct {
		in, out      string
		secs         int64
		nanos        int32
		leaseRenewal bool
	}{
		{"2024-03-01T10:15:42Z", "2024-03-01T10:15:42Z", 1709288142, 0, false},
		{"2024-03-01T10:15:42.318204Z", "2024-03-01T10:15:42.318204Z", 1709288142, 318204000, false},
		{"2024-03-01T10:15:42.5Z", "2024-03-01T10:15:42.500000Z", 1709288142, 500000000, false},
		{"2024-03-01T10:15:42.123456789Z", "2024-03-01T10:15:42.123456789Z", 1709288142, 123456789, false},
		{"2024-03-01T12:15:42+02:00", "2024-03-01T10:15:42Z", 1709288142, 0, false},
		// MicroTime fields always print six digits, as Kubernetes does.
		{"2024-03-01T10:15:42Z", "2024-03-01T10:15:42.000000Z", 1709288142, 0, true},
	} {
		var o proto.Message
		var ts interface {
			GetSeconds() int64
			GetNanos() int32
		}
		if tc.leaseRenewal {
			l := &coordinationv1.Lease{}
			if err := UnmarshalYAML([]byte("spec:\n  renewTime: "+tc.in+"\n"), l); err != nil {
				t.Fatal(err)
			}
			o, ts = l, l.Spec.RenewTime
		} else {
			p := &corev1.Pod{}
			if err := UnmarshalYAML([]byte("metadata:\n  creationTimestamp: \""+tc.in+"\"\n"), p); err != nil {
				t.Fatal(err)
			}
			o, ts = p, p.Metadata.CreationTimestamp
		}
		if ts.GetSeconds() != tc.secs || ts.GetNanos() != tc.nanos {
			t.Errorf("%s: decoded %d.%09d", tc.in, ts.GetSeconds(), ts.GetNanos())
		}
		if j := mustJSON(t, o); !strings.Contains(j, `"`+tc.out+`"`) {
			t.Errorf("%s: JSON %s, want %s", tc.in, j, tc.out)
		}
		back := proto.Clone(o)
		if err := UnmarshalJSON([]byte(mustJSON(t, o)), back); err != nil || !proto.Equal(o, back) {
			t.Errorf("%s: round trip lost precision (%v)", tc.in, err)
		}
	}
}

func TestMicroTimeFieldsExist(t *testing.T) {
	for name := range microTimeFields {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		fd, ok := d.(protoreflect.FieldDescriptor)
		if !ok || fd.Message() == nil || fd.Message().FullName() != timestampName {
			t.Errorf("%s is not a Timestamp field", name)
		}
	}
}

func TestInt64AsNumbers(t *testing.T) {
	pod := decodePod(t, "  generation: 9223372036854775807\nspec:\n  activeDeadlineSeconds: -5\n")
	if pod.Metadata.Generation != 9223372036854775807 {
		t.Errorf("generation = %d", pod.Metadata.Generation)
	}
	j, err := MarshalIndentJSON(pod)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"generation": 9223372036854775807`, `"activeDeadlineSeconds": -5`, "\n    \"kind\": \"Pod\""} {
		if !strings.Contains(string(j), want) {
			t.Errorf("indented JSON lacks %s:\n%s", want, j)
		}
	}
	if y := mustYAML(t, pod); !strings.Contains(y, "generation: 9223372036854775807\n") {
		t.Errorf("YAML:\n%s", y)
	}
	m := ToMap(pod)
	md := m["metadata"].(map[string]any)
	if n, ok := md["generation"].(json.Number); !ok || n.String() != "9223372036854775807" {
		t.Errorf("ToMap generation = %#v", md["generation"])
	}
}

func TestKubernetesFieldOrderInJSON(t *testing.T) {
	pod := decodePod(t, "spec:\n  nodeName: node-1\nstatus:\n  phase: Running\n")
	j := mustJSON(t, pod)
	if !strings.HasPrefix(j, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":`) || !strings.HasSuffix(j, `"status":{"phase":"Running"}}`) {
		t.Errorf("JSON order: %s", j)
	}
}

func TestFromMap(t *testing.T) {
	pod := &corev1.Pod{}
	err := FromMap(map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "imagee": "x"}}}}, pod)
	if err == nil || err.Error() != `spec.containers[0].imagee: unknown field "imagee"` {
		t.Errorf("FromMap error = %v", err)
	}
	if err := FromMap(map[string]any{"spec": map[string]any{"priority": 7}}, pod); err != nil || pod.Spec.GetPriority() != 7 {
		t.Errorf("FromMap: %v %v", err, pod)
	}
}

func TestSplitYAMLDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"single", "a: 1\n", []string{"a: 1\n"}},
		{"leading separator", "---\na: 1\n", []string{"a: 1\n"}},
		{"empty and comment-only documents", "# header\n---\na: 1\n---\n\n---\n# only a comment\n  # indented\n---\nb: 2\n---\n", []string{"a: 1\n", "b: 2\n"}},
		{"separator with a comment", "a: 1\n--- # next\nb: 2", []string{"a: 1\n", "b: 2"}},
		{"content after the separator", "--- {a: 1}\n--- |\n  text\n", []string{"{a: 1}\n", "|\n  text\n"}},
		{"four dashes are content", "a: |\n  x\n----\n", []string{"a: |\n  x\n----\n"}},
		{"indented dashes are content", "a: |\n  ---\n  b\n", []string{"a: |\n  ---\n  b\n"}},
		{"document end marker", "a: 1\n...\n---\nb: 2\n", []string{"a: 1\n", "b: 2\n"}},
		{"CRLF", "a: 1\r\n---\r\nb: 2\r\n", []string{"a: 1\r\n", "b: 2\r\n"}},
		{"byte order mark", "\ufeffa: 1\n", []string{"a: 1\n"}},
		{"nothing", "", nil},
		{"only separators", "---\n---\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs, err := SplitYAMLDocuments([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range docs {
				got = append(got, string(d))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDecodeObjects(t *testing.T) {
	stream := `# two pods and a list
apiVersion: v1
kind: Pod
metadata:
  name: a
---
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: s
- apiVersion: v1
  kind: PodList
  items:
  - apiVersion: v1
    kind: Pod
    metadata:
      name: b
---
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
`
	objs, err := DecodeObjects([]byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, o.GetKind()+"/"+o.GetMetadata().GetName())
	}
	if want := "Pod/a Service/s Pod/b Namespace/ns"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"names the document and line", "apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - imagee: x\n",
			`document 2 (line 4): spec.containers[0].imagee: unknown field "imagee"`},
		{"single document has no prefix", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: \"3\"\n",
			"spec.replicas: expected an integer, got string"},
		{"list item path", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n- apiVersion: apps/v1\n  kind: Deployment\n  spec:\n    replicas: \"3\"\n",
			"items[1].spec.replicas: expected an integer, got string"},
		{"list item without kind", "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  metadata: {}\n", "items[0].kind: required field is missing"},
		{"list with an unknown field", "apiVersion: v1\nkind: List\nitemz: []\n", `itemz: unknown field "itemz"`},
		{"list items not an array", "apiVersion: v1\nkind: List\nitems: {}\n", "items: expected an array, got object"},
		{"YAML error names the document", "apiVersion: v1\nkind: Pod\n---\nb: [\n", "document 2 (line 4): invalid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeObjects([]byte(tc.in))
			if err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %s", err, tc.want)
			}
		})
	}

	_, err = DecodeObjects([]byte("kind: Pod\napiVersion: v1\n---\nkind: Pod\n"))
	var de *DocumentError
	var fe *FieldError
	if !errors.As(err, &de) || de.Number != 2 || de.Line != 4 || !errors.As(err, &fe) || fe.Path != "apiVersion" {
		t.Errorf("error %#v does not unwrap to the document and field", err)
	}
	if objs, err := DecodeObjects([]byte("# nothing here\n")); err != nil || len(objs) != 0 {
		t.Errorf("empty stream: %v %v", objs, err)
	}
}

func TestDecodeObject(t *testing.T) {
	o, k, err := DecodeObject([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := scheme.ByKind("apps/v1", "Deployment")
	if k != want || o.(*appsv1.Deployment).Spec.GetReplicas() != 2 {
		t.Errorf("got %v %v", k, o)
	}
	for _, in := range []string{
		"apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\n",
		"apiVersion: v1\nkind: List\nitems: []\n",
		"# only a comment\n",
	} {
		if _, _, err := DecodeObject([]byte(in)); err == nil {
			t.Errorf("DecodeObject(%q) succeeded", in)
		}
	}
	// A registered kind ending in List is not mistaken for a list.
	if _, _, err := DecodeObject([]byte("apiVersion: v1\nkind: PodList\n")); err == nil || !strings.Contains(err.Error(), `no kind "PodList"`) {
		t.Errorf("PodList without items: %v", err)
	}
}

// FuzzDecode checks that no input panics the decoder or duplicate scanner,
// and that whatever decodes survives a JSON round trip.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		podHead + "spec:\n  containers:\n  - name: a\n    ports:\n    - containerPort: 80\n",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","labels":{"x":"y","x\u0031":"z"}},"spec":{"containers":[{"name":"a","args":["[","{","\"]"]}]}}`,
		"apiVersion: apps/v1\nkind: ControllerRevision\ndata: {a: [1, {b: null}], c: \"}\"}\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  data: {a: YQ==}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeObjects(data)
		if err != nil {
			return
		}
		for _, o := range objs {
			j, err := MarshalJSON(o)
			if err != nil {
				t.Fatal(err)
			}
			back := proto.Clone(o)
			if err := UnmarshalJSON(j, back); err != nil {
				t.Fatalf("re-decoding %s: %v", j, err)
			}
			if !proto.Equal(o, back) {
				t.Fatalf("round trip changed %s", j)
			}
		}
	})
}

// TestMarshalMatchesEncodingJSON: the hand-written writer prints exactly
// what encoding/json (HTML escaping off) prints for the same value tree.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	tree := orderedMap{
		{"s", "quote\" back\\ nl\n tab\t ctl\x01 html<>& uni é \u2028 bad\xff"},
		{"n", json.Number("42")},
		{"b", true},
		{"m", map[string]any{"z": "1", "a": []any{"x", json.Number("1.5"), false, nil}}},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plain(tree, nil)); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSuffix(buf.String(), "\n")
	// encoding/json sorts the top-level keys of a plain map; compare the map part.
	got := string(appendValue(nil, plain(tree, nil)))
	if got != want {
		t.Fatalf("appendValue:\n%s\nencoding/json:\n%s", got, want)
	}
}
