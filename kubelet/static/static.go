// Package static reads static pods from the kubelet's manifest directory
// and keeps their mirror pods in the apiserver. Static pods run without
// any apiserver; when one is reachable, each gets a mirror pod (same
// namespace, name suffixed with the node name, annotation
// kubernetes.io/config.mirror) that shows its status and is recreated if
// someone deletes it.
package static

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"minik8s/api/codec"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
)

// Annotations Kubernetes uses for static and mirror pods.
const (
	AnnotationSource = "kubernetes.io/config.source"
	AnnotationHash   = "kubernetes.io/config.hash"
	AnnotationMirror = corev1.AnnotationMirrorPod
	AnnotationSeen   = "kubernetes.io/config.seen"
)

// IsMirror reports whether pod is a mirror pod.
func IsMirror(pod *corev1.Pod) bool {
	_, ok := pod.GetMetadata().GetAnnotations()[AnnotationMirror]
	return ok
}

// IsStatic reports whether pod came from a manifest file.
func IsStatic(pod *corev1.Pod) bool {
	return pod.GetMetadata().GetAnnotations()[AnnotationSource] == "file"
}

// Load reads every manifest (*.yaml, *.yml, *.json) in dir and returns the
// static pods, named <name>-<node>, with a UID derived from the node and
// the manifest so it is stable across kubelet restarts. Files that do not
// hold a valid Pod are reported in errs and skipped.
func Load(dir, nodeName string) (pods []*corev1.Pod, errs []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, []error{fmt.Errorf("read manifest dir %s: %w", dir, err)}
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		switch filepath.Ext(name) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", path, err))
			continue
		}
		pod, err := Decode(data, nodeName)
		if err != nil {
			errs = append(errs, fmt.Errorf("static pod %s: %w", path, err))
			continue
		}
		pod.Metadata.Annotations["kubernetes.io/config.file"] = path
		pods = append(pods, pod)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Metadata.Name < pods[j].Metadata.Name })
	return pods, errs
}

// Decode turns one manifest into a static pod of nodeName.
func Decode(data []byte, nodeName string) (*corev1.Pod, error) {
	obj, _, err := codec.DecodeObject(data)
	if err != nil {
		return nil, err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, fmt.Errorf("manifest holds a %s, not a Pod", obj.GetKind())
	}
	md := pod.GetMetadata()
	if md == nil || md.GetName() == "" {
		return nil, fmt.Errorf("pod has no metadata.name")
	}
	if pod.Spec == nil || len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("pod %s has no containers", md.Name)
	}
	if md.Namespace == "" {
		md.Namespace = "default"
	}
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(pod)
	sum := sha256.Sum256(append([]byte(nodeName+"\x00"), raw...))
	h := hex.EncodeToString(sum[:16])
	md.Uid = UIDFromHash(h)
	md.Name = md.Name + "-" + nodeName
	if md.Annotations == nil {
		md.Annotations = map[string]string{}
	}
	md.Annotations[AnnotationSource] = "file"
	md.Annotations[AnnotationHash] = h
	md.Annotations[AnnotationSeen] = time.Now().UTC().Format(time.RFC3339)
	pod.ApiVersion, pod.Kind = "v1", "Pod"
	spec := pod.Spec
	spec.NodeName = nodeName
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = "Always"
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = proto.Int64(30)
	}
	if spec.DnsPolicy == "" {
		spec.DnsPolicy = "ClusterFirst"
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = "default-scheduler"
	}
	pod.Status = &corev1.PodStatus{Phase: corev1.PodPending}
	return pod, nil
}

// Watch polls dir every period and calls update with the full set of
// static pods whenever it changed (and once at the start). It returns when
// ctx ends.
func Watch(ctx context.Context, dir, nodeName string, period time.Duration, log *slog.Logger, update func([]*corev1.Pod)) {
	var last string
	first := true
	for {
		pods, errs := Load(dir, nodeName)
		for _, err := range errs {
			log.Warn("skipping static pod manifest", "err", err)
		}
		var b strings.Builder
		for _, p := range pods {
			b.WriteString(p.Metadata.Uid + ";")
		}
		if first || b.String() != last {
			update(pods)
			last, first = b.String(), false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(period):
		}
	}
}

// UIDFromHash returns the UID of the static pod whose config hash is h
// (the mirror pod's kubernetes.io/config.mirror annotation).
func UIDFromHash(h string) string {
	if len(h) < 32 {
		return ""
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// MirrorOf returns the mirror pod of a static pod: the same spec and
// metadata with the mirror annotation, owned (as its controller) by the
// Node named node with uid nodeUID, as the NodeRestriction admission
// plugin requires of a kubelet's mirror pods.
func MirrorOf(pod *corev1.Pod, node, nodeUID string) *corev1.Pod {
	controller := true
	m := &corev1.Pod{
		ApiVersion: "v1", Kind: "Pod",
		Metadata: &metav1.ObjectMeta{
			Name: pod.Metadata.Name, Namespace: pod.Metadata.Namespace,
			Labels: pod.Metadata.Labels, Annotations: map[string]string{},
			OwnerReferences: []*metav1.OwnerReference{{ApiVersion: "v1", Kind: "Node", Name: node, Uid: nodeUID, Controller: &controller}},
		},
		Spec: proto.Clone(pod.Spec).(*corev1.PodSpec),
	}
	for k, v := range pod.Metadata.Annotations {
		m.Metadata.Annotations[k] = v
	}
	m.Metadata.Annotations[AnnotationMirror] = pod.Metadata.Annotations[AnnotationHash]
	return m
}
