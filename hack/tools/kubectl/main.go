// Command kubectl is the upstream kubectl, pinned by this module's go.mod, so
// tests and users drive minik8s's Kubernetes REST API with the real client.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	// RunNoErrOutput leaves printing the error to CheckErr, which formats API
	// errors the way kubectl users know and picks the exit code.
	if err := cli.RunNoErrOutput(cmd.NewDefaultKubectlCommand()); err != nil {
		util.CheckErr(err)
	}
}
