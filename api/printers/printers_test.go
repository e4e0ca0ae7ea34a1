package printers

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	_ "minik8s/api/all"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	"minik8s/api/scheme"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var testNow = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// decode reads one manifest into an object of its kind.
func decode(t *testing.T, manifest string) (*scheme.Kind, scheme.Object) {
	t.Helper()
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(manifest), &head); err != nil {
		t.Fatal(err)
	}
	k, err := scheme.ByKind(head.APIVersion, head.Kind)
	if err != nil {
		t.Fatal(err)
	}
	obj := k.New()
	if err := codec.UnmarshalYAML([]byte(manifest), obj); err != nil {
		t.Fatalf("decode %s: %v", head.Kind, err)
	}
	return k, obj
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden file (run go test -update if the change is intended)\n--- got:\n%s\n--- want:\n%s", name, got, want)
	}
}

func TestEveryKindHasNameColumn(t *testing.T) {
	kinds := scheme.All()
	if len(kinds) < 20 {
		t.Fatalf("only %d kinds registered", len(kinds))
	}
	for _, k := range kinds {
		t.Run(k.Resource, func(t *testing.T) {
			cols := Columns(k)
			if len(cols) == 0 {
				t.Fatal("no columns")
			}
			names := 0
			for i, c := range cols {
				switch c.Type {
				case "string", "integer", "date":
				default:
					t.Errorf("column %q has type %q", c.Name, c.Type)
				}
				if c.Description == "" {
					t.Errorf("column %q has no description", c.Name)
				}
				if c.Format == "name" {
					names++
					if c.Name != "Name" {
						t.Errorf("the name column is called %q", c.Name)
					}
					// Events lead with LAST SEEN and keep the name for -o wide,
					// as Kubernetes does; every other kind starts with Name.
					if k.Kind == "Event" {
						if c.Priority != 1 {
							t.Errorf("Event's Name column has priority %d, want 1", c.Priority)
						}
					} else if i != 0 || c.Priority != 0 {
						t.Errorf("Name is column %d with priority %d, want the first, priority 0", i, c.Priority)
					}
				}
			}
			if names != 1 {
				t.Errorf("%d columns have format name, want 1", names)
			}
			// An empty object still gets a cell per column of a valid type.
			cells := Cells(k, k.NewObject(), testNow)
			if len(cells) != len(cols) {
				t.Fatalf("%d cells for %d columns", len(cells), len(cols))
			}
			for i, c := range cells {
				switch c.(type) {
				case string:
				case int64:
				default:
					t.Errorf("cell %d (%s) is a %T", i, cols[i].Name, c)
				}
				if cols[i].Type == "integer" {
					if _, ok := c.(int64); !ok {
						t.Errorf("integer column %s holds a %T", cols[i].Name, c)
					}
				}
			}
		})
	}
}

