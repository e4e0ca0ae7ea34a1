package client

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// ServiceAccountDir is where the kubelet projects a pod's service-account
// credentials: token (rotated in place), ca.crt and namespace.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// ErrNotInCluster says the process is not in a pod: the kubelet sets
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT in every container.
var ErrNotInCluster = errors.New("not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")

// InClusterConfig is the Config of a process in a pod, as client-go's
// rest.InClusterConfig reads it: the kubernetes Service's address from
// the environment, the pod's projected token (re-read as the kubelet
// rotates it) and the cluster CA from ServiceAccountDir.
func InClusterConfig() (*Config, error) {
	return inClusterConfig(os.Getenv, ServiceAccountDir)
}

func inClusterConfig(getenv func(string) string, dir string) (*Config, error) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, ErrNotInCluster
	}
	token := filepath.Join(dir, "token")
	if _, err := os.Stat(token); err != nil {
		return nil, fmt.Errorf("in-cluster config: service-account token: %w (does the pod mount its service account?)", err)
	}
	ca := filepath.Join(dir, "ca.crt")
	if _, err := os.Stat(ca); err != nil {
		return nil, fmt.Errorf("in-cluster config: cluster CA: %w", err)
	}
	c := &Config{Servers: []string{net.JoinHostPort(host, port)}, TLS: true, CertificateAuthority: ca, TokenFile: token}
	if ns, err := os.ReadFile(filepath.Join(dir, "namespace")); err == nil {
		c.Namespace = strings.TrimSpace(string(ns))
	}
	return c, nil
}
