package app

import (
	"encoding/json"
	"net/http"
	"runtime"
)

// Version is the Kubernetes version whose API minik8s serves; kubectl
// compares it with its own for the version-skew warning.
const (
	VersionMajor = "1"
	VersionMinor = "37"
	GitVersion   = "v1.37.0-minik8s"
)

// serveVersion answers /version as Kubernetes' version.Info.
func serveVersion(w http.ResponseWriter, _ *http.Request) {
	data, _ := json.Marshal(map[string]string{
		"major": VersionMajor, "minor": VersionMinor, "gitVersion": GitVersion,
		"gitCommit": "", "gitTreeState": "clean", "buildDate": "",
		"goVersion": runtime.Version(), "compiler": runtime.Compiler, "platform": runtime.GOOS + "/" + runtime.GOARCH,
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}