// TestColumns pins the headers kubectl shows per kind (wide ones marked
// with a trailing *).
func TestColumns(t *testing.T) {
	for resource, want := range map[string]string{
		"pods":                       "Name Ready Status Restarts Age IP* Node* Nominated Node* Readiness Gates*",
		"deployments":                "Name Ready Up-to-date Available Age Containers* Images* Selector*",
		"replicasets":                "Name Desired Current Ready Age Containers* Images* Selector*",
		"replicationcontrollers":     "Name Desired Current Ready Age Containers* Images* Selector*",
		"daemonsets":                 "Name Desired Current Ready Up-to-date Available Node Selector Age Containers* Images* Selector*",
		"statefulsets":               "Name Ready Age Containers* Images*",
		"controllerrevisions":        "Name Controller Revision Age",
		"jobs":                       "Name Status Completions Duration Age Containers* Images* Selector*",
		"services":                   "Name Type Cluster-IP External-IP Port(s) Age Selector*",
		"endpoints":                  "Name Endpoints Age",
		"nodes":                      "Name Status Roles Age Version Internal-IP* External-IP* OS-Image* Kernel-Version* Container-Runtime*",
		"namespaces":                 "Name Status Age",
		"events":                     "Last Seen Type Reason Object Subobject* Source* Message First Seen* Count* Name*",
		"componentstatuses":          "Name Status Message Error",
		"configmaps":                 "Name Data Age",
		"secrets":                    "Name Type Data Age",
		"serviceaccounts":            "Name Age",
		"resourcequotas":             "Name Age Request Limit",
		"limitranges":                "Name Created At",
		"bindings":                   "Name Created At",
		"leases":                     "Name Holder Age",
		"certificatesigningrequests": "Name Age SignerName Requestor RequestedDuration Condition",
		"ingresses":                  "Name Class Hosts Address Ports Age",
		"horizontalpodautoscalers":   "Name Reference Targets MinPods MaxPods Replicas Age",
		"poddisruptionbudgets":       "Name Min Available Max Unavailable Allowed Disruptions Age",
		"roles":                      "Name Created At",
		"clusterroles":               "Name Created At",
		"rolebindings":               "Name Role Age Users* Groups* ServiceAccounts*",
		"clusterrolebindings":        "Name Role Age Users* Groups* ServiceAccounts*",
	} {
		t.Run(resource, func(t *testing.T) {
			k, err := scheme.ByResource(resource)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range Columns(k) {
				n := c.Name
				if c.Priority > 0 {
					n += "*"
				}
				got = append(got, n)
			}
			if g := strings.Join(got, " "); g != want {
				t.Errorf("columns\n got: %s\nwant: %s", g, want)
			}
		})
	}
}

// TestCells checks each kind's cells, types included.
func TestCells(t *testing.T) {
	for _, tc := range []struct {
		name     string
		manifest string
		want     []any
	}{
		{"pod running", `
apiVersion: v1
kind: Pod
metadata: {name: web, creationTimestamp: "2024-01-01T11:56:40Z"}
spec:
  nodeName: node-1
  containers: [{name: web, image: nginx}, {name: log, image: busybox}]
  readinessGates: [{conditionType: example.com/lb}]
status:
  phase: Running
  podIP: 10.244.1.5
  podIPs: [{ip: 10.244.1.5}, {ip: "fd00::5"}]
  conditions: [{type: Ready, status: "True"}, {type: example.com/lb, status: "False"}]
  containerStatuses:
  - {name: web, ready: true, restartCount: 2, state: {running: {}}, lastState: {terminated: {exitCode: 1, finishedAt: "2024-01-01T11:59:40Z"}}}
  - {name: log, ready: true, state: {running: {}}}
`, []any{"web", "2/2", "Running", "2 (20s ago)", "3m20s", "10.244.1.5", "node-1", "<none>", "0/1"}},
		{"pod without phase", `
apiVersion: v1
kind: Pod
metadata: {name: new}
spec: {containers: [{name: a, image: a}]}
`, []any{"new", "0/1", "Pending", "0", "<unknown>", "<none>", "<none>", "<none>", "<none>"}},
		{"deployment", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, creationTimestamp: "2024-01-01T06:00:00Z"}
spec:
  selector: {matchLabels: {app: web}}
  template: {spec: {containers: [{name: web, image: "nginx:1.25"}, {name: log, image: busybox}]}}
status: {readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2}
`, []any{"web", "2/1", int64(3), int64(2), "6h", "web,log", "nginx:1.25,busybox", "app=web"}},
		{"replicaset", `
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web-1, creationTimestamp: "2024-01-01T06:00:00Z"}
spec:
  replicas: 3
  selector:
    matchLabels: {pod-template-hash: "1", app: web}
    matchExpressions: [{key: env, operator: In, values: [prod, canary]}, {key: legacy, operator: DoesNotExist}]
  template: {spec: {containers: [{name: web, image: nginx}]}}
status: {replicas: 3, readyReplicas: 1}
`, []any{"web-1", int64(3), int64(3), int64(1), "6h", "web", "nginx", "app=web,env in (canary,prod),!legacy,pod-template-hash=1"}},
		{"replicationcontroller", `
apiVersion: v1
kind: ReplicationController
metadata: {name: rc, creationTimestamp: "2024-01-01T06:00:00Z"}
spec: {replicas: 2, selector: {app: rc}, template: {spec: {containers: [{name: a, image: a}]}}}
status: {replicas: 2, readyReplicas: 2}
`, []any{"rc", int64(2), int64(2), int64(2), "6h", "a", "a", "app=rc"}},
		{"daemonset", `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: proxy, creationTimestamp: "2024-01-01T11:00:00Z"}
