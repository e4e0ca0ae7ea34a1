// Command minictl is the kubectl-like command-line client of minik8s.
package main

import (
	"os"

	"minik8s/minictl/cmd"
)

func main() { os.Exit(cmd.Execute()) }
