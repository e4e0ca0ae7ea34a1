package staticpods

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "minik8s/api/apps/v1"
	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	apiserverapp "minik8s/apiserver/app"
	cmapp "minik8s/controller-manager/app"
	"minik8s/deploy/images"
	proxyapp "minik8s/kube-proxy/app"
	"minik8s/kubelet/static"
	schedapp "minik8s/scheduler/app"

	_ "minik8s/api/all"
)

// flagSets returns, per component, a flag set with the daemon's own flags,
// so the rendered args are checked against what the binaries accept.
func flagSets() map[string]*flag.FlagSet {
	out := map[string]*flag.FlagSet{}
	fs := flag.NewFlagSet(APIServer, flag.ContinueOnError)
	new(apiserverapp.Options).AddFlags(fs)
	out[APIServer] = fs
	fs = flag.NewFlagSet(Scheduler, flag.ContinueOnError)
	schedapp.NewOptions().AddFlags(fs)
	out[Scheduler] = fs
	fs = flag.NewFlagSet(ControllerManager, flag.ContinueOnError)
	new(cmapp.Options).AddFlags(fs)
	out[ControllerManager] = fs
	return out
}

// TestRender: four pods in kube-system on the host network, decodable by
// the kubelet's static pod loader, with the project's images, args each
// daemon parses, probes on loopback health ports, and etcd's data in the
// configured hostPath.
func TestRender(t *testing.T) {
	cfg := Config{NodeIP: "10.250.0.11", EtcdDataDir: "/data/etcd", ImagePrefix: "127.0.0.1:5000/",
		ExtraArgs: map[string][]string{Scheduler: {"--parallel-binds=8"}}}
	ms, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(Components) {
		t.Fatalf("%d manifests, want %d", len(ms), len(Components))
	}
	repos := map[string]string{Etcd: images.EtcdRepo, APIServer: images.APIServerRepo, Scheduler: images.SchedulerRepo, ControllerManager: images.ControllerManagerRepo}
	sets := flagSets()
	for i, m := range ms {
		if m.Component != Components[i] || m.File != Components[i]+".yaml" {
			t.Errorf("manifest %d: %s in %s", i, m.Component, m.File)
		}
		pod, err := static.Decode(m.Data, "master")
		if err != nil {
			t.Fatalf("%s: %v\n%s", m.File, err, m.Data)
		}
		if pod.Metadata.Namespace != "kube-system" || pod.Metadata.Name != m.Component+"-master" || !pod.Spec.HostNetwork {
			t.Errorf("%s: %s/%s hostNetwork=%v", m.File, pod.Metadata.Namespace, pod.Metadata.Name, pod.Spec.HostNetwork)
		}
		if pod.Metadata.Labels["tier"] != "control-plane" || pod.Metadata.Labels["component"] != m.Component {
			t.Errorf("%s: labels %v", m.File, pod.Metadata.Labels)
		}
		c := pod.Spec.Containers[0]
		if want := "127.0.0.1:5000/" + images.Image(repos[m.Component]); c.Image != want {
			t.Errorf("%s: image %s, want %s", m.File, c.Image, want)
		}
		for _, p := range []*corev1.Probe{c.StartupProbe, c.LivenessProbe} {
			if p.GetHttpGet().GetHost() != "127.0.0.1" || p.GetHttpGet().GetPath() == "" {
				t.Errorf("%s: probe %v", m.File, p)
			}
		}
		if fs := sets[m.Component]; fs != nil {
			if err := fs.Parse(c.Command[1:]); err != nil || fs.NArg() != 0 {
				t.Errorf("%s: args %v: %v (left %v)", m.File, c.Command[1:], err, fs.Args())
			}
		}
		args := strings.Join(c.Command, " ")
		switch m.Component {
		case Etcd:
			if pod.Spec.Volumes[0].GetHostPath().GetPath() != "/data/etcd" || c.VolumeMounts[0].MountPath != "/var/lib/etcd" ||
				!strings.Contains(args, "--data-dir=/var/lib/etcd") || !strings.Contains(args, "--initial-cluster=master=https://10.250.0.11:2380") {
				t.Errorf("etcd: %s volumes %v", args, pod.Spec.Volumes)
			}
		case APIServer:
			if !strings.Contains(args, "--advertise-address=10.250.0.11") || !strings.Contains(args, "--etcd-servers=https://127.0.0.1:2379") || !strings.Contains(args, "--client-ca-file=/etc/kubernetes/pki/ca.crt") {
				t.Errorf("apiserver: %s", args)
			}
		case Scheduler:
			if !strings.Contains(args, "--server=10.250.0.11:6443") || !strings.HasSuffix(args, " --parallel-binds=8") {
				t.Errorf("scheduler: %s", args)
			}
		case ControllerManager:
			if !strings.Contains(args, "--server=10.250.0.11:6443") {
				t.Errorf("controller-manager: %s", args)
			}
		}
	}
	if got := cfg.APIServerAddress(); got != "10.250.0.11:6443" {
		t.Errorf("APIServerAddress %s", got)
	}
}