spec:
  selector: {matchLabels: {k8s-app: proxy}}
  template: {spec: {nodeSelector: {kubernetes.io/os: linux}, containers: [{name: p, image: proxy}]}}
status: {desiredNumberScheduled: 2, currentNumberScheduled: 2, numberReady: 1, updatedNumberScheduled: 2, numberAvailable: 1}
`, []any{"proxy", int64(2), int64(2), int64(1), int64(2), int64(1), "kubernetes.io/os=linux", "60m", "p", "proxy", "k8s-app=proxy"}},
		{"statefulset", `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {replicas: 3, template: {spec: {containers: [{name: db, image: postgres}]}}}
status: {readyReplicas: 2}
`, []any{"db", "2/3", "60m", "db", "postgres"}},
		{"controllerrevision", `
apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: proxy-5d8f
  creationTimestamp: "2024-01-01T11:00:00Z"
  ownerReferences: [{apiVersion: apps/v1, kind: DaemonSet, name: proxy, uid: u1, controller: true}]
revision: 4
`, []any{"proxy-5d8f", "daemonset.apps/proxy", int64(4), "60m"}},
		{"job running", `
apiVersion: batch/v1
kind: Job
metadata: {name: pi, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {parallelism: 2, template: {spec: {containers: [{name: pi, image: perl}]}}}
status: {startTime: "2024-01-01T11:50:00Z", succeeded: 1}
`, []any{"pi", "Running", "1/1 of 2", "10m", "60m", "pi", "perl", "<none>"}},
		{"job complete", `
apiVersion: batch/v1
kind: Job
metadata: {name: pi, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {completions: 1, selector: {matchLabels: {job: pi}}, template: {spec: {containers: [{name: pi, image: perl}]}}}
status:
  startTime: "2024-01-01T11:00:00Z"
  completionTime: "2024-01-01T11:00:45Z"
  succeeded: 1
  conditions: [{type: Complete, status: "True"}]
`, []any{"pi", "Complete", "1/1", "45s", "60m", "pi", "perl", "job=pi"}},
		{"service nodeport", `
apiVersion: v1
kind: Service
metadata: {name: web, creationTimestamp: "2024-01-01T10:00:00Z"}
spec:
  type: NodePort
  clusterIP: 10.96.12.7
  clusterIPs: [10.96.12.7]
  selector: {app: web}
  ports: [{port: 80, nodePort: 30080, protocol: TCP}, {port: 53, protocol: UDP}]
`, []any{"web", "NodePort", "10.96.12.7", "<none>", "80:30080/TCP,53/UDP", "120m", "app=web"}},
		{"service load balancer, long address list unclipped", `
apiVersion: v1
kind: Service
metadata: {name: lb, creationTimestamp: "2024-01-01T10:00:00Z"}
spec: {type: LoadBalancer, clusterIP: 10.96.3.3, ports: [{port: 80, protocol: TCP}]}
status: {loadBalancer: {ingress: [{ip: 192.168.100.12}, {hostname: lb.example.com}, {ip: 192.168.100.11}]}}
`, []any{"lb", "LoadBalancer", "10.96.3.3", "192.168.100.11,192.168.100.12,lb.example.com", "80/TCP", "120m", "<none>"}},
		{"endpoints", `
apiVersion: v1
kind: Endpoints
metadata: {name: web, creationTimestamp: "2024-01-01T10:00:00Z"}
subsets:
- addresses: [{ip: 10.244.1.5}, {ip: 10.244.2.7}]
  ports: [{port: 8080}, {name: https, port: 8443}]
`, []any{"web", "10.244.1.5:8080,10.244.2.7:8080,10.244.1.5:8443 + 1 more...", "120m"}},
		{"endpoints without subsets", `
apiVersion: v1
kind: Endpoints
metadata: {name: none, creationTimestamp: "2024-01-01T10:00:00Z"}
`, []any{"none", "<none>", "120m"}},
		{"node", `
apiVersion: v1
kind: Node
metadata: {name: node-1, creationTimestamp: "2023-12-25T12:00:00Z", labels: {node-role.kubernetes.io/control-plane: "", kubernetes.io/role: worker}}
spec: {unschedulable: true}
status:
  conditions: [{type: Ready, status: "True"}]
  addresses: [{type: InternalIP, address: 192.168.0.11}, {type: Hostname, address: node-1}]
  nodeInfo: {kubeletVersion: v0.1.0, osImage: Debian, kernelVersion: 6.1.0, architecture: amd64, containerRuntimeVersion: "containerd://1.6.20"}
`, []any{"node-1", "Ready,SchedulingDisabled", "control-plane,worker", "7d", "v0.1.0", "192.168.0.11", "<none>", "Debian", "6.1.0 (amd64)", "containerd://1.6.20"}},
		{"namespace", `
apiVersion: v1
kind: Namespace
metadata: {name: default, creationTimestamp: "2023-06-01T00:00:00Z"}
status: {phase: Active}
`, []any{"default", "Active", "214d"}},
		{"event repeated", `
apiVersion: v1
kind: Event
metadata: {name: web.17a2, namespace: default}
involvedObject: {kind: Pod, name: web, fieldPath: "spec.containers{web}"}
reason: BackOff
message: " Back-off restarting failed container web\n"
source: {component: kubelet, host: node-1}
firstTimestamp: "2024-01-01T11:57:00Z"
lastTimestamp: "2024-01-01T11:59:40Z"
count: 3
type: Warning
`, []any{"20s", "Warning", "BackOff", "pod/web", "spec.containers{web}", "kubelet, node-1", "Back-off restarting failed container web", "3m", int64(3), "web.17a2"}},
		{"event of the new API", `
apiVersion: v1
kind: Event
metadata: {name: n.1, namespace: default}
involvedObject: {kind: Node}
reason: Starting
reportingComponent: kube-proxy
eventTime: "2024-01-01T11:59:00Z"
type: Normal
`, []any{"60s", "Normal", "Starting", "node", "", "kube-proxy", "", "60s", int64(1), "n.1"}},
		{"componentstatus", `
apiVersion: v1
kind: ComponentStatus
metadata: {name: etcd-1}
conditions: [{type: Healthy, status: "False", error: refused}]
`, []any{"etcd-1", "Unhealthy", "", "refused"}},
		{"configmap", `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, creationTimestamp: "2024-01-01T11:00:00Z"}
data: {a: "1", b: "2"}
binaryData: {c: AA==}
`, []any{"settings", int64(3), "60m"}},
		{"secret", `
apiVersion: v1
kind: Secret
metadata: {name: token, creationTimestamp: "2024-01-01T11:00:00Z"}
type: Opaque
data: {t: dG9rZW4=}
`, []any{"token", "Opaque", int64(1), "60m"}},
		{"serviceaccount", `
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, creationTimestamp: "2024-01-01T11:00:00Z"}
`, []any{"default", "60m"}},
		{"resourcequota", `
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {hard: {pods: "10", requests.cpu: "1", limits.memory: 1Gi}}
status:
  hard: {pods: "10", requests.cpu: "1", limits.memory: 1Gi}
  used: {pods: "3", limits.memory: 256Mi}
