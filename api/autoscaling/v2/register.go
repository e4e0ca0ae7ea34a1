package autoscalingv2

import "minik8s/api/scheme"

func init() {
	scheme.Register(&scheme.Kind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler", Resource: "horizontalpodautoscalers", ShortNames: []string{"hpa"}, Namespaced: true, HasStatus: true, New: func() scheme.Object { return &HorizontalPodAutoscaler{} }})
}
