package apps

import (
	"google.golang.org/protobuf/types/known/structpb"

	appsv1 "minik8s/api/apps/v1"
	metav1 "minik8s/api/meta/v1"
	vt "minik8s/apiserver/validation/validationtest"
)

// Valid objects of each apps kind, before defaulting.

var webLabels = map[string]string{"app": "web"}

func webSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
}

func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{Metadata: vt.Meta("web", "default", nil),
		Spec: &appsv1.DeploymentSpec{Selector: webSelector(), Template: vt.PodTemplate(webLabels)}}
}

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{Metadata: vt.Meta("web-5d4f", "default", nil),
		Spec: &appsv1.ReplicaSetSpec{Selector: webSelector(), Template: vt.PodTemplate(webLabels)}}
}

func validDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{Metadata: vt.Meta("agent", "kube-system", nil),
		Spec: &appsv1.DaemonSetSpec{Selector: webSelector(), Template: vt.PodTemplate(webLabels)}}
}

func validStatefulSet() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{Metadata: vt.Meta("db", "default", nil),
		Spec: &appsv1.StatefulSetSpec{Selector: webSelector(), Template: vt.PodTemplate(webLabels), ServiceName: "db"}}
}

func validControllerRevision() *appsv1.ControllerRevision {
	data, _ := structpb.NewStruct(map[string]any{"spec": map[string]any{"template": "x"}})
	return &appsv1.ControllerRevision{Metadata: vt.Meta("agent-7f9c", "kube-system", nil), Data: data, Revision: 1}
}
