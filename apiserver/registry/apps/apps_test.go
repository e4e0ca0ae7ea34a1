package apps

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	appsv1 "minik8s/api/apps/v1"
	corev1 "minik8s/api/core/v1"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/registry"
	vt "minik8s/apiserver/validation/validationtest"
)

func TestDeploymentDefaults(t *testing.T) {
	d := validDeployment()
	registry.For("deployments").Default(d)
	s := d.Spec
	ru := s.Strategy.GetRollingUpdate()
	if s.GetReplicas() != 1 || s.Strategy.Type != "RollingUpdate" || ru.GetMaxSurge().GetStrVal() != "25%" ||
		ru.GetMaxUnavailable().GetStrVal() != "25%" || s.GetRevisionHistoryLimit() != 10 || s.GetProgressDeadlineSeconds() != 600 {
		t.Errorf("defaults: %v", s)
	}
	if ps := s.Template.Spec; ps.RestartPolicy != "Always" || ps.DnsPolicy != "ClusterFirst" || ps.Containers[0].ImagePullPolicy != "IfNotPresent" {
		t.Errorf("template defaults: %v", ps)
	}
	if s.Template.Spec.ServiceAccountName != "" {
		t.Errorf("templates keep serviceAccountName unset, got %q", s.Template.Spec.ServiceAccountName)
	}
	r := validDeployment()
	r.Spec.Strategy = &appsv1.DeploymentStrategy{Type: "Recreate"}
	registry.For("deployments").Default(r)
	if r.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("Recreate got rollingUpdate defaults")
	}
}

func TestDeploymentValidate(t *testing.T) {
	vt.Validate(t, "deployments", validDeployment, []vt.Case[*appsv1.Deployment]{
		vt.C("no selector", func(d *appsv1.Deployment) { d.Spec.Selector = nil }, "spec.selector"),
		vt.C("empty selector", func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }, "spec.selector"),
		vt.C("selector mismatch", func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "db" }, "spec.template.metadata.labels"),
		vt.C("negative replicas", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(-1)) }, "spec.replicas"),
		vt.C("restartPolicy", func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = "Never" }, "spec.template.spec.restartPolicy"),
		vt.C("template container", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers = nil }, "spec.template.spec.containers"),
		vt.C("strategy type", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }, "spec.strategy.type"),
		vt.C("recreate with rollingUpdate", func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Recreate" }, "spec.strategy.rollingUpdate"),
		vt.C("both zero", func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = intStr(0)
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = percent("0%")
		}, "spec.strategy.rollingUpdate.maxUnavailable"),
		vt.C("surge only", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxUnavailable = intStr(0) }, ""),
		vt.C("bad percent", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = percent("lots") }, "spec.strategy.rollingUpdate.maxSurge"),
		vt.C("over 100%", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxUnavailable = percent("150%") }, "spec.strategy.rollingUpdate.maxUnavailable"),
		vt.C("negative surge", func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = intStr(-1) }, "spec.strategy.rollingUpdate.maxSurge"),
		vt.C("progress deadline", func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = 700 }, "spec.progressDeadlineSeconds"),
	})
	vt.ValidateUpdate(t, "deployments", validDeployment, []vt.Case[*appsv1.Deployment]{
		vt.C("scale", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(5)) }, ""),
		vt.C("new image", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26" }, ""),
		vt.C("selector", func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels["tier"] = "front"
			d.Spec.Template.Metadata.Labels["tier"] = "front"
		}, "spec.selector"),
	})
}

func TestReplicaSet(t *testing.T) {
	rs := validReplicaSet()
	registry.For("replicasets").Default(rs)
	if rs.Spec.GetReplicas() != 1 || rs.Spec.Template.Spec.SchedulerName != "default-scheduler" {
		t.Errorf("defaults: %v", rs.Spec)
	}
	vt.Validate(t, "replicasets", validReplicaSet, []vt.Case[*appsv1.ReplicaSet]{
		vt.C("selector mismatch", func(r *appsv1.ReplicaSet) {
			r.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "NotIn", Values: []string{"web"}}}}
		}, "spec.template.metadata.labels"),
		vt.C("bad selector", func(r *appsv1.ReplicaSet) {
			r.Spec.Selector.MatchExpressions = []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Like"}}
		}, "spec.selector.matchExpressions[0].operator"),
		vt.C("minReadySeconds", func(r *appsv1.ReplicaSet) { r.Spec.MinReadySeconds = -1 }, "spec.minReadySeconds"),
	})
	vt.ValidateUpdate(t, "replicasets", validReplicaSet, []vt.Case[*appsv1.ReplicaSet]{
		vt.C("scale", func(r *appsv1.ReplicaSet) { r.Spec.Replicas = new(int32(0)) }, ""),
		vt.C("selector", func(r *appsv1.ReplicaSet) {
			r.Spec.Selector.MatchExpressions = []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}
		}, "spec.selector"),
	})
}

