// Package clusterenv reads the cluster.env file `make up` writes
// (_output/local/cluster.env): KEY=VALUE lines describing the running
// cluster, for the suites that drive it (test/e2e, test/fault).
package clusterenv

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Read returns the file's KEY=VALUE pairs; a missing file is an error
// that says to bring a cluster up.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (is the cluster up? `make up`)", err)
	}
	defer f.Close()
	kv := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			kv[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return kv, nil
}