func TestRenderRejects(t *testing.T) {
	for _, c := range []Config{{}, {NodeIP: "::1"}, {NodeIP: "10.0.0.1", EtcdDataDir: "rel"},
		{NodeIP: "10.0.0.1", ExtraArgs: map[string][]string{"kubelet": {"-v"}}}} {
		if _, err := Render(c); err == nil {
			t.Errorf("Render(%+v) succeeded", c)
		}
	}
}

// TestWrite: the files land complete, with no temporary file left.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "manifests")
	if err := Write(dir, Config{NodeIP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	pods, errs := static.Load(dir, "n1")
	if len(errs) > 0 || len(pods) != 4 {
		t.Fatalf("loaded %d pods, errors %v", len(pods), errs)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("%d files in %s", len(entries), dir)
	}
}

// TestKubeProxyManifest: deploy/addons/kube-proxy.yaml decodes strictly; its
// DaemonSet runs on every node (tolerates everything, host network,
// privileged) the image deploy/images pushes, and its args, once the kubelet
// expands $(VAR) from the env, are flags kube-proxy accepts.
func TestKubeProxyManifest(t *testing.T) {
	const path = "../addons/kube-proxy.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"`+KubeProxyDefaultServer+`"`) {
		t.Fatalf("%s no longer holds %s, which the harness replaces", path, KubeProxyDefaultServer)
	}
	objs, err := codec.DecodeObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	var ds *appsv1.DaemonSet
	for _, o := range objs {
		if o.GetMetadata().GetNamespace() != "kube-system" {
			t.Errorf("%s %s not in kube-system", o.GetKind(), o.GetMetadata().GetName())
		}
		if d, ok := o.(*appsv1.DaemonSet); ok {
			ds = d
		}
	}
	if ds == nil {
		t.Fatal("no DaemonSet")
	}
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork || len(spec.Tolerations) != 1 || spec.Tolerations[0].Operator != "Exists" || spec.Tolerations[0].Key != "" {
		t.Errorf("hostNetwork %v tolerations %v", spec.HostNetwork, spec.Tolerations)
	}
	c := spec.Containers[0]
	if c.Image != images.Image(images.KubeProxyRepo) || !c.GetSecurityContext().GetPrivileged() {
		t.Errorf("image %s security %v", c.Image, c.SecurityContext)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			env[e.Name] = "from:" + e.ValueFrom.GetFieldRef().GetFieldPath()
		} else {
			env[e.Name] = e.Value
		}
	}
	if env["NODE_NAME"] != "from:spec.nodeName" || env["KUBE_APISERVER"] != KubeProxyDefaultServer {
		t.Errorf("env %v", env)
	}
	ref := regexp.MustCompile(`\$\(([A-Z_]+)\)`)
	args := make([]string, 0, len(c.Command))
	for _, a := range append(c.Command[1:], c.Args...) {
		args = append(args, ref.ReplaceAllStringFunc(a, func(m string) string { return env[ref.FindStringSubmatch(m)[1]] }))
	}
	o := proxyapp.NewOptions()
	fs := flag.NewFlagSet("kube-proxy", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		t.Fatalf("kube-proxy args %v: %v", args, err)
	}
	if o.Server != KubeProxyDefaultServer || o.HostnameOverride != "from:spec.nodeName" {
		t.Errorf("server %q hostname %q", o.Server, o.HostnameOverride)
	}
}