func TestDaemonSet(t *testing.T) {
	ds := validDaemonSet()
	registry.For("daemonsets").Default(ds)
	us := ds.Spec.UpdateStrategy
	if us.Type != "RollingUpdate" || us.RollingUpdate.MaxUnavailable.GetIntVal() != 1 || ds.Spec.GetRevisionHistoryLimit() != 10 {
		t.Errorf("defaults: %v", ds.Spec)
	}
	vt.Validate(t, "daemonsets", validDaemonSet, []vt.Case[*appsv1.DaemonSet]{
		vt.C("no selector", func(d *appsv1.DaemonSet) { d.Spec.Selector = nil }, "spec.selector"),
		vt.C("strategy type", func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "Recreate" }, "spec.updateStrategy.type"),
		vt.C("both zero", func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = intStr(0) }, "spec.updateStrategy.rollingUpdate.maxUnavailable"),
		vt.C("restartPolicy", func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.RestartPolicy = "OnFailure" }, "spec.template.spec.restartPolicy"),
		vt.C("on delete", func(d *appsv1.DaemonSet) { d.Spec.UpdateStrategy.Type = "OnDelete" }, ""),
	})
	vt.ValidateUpdate(t, "daemonsets", validDaemonSet, []vt.Case[*appsv1.DaemonSet]{
		vt.C("selector", func(d *appsv1.DaemonSet) {
			d.Spec.Selector.MatchLabels["x"] = "y"
			d.Spec.Template.Metadata.Labels["x"] = "y"
		}, "spec.selector"),
	})
}

func TestStatefulSet(t *testing.T) {
	ss := validStatefulSet()
	registry.For("statefulsets").Default(ss)
	s := ss.Spec
	if s.GetReplicas() != 1 || s.PodManagementPolicy != "OrderedReady" || s.UpdateStrategy.Type != "RollingUpdate" ||
		s.UpdateStrategy.RollingUpdate.GetPartition() != 0 || s.UpdateStrategy.RollingUpdate.Partition == nil || s.GetRevisionHistoryLimit() != 10 {
		t.Errorf("defaults: %v", s)
	}
	vt.Validate(t, "statefulsets", validStatefulSet, []vt.Case[*appsv1.StatefulSet]{
		vt.C("podManagementPolicy", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }, "spec.podManagementPolicy"),
		vt.C("negative partition", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(-1)) }, "spec.updateStrategy.rollingUpdate.partition"),
		vt.C("OnDelete with rollingUpdate", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "OnDelete" }, "spec.updateStrategy.rollingUpdate"),
		vt.C("serviceName", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "DB" }, "spec.serviceName"),
		vt.C("selector mismatch", func(s *appsv1.StatefulSet) { s.Spec.Template.Metadata.Labels = nil }, "spec.template.metadata.labels"),
		vt.C("mount of a claim", func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates = []*corev1.PersistentVolumeClaim{{Metadata: &metav1.ObjectMeta{Name: "data"}}}
			s.Spec.Template.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/data"}}
		}, ""),
		vt.C("mount of nothing", func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/data"}}
		}, "spec.template.spec.containers[0].volumeMounts[0].name"),
	})
	vt.ValidateUpdate(t, "statefulsets", validStatefulSet, []vt.Case[*appsv1.StatefulSet]{
		vt.C("scale", func(s *appsv1.StatefulSet) { s.Spec.Replicas = new(int32(3)) }, ""),
		vt.C("template", func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "postgres:16" }, ""),
		vt.C("updateStrategy", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = new(int32(2)) }, ""),
		vt.C("serviceName", func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "db2" }, "spec"),
		vt.C("podManagementPolicy", func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Parallel" }, "spec"),
	})
}

func TestControllerRevision(t *testing.T) {
	vt.Validate(t, "controllerrevisions", validControllerRevision, []vt.Case[*appsv1.ControllerRevision]{
		vt.C("no data", func(c *appsv1.ControllerRevision) { c.Data = nil }, "data"),
		vt.C("negative revision", func(c *appsv1.ControllerRevision) { c.Revision = -1 }, "revision"),
	})
	vt.ValidateUpdate(t, "controllerrevisions", validControllerRevision, []vt.Case[*appsv1.ControllerRevision]{
		vt.C("labels", func(c *appsv1.ControllerRevision) { c.Metadata.Labels = map[string]string{"a": "b"} }, ""),
		vt.C("data", func(c *appsv1.ControllerRevision) { c.Data.Fields["spec"] = structpb.NewStringValue("changed") }, "data"),
	})
}
