package core

import (
	"testing"

	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/registry"
	vt "minik8s/apiserver/validation/validationtest"
)

type podCase = vt.Case[*corev1.Pod]

func TestPodDefaults(t *testing.T) {
	pod := validPod()
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: intStr(80)}}
	pod.Spec.Containers = append(pod.Spec.Containers, &corev1.Container{Name: "sidecar", Image: "busybox"})
	registry.For("pods").Default(pod)
	s := pod.Spec
	for what, ok := range map[string]bool{
		"restartPolicy":       s.RestartPolicy == "Always",
		"dnsPolicy":           s.DnsPolicy == "ClusterFirst",
		"schedulerName":       s.SchedulerName == "default-scheduler",
		"grace period":        s.GetTerminationGracePeriodSeconds() == 30,
		"serviceAccountName":  s.ServiceAccountName == "default" && s.ServiceAccount == "default",
		"enableServiceLinks":  s.GetEnableServiceLinks(),
		"tagged pull policy":  s.Containers[0].ImagePullPolicy == "IfNotPresent",
		"untagged pull":       s.Containers[1].ImagePullPolicy == "Always",
		"termination path":    s.Containers[0].TerminationMessagePath == "/dev/termination-log",
		"termination policy":  s.Containers[0].TerminationMessagePolicy == "File",
		"port protocol":       s.Containers[0].Ports[0].Protocol == "TCP",
		"probe timeout":       s.Containers[0].LivenessProbe.TimeoutSeconds == 1,
		"probe period":        s.Containers[0].LivenessProbe.PeriodSeconds == 10,
		"probe success":       s.Containers[0].LivenessProbe.SuccessThreshold == 1,
		"probe failure":       s.Containers[0].LivenessProbe.FailureThreshold == 3,
		"probe http defaults": s.Containers[0].LivenessProbe.HttpGet.Path == "/" && s.Containers[0].LivenessProbe.HttpGet.Scheme == "HTTP",
		"phase":               pod.Status.GetPhase() == "Pending",
		"qos":                 pod.Status.GetQosClass() == "BestEffort",
	} {
		if !ok {
			t.Errorf("default %s not applied: %v", what, pod)
		}
	}
}

func TestPullPolicy(t *testing.T) {
	for image, want := range map[string]string{
		"nginx": "Always", "nginx:latest": "Always", "nginx:1.25": "IfNotPresent",
		"localhost:5000/nginx": "Always", "localhost:5000/nginx:v1": "IfNotPresent",
		"nginx@sha256:abcd": "IfNotPresent",
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%s: got %s, want %s", image, got, want)
		}
	}
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim map[string]string) *corev1.PodSpec {
		return &corev1.PodSpec{Containers: []*corev1.Container{{Resources: &corev1.ResourceRequirements{Requests: req, Limits: lim}}}}
	}
	full := map[string]string{"cpu": "500m", "memory": "128Mi"}
	for _, c := range []struct {
		spec *corev1.PodSpec
		want string
	}{
		{res(nil, nil), "BestEffort"},
		{res(full, full), "Guaranteed"},
		{res(map[string]string{"cpu": "0.5", "memory": "128Mi"}, full), "Guaranteed"},
		{res(map[string]string{"cpu": "100m"}, nil), "Burstable"},
		{res(map[string]string{"cpu": "100m", "memory": "128Mi"}, full), "Burstable"},
	} {
		if got := QOSClass(c.spec); got != c.want {
			t.Errorf("%v: got %s, want %s", c.spec, got, c.want)
		}
	}
	// Limits alone default the requests, so the pod is Guaranteed.
	pod := validPod()
	pod.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Limits: full}
	registry.For("pods").Default(pod)
	if pod.Status.QosClass != "Guaranteed" || pod.Spec.Containers[0].Resources.Requests["cpu"] != "500m" {
		t.Errorf("limits only: qos %s, requests %v", pod.Status.QosClass, pod.Spec.Containers[0].Resources.Requests)
	}
}

