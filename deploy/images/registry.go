package images

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// RegistryBinary is Debian's distribution registry.
var RegistryBinary = "docker-registry"

// RegistryConfig is the docker-registry config for a plain-HTTP registry
// on addr storing its data under dataDir: no auth, no TLS, deletes allowed.
func RegistryConfig(addr, dataDir string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, dataDir, addr)
}

// Registry is a docker-registry process started by StartRegistry.
type Registry struct {
	Addr string
	Cmd  *exec.Cmd
}

// StartRegistry runs docker-registry on addr (loopback only, e.g.
// "127.0.0.1:0" is not supported by the registry: pass a concrete port)
// with its config and data under dir, and waits until it answers /v2/.
// The caller stops it with Stop.
func StartRegistry(ctx context.Context, addr, dir string) (*Registry, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(RegistryConfig(addr, filepath.Join(dir, "data"))), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(RegistryBinary, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", RegistryBinary, err)
	}
	r := &Registry{Addr: addr, Cmd: cmd}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if RegistryUp(ctx, addr) {
			// Reap the process in the background from now on.
			go func() { <-exited }()
			return r, nil
		}
		select {
		case err := <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			return nil, fmt.Errorf("registry on %s exited: %v: %s", addr, err, b)
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("registry on %s did not answer within 15s", addr)
		}
	}
}

// Stop ends the registry process it started, by its PID.
func (r *Registry) Stop() {
	if r == nil || r.Cmd == nil || r.Cmd.Process == nil {
		return
	}
	_ = r.Cmd.Process.Kill()
}

// RegistryUp reports whether a registry answers GET /v2/ on addr.
func RegistryUp(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