`, []any{"compute", "60m", "pods: 3/10, requests.cpu: 0/1", "limits.memory: 256Mi/1Gi"}},
		{"resourcequota before the controller computed it", `
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {hard: {pods: "10"}}
`, []any{"compute", "60m", "", ""}},
		{"limitrange (default table)", `
apiVersion: v1
kind: LimitRange
metadata: {name: limits, creationTimestamp: "2024-01-01T11:00:00Z"}
`, []any{"limits", "2024-01-01T11:00:00Z"}},
		{"csr approved and issued", `
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: jane, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {signerName: kubernetes.io/kube-apiserver-client, username: admin, expirationSeconds: 86400}
status:
  conditions: [{type: Approved, status: "True"}]
  certificate: LS0t
`, []any{"jane", "60m", "kubernetes.io/kube-apiserver-client", "admin", "24h", "Approved,Issued"}},
		{"csr pending", `
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: node-csr-x, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {signerName: kubernetes.io/kube-apiserver-client-kubelet, username: "system:bootstrap:abcdef"}
`, []any{"node-csr-x", "60m", "kubernetes.io/kube-apiserver-client-kubelet", "system:bootstrap:abcdef", "<none>", "Pending"}},
		{"csr denied", `
apiVersion: certificates.k8s.io/v1
kind: CertificateSigningRequest
metadata: {name: bad, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {signerName: example.com/x, username: bob}
status: {conditions: [{type: Denied, status: "True"}, {type: Failed, status: "True"}]}
`, []any{"bad", "60m", "example.com/x", "bob", "<none>", "Denied,Failed"}},
		{"lease", `
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: kube-scheduler, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {holderIdentity: master_1}
`, []any{"kube-scheduler", "master_1", "60m"}},
		{"ingress", `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: site, creationTimestamp: "2024-01-01T11:00:00Z"}