func TestPodValidate(t *testing.T) {
	c0 := func(p *corev1.Pod) *corev1.Container { return p.Spec.Containers[0] }
	vt.Validate(t, "pods", validPod, []podCase{
		vt.C("no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers"),
		vt.C("no image", func(p *corev1.Pod) { c0(p).Image = "" }, "spec.containers[0].image"),
		vt.C("bad container name", func(p *corev1.Pod) { c0(p).Name = "Web" }, "spec.containers[0].name"),
		vt.C("duplicate container across init", func(p *corev1.Pod) {
			p.Spec.InitContainers = []*corev1.Container{{Name: "web", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File"}}
		}, "spec.containers[0].name"),
		vt.C("port zero", func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 0 }, "spec.containers[0].ports[0].containerPort"),
		vt.C("port too big", func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 70000 }, "spec.containers[0].ports[0].containerPort"),
		vt.C("bad port name", func(p *corev1.Pod) { c0(p).Ports[0].Name = "HTTP_PORT" }, "spec.containers[0].ports[0].name"),
		vt.C("bad protocol", func(p *corev1.Pod) { c0(p).Ports[0].Protocol = "ICMP" }, "spec.containers[0].ports[0].protocol"),
		vt.C("hostNetwork port mismatch", func(p *corev1.Pod) { p.Spec.HostNetwork = true; c0(p).Ports[0].HostPort = 8080 }, "spec.containers[0].ports[0].containerPort"),
		vt.C("bad env name", func(p *corev1.Pod) { c0(p).Env = []*corev1.EnvVar{{Name: "1X"}} }, "spec.containers[0].env[0].name"),
		vt.C("env value and valueFrom", func(p *corev1.Pod) {
			c0(p).Env = []*corev1.EnvVar{{Name: "X", Value: "1", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
		}, "spec.containers[0].env[0].valueFrom"),
		vt.C("secret key ref without key", func(p *corev1.Pod) {
			c0(p).Env = []*corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "s"}}}}
		}, "spec.containers[0].env[0].valueFrom.secretKeyRef.key"),
		vt.C("duplicate volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}, {Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}}
		}, "spec.volumes[1].name"),
		vt.C("two volume sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}
		}, "spec.volumes[0].emptyDir"),
		vt.C("mount of missing volume", func(p *corev1.Pod) {
			c0(p).VolumeMounts = []*corev1.VolumeMount{{Name: "nope", MountPath: "/data"}}
		}, "spec.containers[0].volumeMounts[0].name"),
		vt.C("mount without path", func(p *corev1.Pod) {
			p.Spec.Volumes = []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			c0(p).VolumeMounts = []*corev1.VolumeMount{{Name: "data"}}
		}, "spec.containers[0].volumeMounts[0].mountPath"),
		vt.C("mount ok", func(p *corev1.Pod) {
			p.Spec.Volumes = []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			c0(p).VolumeMounts = []*corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, ""),
		vt.C("restartPolicy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy"),
		vt.C("dnsPolicy", func(p *corev1.Pod) { p.Spec.DnsPolicy = "Google" }, "spec.dnsPolicy"),
		vt.C("dnsPolicy None without config", func(p *corev1.Pod) { p.Spec.DnsPolicy = "None" }, "spec.dnsConfig"),
		vt.C("bad cpu quantity", func(p *corev1.Pod) {
			c0(p).Resources = &corev1.ResourceRequirements{Requests: map[string]string{"cpu": "lots"}}
		}, "spec.containers[0].resources.requests[cpu]"),
		vt.C("request above limit", func(p *corev1.Pod) {
			c0(p).Resources = &corev1.ResourceRequirements{Requests: map[string]string{"memory": "1Gi"}, Limits: map[string]string{"memory": "512Mi"}}
		}, "spec.containers[0].resources.requests[memory]"),
		vt.C("probe without handler", func(p *corev1.Pod) { c0(p).ReadinessProbe = &corev1.Probe{PeriodSeconds: 10} }, "spec.containers[0].readinessProbe"),
		vt.C("probe with two handlers", func(p *corev1.Pod) {
			c0(p).LivenessProbe = &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: intStr(80)}, Exec: &corev1.ExecAction{Command: []string{"true"}}, SuccessThreshold: 1}
		}, "spec.containers[0].livenessProbe.tcpSocket"),
		vt.C("probe bad port", func(p *corev1.Pod) {
			c0(p).ReadinessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: intStr(0), Path: "/", Scheme: "HTTP"}}
		}, "spec.containers[0].readinessProbe.httpGet.port"),
		vt.C("probe named port", func(p *corev1.Pod) {
			c0(p).ReadinessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: strVal("http"), Path: "/", Scheme: "HTTP"}}
		}, ""),
		vt.C("liveness successThreshold", func(p *corev1.Pod) {
			c0(p).LivenessProbe = &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"true"}}, SuccessThreshold: 2}
		}, "spec.containers[0].livenessProbe.successThreshold"),
		vt.C("toleration operator", func(p *corev1.Pod) { p.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Maybe"}} }, "spec.tolerations[0].operator"),
		vt.C("toleration effect", func(p *corev1.Pod) {
			p.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Exists", Effect: "Sometimes"}}
		}, "spec.tolerations[0].effect"),
		vt.C("toleration Exists with value", func(p *corev1.Pod) {
			p.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Exists", Value: "v"}}
		}, "spec.tolerations[0].operator"),
		vt.C("toleration seconds without NoExecute", func(p *corev1.Pod) {
			p.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Exists", Effect: "NoSchedule", TolerationSeconds: new(int64(5))}}
		}, "spec.tolerations[0].effect"),
		vt.C("nodeSelector key", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key": "x"} }, "spec.nodeSelector"),
		vt.C("node affinity operator", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "zone", Operator: "Near"}}}}}}}
		}, "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator"),
		vt.C("pod anti-affinity without topologyKey", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{
				{LabelSelector: &metav1.LabelSelector{MatchLabels: webLabels}}}}}
		}, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"),
		vt.C("preferred weight", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []*corev1.WeightedPodAffinityTerm{
				{Weight: 0, PodAffinityTerm: &corev1.PodAffinityTerm{TopologyKey: "zone"}}}}}
		}, "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"),
		vt.C("init container probe", func(p *corev1.Pod) {
			p.Spec.InitContainers = []*corev1.Container{{Name: "init", Image: "busybox", ImagePullPolicy: "Always", TerminationMessagePolicy: "File",
				ReadinessProbe: &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}
		}, "spec.initContainers[0].readinessProbe"),
		vt.C("bad nodeName", func(p *corev1.Pod) { p.Spec.NodeName = "Node_A" }, "spec.nodeName"),
	})
}

