// Package etcdtest starts real etcd processes (the pinned bin/etcd) for
// integration tests: a single member or a cluster, each in its own temp
// directory on free loopback ports, stopped by PID when the test ends.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"minik8s/test/proc"
)

// Cluster is a running etcd cluster.
type Cluster struct {
	ClientURLs []string
	members    []*member
}

type member struct {
	name      string
	dir       string
	clientURL string
	peerURL   string
	cmd       *exec.Cmd
	done      chan struct{}
	args      []string
}

// Binary finds the etcd binary: $ETCD_BIN, then bin/etcd at the repository root.
func Binary() (string, error) {
	if b := os.Getenv("ETCD_BIN"); b != "" {
		return b, nil
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	b := filepath.Join(root, "bin", "etcd")
	if _, err := os.Stat(b); err != nil {
		return "", fmt.Errorf("etcd binary not found at %s: run `make build` (or hack/install-deps.sh)", b)
	}
	return b, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs an n-member cluster and waits until it serves; it is stopped
// with t.Cleanup. A missing binary fails the test (it is part of the build).
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c, err := Run(n, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}

// Run starts an n-member cluster with its data under dir and waits until
// it serves. The caller must Stop it.
func Run(n int, dir string) (*Cluster, error) { return RunWith(n, dir, Options{}) }

// Options change how RunWith starts the members.
type Options struct {
	// QuotaBackendBytes is every member's --quota-backend-bytes (0: 2 GiB).
	// A small one lets a test fill the database and meet the NOSPACE
	// alarm.
	QuotaBackendBytes int64
}

// RunWith is Run with opts.
func RunWith(n int, dir string, opts Options) (*Cluster, error) {
	quota := opts.QuotaBackendBytes
	if quota == 0 {
		quota = 2 << 30
	}
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	c := &Cluster{}
	token := fmt.Sprintf("etcdtest-%d-%d", os.Getpid(), time.Now().UnixNano())
	var initial []string
	for i := 0; i < n; i++ {
		cp, err1 := freePort()
		pp, err2 := freePort()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("free port: %v %v", err1, err2)
		}
		m := &member{
			name:      fmt.Sprintf("m%d", i),
			dir:       filepath.Join(dir, fmt.Sprintf("m%d", i)),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", cp),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", pp),
		}
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return nil, err
		}
		initial = append(initial, m.name+"="+m.peerURL)
		c.members = append(c.members, m)
		c.ClientURLs = append(c.ClientURLs, m.clientURL)
	}
	for _, m := range c.members {
		m.args = []string{
			"--name", m.name, "--data-dir", filepath.Join(m.dir, "data"),
			"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
			"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", token,
			"--initial-cluster-state", "new", "--log-level", "error",
			"--quota-backend-bytes", fmt.Sprint(quota),
		}
		if err := m.start(bin); err != nil {
			c.Stop()
			return nil, err
		}
	}
	if err := c.waitHealthy(30 * time.Second); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

func (m *member) start(bin string) error {
	log, err := os.OpenFile(filepath.Join(m.dir, "etcd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	m.cmd = exec.Command(bin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	if err := proc.Start(m.cmd); err != nil {
		log.Close()
		return fmt.Errorf("start etcd %s: %w", m.name, err)
	}
	m.done = make(chan struct{})
	go func() { _ = m.cmd.Wait(); log.Close(); close(m.done) }()
	return nil
}

func (c *Cluster) waitHealthy(timeout time.Duration) error {
	cli, err := c.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Get(ctx, "health")
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("etcd cluster not healthy after %s: %v (logs in %s)", timeout, err, c.members[0].dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Endpoints is the comma-separated client URL list (for --etcd-servers).
func (c *Cluster) Endpoints() string { return strings.Join(c.ClientURLs, ",") }

// Client returns a new etcd client for the cluster; the caller closes it.
func (c *Cluster) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: c.ClientURLs, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// StopMember stops member i (by the PID this package started).
func (c *Cluster) StopMember(i int) {
	m := c.members[i]
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGCONT) // a paused member hears no SIGTERM
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// PauseMember stops member i with SIGSTOP: its connections stay open
// and what is sent on them waits unanswered, as on a member that hangs or
// whose network went silent. ResumeMember (SIGCONT) undoes it; the
// cluster's cleanup resumes a paused member before stopping it.
func (c *Cluster) PauseMember(i int) error { return c.signal(i, syscall.SIGSTOP) }

// ResumeMember continues a member PauseMember stopped.
func (c *Cluster) ResumeMember(i int) error { return c.signal(i, syscall.SIGCONT) }

func (c *Cluster) signal(i int, sig syscall.Signal) error {
	m := c.members[i]
	if m.cmd == nil || m.cmd.Process == nil {
		return fmt.Errorf("etcd member %d is not running", i)
	}
	return m.cmd.Process.Signal(sig)
}

// RestartMember starts a stopped member again with its data.
func (c *Cluster) RestartMember(i int) error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	m := c.members[i]
	args := append([]string(nil), m.args...)
	for j := range args {
		if args[j] == "new" {
			args[j] = "existing"
		}
	}
	m.args = args
	return m.start(bin)
}

// Stop stops every member.
func (c *Cluster) Stop() {
	for i := range c.members {
		c.StopMember(i)
	}
}