spec:
  ingressClassName: minik8s
  tls: [{hosts: [a.example.com]}]
  rules: [{host: a.example.com}, {}, {host: b.example.com}, {host: c.example.com}, {host: d.example.com}]
status: {loadBalancer: {ingress: [{ip: 192.168.0.12}, {ip: 192.168.0.11}, {ip: 192.168.0.12}]}}
`, []any{"site", "minik8s", "a.example.com,b.example.com,c.example.com + 2 more...", "192.168.0.11,192.168.0.12", "80, 443", "60m"}},
		{"rolebinding", `
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods, namespace: default, creationTimestamp: "2024-01-01T11:00:00Z"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: jane}
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: joe}
- {apiGroup: rbac.authorization.k8s.io, kind: Group, name: devs}
- {kind: ServiceAccount, name: ci, namespace: build}
`, []any{"read-pods", "ClusterRole/view", "60m", "jane, joe", "devs", "build/ci"}},
		{"aggregated clusterrole (default table)", `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: monitoring, creationTimestamp: "2024-01-01T11:00:00Z"}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}
rules: []
`, []any{"monitoring", "2024-01-01T11:00:00Z"}},
		{"ingress without hosts", `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: any, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {rules: [{}]}
`, []any{"any", "<none>", "*", "", "80", "60m"}},
		{"hpa", `
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, creationTimestamp: "2024-01-01T11:00:00Z"}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 5
  metrics:
  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}
  - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 100Mi}}}
  - {type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: "10"}}}
status:
  currentReplicas: 2
  currentMetrics:
  - {type: Resource, resource: {name: cpu, current: {averageUtilization: 20}}}
`, []any{"web", "Deployment/web", "cpu: 20%/50%, memory: <unknown>/100Mi + 1 more...", "<unset>", int64(5), int64(2), "60m"}},
		{"pdb with minAvailable", `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {minAvailable: 2, selector: {matchLabels: {app: web}}}
