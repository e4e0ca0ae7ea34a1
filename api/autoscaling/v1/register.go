package autoscalingv1

import "minik8s/api/scheme"

// ScaleKind is the kind of the scale subresource. It is not a resource of
// its own, so it is not registered in the scheme's resource table.
var ScaleKind = &scheme.Kind{Group: "autoscaling", Version: "v1", Kind: "Scale", Resource: "scale",
	New: func() scheme.Object { return &Scale{} }}
