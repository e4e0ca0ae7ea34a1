// Package core holds the strategies of the core (v1) kinds - pods,
// services, endpoints, nodes, namespaces, events, configmaps, secrets,
// serviceaccounts, resourcequotas, limitranges, replicationcontrollers,
// bindings - and the pod-spec defaults and checks every workload template
// shares (DefaultPodTemplate, ValidateWorkloadTemplate).
package core

import (
	"strings"

	corev1 "minik8s/api/core/v1"
)

// DefaultPodTemplate fills the defaults of a workload's pod template
// (Deployment, ReplicaSet, ... spec.template); see DefaultPodSpec.
func DefaultPodTemplate(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	if t.Spec == nil {
		t.Spec = &corev1.PodSpec{}
	}
	DefaultPodSpec(t.Spec)
}

// DefaultPodSpec fills what Kubernetes defaults in every pod spec, pods
// and templates alike: restartPolicy Always, dnsPolicy ClusterFirst,
// schedulerName default-scheduler, a 30s grace period, volume modes and
// sources, and per container the pull policy, termination message, port
// protocol and probe timings.
func DefaultPodSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = "Always"
	}
	if s.DnsPolicy == "" {
		s.DnsPolicy = "ClusterFirst"
	}
	if s.SchedulerName == "" {
		s.SchedulerName = "default-scheduler"
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = new(int64(30))
	}
	for _, v := range s.Volumes {
		defaultVolume(v)
	}
	for _, c := range s.InitContainers {
		defaultContainer(c, s.HostNetwork)
	}
	for _, c := range s.Containers {
		defaultContainer(c, s.HostNetwork)
	}
}

// defaultFileMode is 0644, the mode of files projected from a ConfigMap,
// Secret or the downward API.
const defaultFileMode = int32(0o644)

func defaultVolume(v *corev1.Volume) {
	if v.HostPath == nil && v.EmptyDir == nil && v.Secret == nil && v.PersistentVolumeClaim == nil &&
		v.DownwardAPI == nil && v.ConfigMap == nil && v.Projected == nil {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if v.HostPath != nil && v.HostPath.Type == nil {
		v.HostPath.Type = new("")
	}
	if s := v.Secret; s != nil && s.DefaultMode == nil {
		s.DefaultMode = new(defaultFileMode)
	}
	if c := v.ConfigMap; c != nil && c.DefaultMode == nil {
		c.DefaultMode = new(defaultFileMode)
	}
	if d := v.DownwardAPI; d != nil && d.DefaultMode == nil {
		d.DefaultMode = new(defaultFileMode)
	}
	if p := v.Projected; p != nil && p.DefaultMode == nil {
		p.DefaultMode = new(defaultFileMode)
	}
}

func defaultContainer(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = "/dev/termination-log"
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = "File"
	}
	for _, p := range c.Ports {
		if p.Protocol == "" {
			p.Protocol = "TCP"
		}
		// On the host network the container port is the host port.
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for _, e := range c.Env {
		if f := e.GetValueFrom().GetFieldRef(); f != nil && f.ApiVersion == "" {
			f.ApiVersion = "v1"
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		defaultProbe(p)
	}
	if l := c.Lifecycle; l != nil {
		defaultHTTPGet(l.PostStart.GetHttpGet())
		defaultHTTPGet(l.PreStop.GetHttpGet())
	}
}

// defaultPullPolicy is Always for an image without a tag or tagged
// "latest" (it may change under the same name), IfNotPresent otherwise.
func defaultPullPolicy(image string) string {
	if strings.Contains(image, "@") {
		return "IfNotPresent" // pinned by digest
	}
	last := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(last, ":")
	if !ok || tag == "latest" {
		return "Always"
	}
	return "IfNotPresent"
}

func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	defaultHTTPGet(p.HttpGet)
}

func defaultHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = "HTTP"
	}
}