func TestPodValidateUpdate(t *testing.T) {
	vt.ValidateUpdate(t, "pods", validPod, []podCase{
		vt.C("labels change", func(p *corev1.Pod) { p.Metadata.Labels = map[string]string{"app": "web", "v": "2"} }, ""),
		vt.C("image change", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.26" }, ""),
		vt.C("bind to node", func(p *corev1.Pod) { p.Spec.NodeName = "node-a" }, ""),
		vt.C("add toleration", func(p *corev1.Pod) { p.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Exists"}} }, ""),
		vt.C("set deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(60)) }, ""),
		vt.C("port change", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 81 }, "spec"),
		vt.C("restartPolicy change", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Never" }, "spec"),
		vt.C("add container", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "b", Image: "busybox"})
		}, "spec"),
	})
	// Once bound, a pod stays on its node; a set deadline may only shrink.
	bound := func() *corev1.Pod {
		p := validPod()
		p.Spec.NodeName = "node-a"
		p.Spec.ActiveDeadlineSeconds = new(int64(60))
		p.Spec.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Exists"}}
		return p
	}
	vt.ValidateUpdate(t, "pods", bound, []podCase{
		vt.C("move node", func(p *corev1.Pod) { p.Spec.NodeName = "node-b" }, "spec"),
		vt.C("raise deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(120)) }, "spec.activeDeadlineSeconds"),
		vt.C("drop deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil }, "spec.activeDeadlineSeconds"),
		vt.C("lower deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(30)) }, ""),
		vt.C("remove toleration", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, "spec.tolerations"),
	})
}

func TestPodUpdateMessage(t *testing.T) {
	s := registry.For("pods")
	old := validPod()
	s.Default(old)
	next := validPod()
	next.Spec.Containers[0].Ports[0].ContainerPort = 81
	s.Default(next)
	errs := s.ValidateUpdate(next, old)
	want := "spec: Forbidden: " + podUpdateForbidden + " (changed: spec.containers)"
	if len(errs) != 1 || errs[0].String() != want {
		t.Fatalf("got %v\nwant %s", errs, want)
	}
}