status: {disruptionsAllowed: 1, currentHealthy: 3, desiredHealthy: 2, expectedPods: 3}
`, []any{"web", "2", "N/A", int64(1), "60m"}},
		{"pdb with a percentage, no status yet", `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db, creationTimestamp: "2024-01-01T11:00:00Z"}
spec: {maxUnavailable: 25%, selector: {matchLabels: {app: db}}}
`, []any{"db", "N/A", "25%", int64(0), "60m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, obj := decode(t, tc.manifest)
			got := Cells(k, obj, testNow)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cells\n got: %#v\nwant: %#v", got, tc.want)
			}
		})
	}
}

func TestSummarizePod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status string // the pod's status, YAML
		extra  string // more spec or metadata, YAML
		want   PodSummary
	}{
		{"creating", `{phase: Pending, containerStatuses: [{name: a, state: {waiting: {reason: ContainerCreating}}}]}`, "",
			PodSummary{"0/1", "ContainerCreating", "0"}},
		{"crash loop", `{phase: Running, containerStatuses: [{name: a, restartCount: 17, state: {waiting: {reason: CrashLoopBackOff}}, lastState: {terminated: {exitCode: 1, finishedAt: "2024-01-01T11:55:00Z"}}}]}`, "",
			PodSummary{"0/1", "CrashLoopBackOff", "17 (5m ago)"}},
		{"completed", `{phase: Succeeded, containerStatuses: [{name: a, state: {terminated: {exitCode: 0, reason: Completed}}}]}`, "",
			PodSummary{"0/1", "Completed", "0"}},
		{"terminating", `{phase: Running, containerStatuses: [{name: a, ready: true, state: {running: {}}}]}`, "deleting",
			PodSummary{"1/1", "Terminating", "0"}},
		{"finished pod being deleted keeps its reason", `{phase: Succeeded, containerStatuses: [{name: a, state: {terminated: {exitCode: 0, reason: Completed}}}]}`, "deleting",
			PodSummary{"0/1", "Completed", "0"}},
		{"init progress", `{phase: Pending, initContainerStatuses: [{name: i1, state: {terminated: {exitCode: 0, reason: Completed}}}, {name: i2, state: {running: {}}}], containerStatuses: [{name: a, state: {waiting: {reason: PodInitializing}}}]}`, "init",
			PodSummary{"0/1", "Init:1/2", "0"}},
		{"init failed", `{phase: Pending, initContainerStatuses: [{name: i1, state: {terminated: {exitCode: 2}}}]}`, "init",
			PodSummary{"0/1", "Init:ExitCode:2", "0"}},
		{"sidecar counts as a container", `{phase: Running, conditions: [{type: Initialized, status: "True"}], initContainerStatuses: [{name: i1, state: {terminated: {exitCode: 0}}}, {name: side, started: true, ready: true, restartCount: 1, state: {running: {}}}], containerStatuses: [{name: a, ready: true, state: {running: {}}}]}`, "sidecar",
			PodSummary{"2/2", "Running", "1"}},
		{"one container done, one running, pod not ready", `{phase: Running, containerStatuses: [{name: a, state: {terminated: {exitCode: 0, reason: Completed}}}, {name: b, ready: true, state: {running: {}}}]}`, "two",
			PodSummary{"1/2", "NotReady", "0"}},
		{"one container failed, one completed: the failure shows", `{phase: Running, containerStatuses: [{name: a, state: {terminated: {exitCode: 0, reason: Completed}}}, {name: b, state: {terminated: {exitCode: 3, reason: Error}}}]}`, "two",
			PodSummary{"0/2", "Error", "0"}},
		{"scheduling gated", `{phase: Pending, conditions: [{type: PodScheduled, status: "False", reason: SchedulingGated}]}`, "",
			PodSummary{"0/1", "SchedulingGated", "0"}},
		{"node lost", `{phase: Running, reason: NodeLost}`, "deleting",
			PodSummary{"0/1", "Unknown", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := "{containers: [{name: a, image: a}]}"
			meta := "{name: p}"
			switch tc.extra {
			case "deleting":
				meta = `{name: p, deletionTimestamp: "2024-01-01T11:59:30Z"}`
			case "init":
				spec = "{initContainers: [{name: i1, image: i}, {name: i2, image: i}], containers: [{name: a, image: a}]}"
			case "sidecar":
				spec = "{initContainers: [{name: i1, image: i}, {name: side, image: s, restartPolicy: Always}], containers: [{name: a, image: a}]}"
			case "two":
				spec = "{containers: [{name: a, image: a}, {name: b, image: b}]}"
			}
			_, obj := decode(t, "apiVersion: v1\nkind: Pod\nmetadata: "+meta+"\nspec: "+spec+"\nstatus: "+tc.status+"\n")
			if got := SummarizePod(obj.(*corev1.Pod), testNow); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "<invalid>"},
		{-time.Second, "0s"},
		{0, "0s"},
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{3*time.Minute + 20*time.Second, "3m20s"},
		{9*time.Minute + 59*time.Second, "9m59s"},
		{10*time.Minute + 30*time.Second, "10m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{5*time.Hour + 7*time.Minute, "5h7m"},
		{8*time.Hour + 30*time.Minute, "8h"},
		{47 * time.Hour, "47h"},
		{48 * time.Hour, "2d"},
		{50 * time.Hour, "2d2h"},
		{7*24*time.Hour + 23*time.Hour, "7d23h"},
		{8 * 24 * time.Hour, "8d"},
		{400 * 24 * time.Hour, "400d"},
		{2 * 365 * 24 * time.Hour, "2y"},
		{(3*365 + 10) * 24 * time.Hour, "3y10d"},
		{9 * 365 * 24 * time.Hour, "9y"},
	} {
		t.Run(tc.d.String(), func(t *testing.T) {
			if got := HumanDuration(tc.d); got != tc.want {
				t.Errorf("HumanDuration(%v) = %q, want %q", tc.d, got, tc.want)
			}
		})
	}
	if got := Age(nil, testNow); got != "<unknown>" {
		t.Errorf("Age(nil) = %q", got)
	}
}

// TestPodTableJSON pins the JSON of a Table as the apiserver would send it,
// the caller having filled in the objects and the list metadata.
func TestPodTableJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/pods.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var k *scheme.Kind
	var objs []scheme.Object
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var o scheme.Object
		k, o = decode(t, doc)
		objs = append(objs, o)
	}
	table := NewTable(k, objs, testNow)
	table.Metadata.ResourceVersion = "1234"
	for i, o := range objs {
		raw, err := codec.MarshalJSON(o)
		if err != nil {
			t.Fatal(err)
		}
		table.Rows[i].Object = raw
	}
	got, err := json.MarshalIndent(table, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pod-table.json", append(got, '\n'))

	// The rows' cells decode as Kubernetes' would: what a client reads back.
	var back struct {
		Kind    string `json:"kind"`
		Columns []struct {
			Name     string `json:"name"`
			Priority int32  `json:"priority"`
		} `json:"columnDefinitions"`
		Rows []struct {
			Cells  []any           `json:"cells"`
			Object json.RawMessage `json:"object"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if back.Kind != "Table" || len(back.Columns) != 9 || len(back.Rows) != len(objs) || len(back.Rows[0].Cells) != 9 || len(back.Rows[0].Object) == 0 {
		t.Errorf("unexpected table shape: %+v", back)
	}
}

func TestNewTableEmpty(t *testing.T) {
	k, err := scheme.ByResource("services")
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(NewTable(k, nil, testNow))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"rows":[]`) || !strings.HasPrefix(string(got), `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{},"columnDefinitions":[{"name":"Name","type":"string","format":"name",`) {
		t.Errorf("got %s", got)
	}
}
