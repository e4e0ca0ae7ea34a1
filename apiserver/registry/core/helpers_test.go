package core

import (
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	vt "minik8s/apiserver/validation/validationtest"
)

// Valid objects of each core kind, before defaulting.

var webLabels = map[string]string{"app": "web"}

func validPod() *corev1.Pod {
	return &corev1.Pod{Metadata: vt.Meta("web-1", "default", webLabels), Spec: vt.PodSpec()}
}

func validService() *corev1.Service {
	return &corev1.Service{Metadata: vt.Meta("web", "default", nil), Spec: &corev1.ServiceSpec{
		Selector: webLabels,
		Ports:    []*corev1.ServicePort{{Port: 80}},
	}}
}

func validEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{Metadata: vt.Meta("web", "default", nil), Subsets: []*corev1.EndpointSubset{{
		Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.5"}},
		Ports:     []*corev1.EndpointPort{{Port: 80}},
	}}}
}

func validNode() *corev1.Node {
	return &corev1.Node{Metadata: vt.Meta("node-a", "", nil),
		Spec:   &corev1.NodeSpec{PodCIDR: "10.244.1.0/24", Taints: []*corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}}},
		Status: &corev1.NodeStatus{Capacity: map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"}},
	}
}

func validNamespace() *corev1.Namespace {
	return &corev1.Namespace{Metadata: vt.Meta("team-a", "", nil)}
}

func validEvent() *corev1.Event {
	return &corev1.Event{Metadata: vt.Meta("web-1.17a2b3", "default", nil),
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"},
		Reason:         "Scheduled", Message: "assigned default/web-1 to node-a",
	}
}

func validConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: vt.Meta("settings", "default", nil),
		Data: map[string]string{"app.conf": "x=1"}, BinaryData: map[string][]byte{"logo.png": {1, 2}}}
}

func validSecret() *corev1.Secret {
	return &corev1.Secret{Metadata: vt.Meta("creds", "default", nil), Data: map[string][]byte{"password": []byte("s3cret")}}
}

func validServiceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{Metadata: vt.Meta("builder", "default", nil),
		ImagePullSecrets: []*corev1.LocalObjectReference{{Name: "registry"}}}
}

func validResourceQuota() *corev1.ResourceQuota {
	return &corev1.ResourceQuota{Metadata: vt.Meta("quota", "default", nil),
		Spec: &corev1.ResourceQuotaSpec{Hard: map[string]string{"pods": "10", "requests.cpu": "4"}}}
}

func validLimitRange() *corev1.LimitRange {
	return &corev1.LimitRange{Metadata: vt.Meta("limits", "default", nil), Spec: &corev1.LimitRangeSpec{Limits: []*corev1.LimitRangeItem{{
		Type:           "Container",
		Min:            map[string]string{"cpu": "50m"},
		DefaultRequest: map[string]string{"cpu": "100m"},
		Default:        map[string]string{"cpu": "500m"},
		Max:            map[string]string{"cpu": "1"},
	}}}}
}

func validRC() *corev1.ReplicationController {
	return &corev1.ReplicationController{Metadata: vt.Meta("web", "default", nil),
		Spec: &corev1.ReplicationControllerSpec{Template: vt.PodTemplate(webLabels)}}
}

func validBinding() *corev1.Binding {
	return &corev1.Binding{Metadata: vt.Meta("web-1", "default", nil), Target: &corev1.ObjectReference{Kind: "Node", Name: "node-a"}}
}

// Small builders used by cases.

func intStr(n int32) *metav1.IntOrString  { return &metav1.IntOrString{IntVal: n} }
func strVal(s string) *metav1.IntOrString { return &metav1.IntOrString{Type: 1, StrVal: s} }
