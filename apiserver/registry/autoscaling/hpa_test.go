package autoscaling

import (
	"testing"

	autoscalingv2 "minik8s/api/autoscaling/v2"
	"minik8s/apiserver/registry"
	vt "minik8s/apiserver/validation/validationtest"
)

func validHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{Metadata: vt.Meta("web", "default", nil), Spec: &autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: &autoscalingv2.CrossVersionObjectReference{ApiVersion: "apps/v1", Kind: "Deployment", Name: "web"},
		MaxReplicas:    5,
	}}
}

func TestHPADefaults(t *testing.T) {
	h := validHPA()
	registry.For("horizontalpodautoscalers").Default(h)
	m := h.Spec.Metrics
	if h.Spec.GetMinReplicas() != 1 || len(m) != 1 || m[0].Resource.GetName() != "cpu" || m[0].Resource.Target.GetAverageUtilization() != 80 {
		t.Errorf("defaults: %v", h.Spec)
	}
}

func TestHPAValidate(t *testing.T) {
	vt.Validate(t, "horizontalpodautoscalers", validHPA, []vt.Case[*autoscalingv2.HorizontalPodAutoscaler]{
		vt.C("maxReplicas zero", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 0 }, "spec.maxReplicas"),
		vt.C("min above max", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = new(int32(6)) }, "spec.maxReplicas"),
		vt.C("min zero", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = new(int32(0)) }, "spec.minReplicas"),
		vt.C("no target name", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "" }, "spec.scaleTargetRef.name"),
		vt.C("metric type", func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Type = "External" }, "spec.metrics[0].type"),
		vt.C("utilization unset", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target.AverageUtilization = nil
		}, "spec.metrics[0].resource.target.averageUtilization"),
		vt.C("average value", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target = &autoscalingv2.MetricTarget{Type: "AverageValue", AverageValue: "500m"}
		}, ""),
		vt.C("bad quantity", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[0].Resource.Target = &autoscalingv2.MetricTarget{Type: "AverageValue", AverageValue: "half"}
		}, "spec.metrics[0].resource.target.averageValue"),
		vt.C("scaling policy", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{
				Policies: []*autoscalingv2.HPAScalingPolicy{{Type: "Pods", Value: 1, PeriodSeconds: 0}}}}
		}, "spec.behavior.scaleDown.policies[0].periodSeconds"),
	})
}
