package images

import (
	"testing"

	corev1 "minik8s/api/core/v1"
)

func TestPolicy(t *testing.T) {
	for img, want := range map[string]string{
		"busybox":                   "Always",
		"busybox:latest":            "Always",
		"busybox:1.36":              "IfNotPresent",
		"127.0.0.1:5000/kubia":      "Always",
		"127.0.0.1:5000/kubia:v1":   "IfNotPresent",
		"kubia@sha256:0123456789ab": "IfNotPresent",
	} {
		if got := Policy(&corev1.Container{Image: img}); got != want {
			t.Errorf("%s: %s, want %s", img, got, want)
		}
	}
	if got := Policy(&corev1.Container{Image: "busybox", ImagePullPolicy: "Never"}); got != "Never" {
		t.Errorf("explicit policy ignored: %s", got)
	}
}
