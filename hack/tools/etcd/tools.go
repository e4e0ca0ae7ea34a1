//go:build tools

// Package tools pins the etcd server, etcdctl and etcdutl (snapshot restore) the build compiles into bin/.
package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/etcdutl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
