package fault

// The harness side of the suite: the cluster the harness wrote about
// (MK8S_E2E_CLUSTER, as test/e2e reads it), killing and restarting its
// processes by the PIDs it recorded, reading etcd directly, the client
// load, and the rows of the report.
//
// Without MK8S_E2E_CLUSTER the cases skip (so `go test ./...` passes
// without root); with MINIK8S_NO_SKIP=1 (`make fault`) a missing cluster
// fails them.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/test/clusterenv"
	"minik8s/test/require"
)

// EnvCluster names the harness's cluster.env file.
const EnvCluster = "MK8S_E2E_CLUSTER"

// EnvReport names the file the suite writes its table into
// (docs/reliability.md under `make fault`); unset, nothing is written.
const EnvReport = "FAULT_REPORT"

// cluster is what the harness wrote about the cluster it runs.
type cluster struct {
	env        string   // the cluster.env file
	servers    []string // apiservers
	etcd       []string // etcd client URLs, etcd-0 first
	kubeconfig string
	etcdCA     string
	etcdCert   string
	etcdKey    string
	nodes      []string
	harness    string // hack/local-up-cluster.sh
	root       string // the checkout the harness runs from
	bin        string
	state      string // _output/local: pids/NAME.pid
	processes  bool   // CONTROL_PLANE=processes
	api        *client.Client
	etcdc      *clientv3.Client
	// faultChain and faultCgroup are the iptables chain (jumped from
	// OUTPUT) and the cgroup v2 directory the partition case may use;
	// the harness's down removes both.
	faultChain, faultCgroup string
}

var (
	loadOnce sync.Once
	loaded   *cluster
	loadErr  error
)

// need returns the running cluster, or skips (fails under
// MINIK8S_NO_SKIP) when there is none, or when its control plane is not
// made of harness processes.
func need(t *testing.T) *cluster {
	t.Helper()
	path := os.Getenv(EnvCluster)
	if path == "" {
		require.Skip(t, EnvCluster+" is not set: run the fault suite with `make fault` (or `make up` and "+EnvCluster+"=_output/local/cluster.env)")
	}
	loadOnce.Do(func() { loaded, loadErr = loadCluster(path) })
	if loadErr != nil {
		t.Fatalf("no cluster: %v", loadErr)
	}
	if !loaded.processes {
		t.Skip("CONTROL_PLANE=static-pods: the control plane is static pods, not harness processes to kill and restart")
	}
	return loaded
}

func loadCluster(path string) (*cluster, error) {
	kv, err := clusterenv.Read(path)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		env:     path,
		servers: strings.Split(kv["MINIK8S_SERVER"], ","), etcd: strings.Split(kv["MK8S_ETCD_ENDPOINTS"], ","),
		kubeconfig: kv["MK8S_KUBECONFIG"], etcdCA: kv["MK8S_ETCD_CACERT"], etcdCert: kv["MK8S_ETCD_CERT"], etcdKey: kv["MK8S_ETCD_KEY"],
		harness: kv["MK8S_HARNESS"], bin: kv["MK8S_BIN"], state: kv["MK8S_STATE"],
		processes:  kv["CONTROL_PLANE"] == "" || kv["CONTROL_PLANE"] == "processes",
		faultChain: kv["MK8S_FAULT_CHAIN"], faultCgroup: kv["MK8S_FAULT_CGROUP"],
	}
	n, err := strconv.Atoi(kv["MK8S_NODES"])
	if err != nil || c.harness == "" || c.state == "" || c.etcdCA == "" {
		return nil, fmt.Errorf("%s is incomplete: %v", path, kv)
	}
	for i := 1; i <= n; i++ {
		c.nodes = append(c.nodes, fmt.Sprintf("mk8s-node%d", i))
	}
	c.root = filepath.Dir(filepath.Dir(c.harness))
	if c.api, err = c.client(strings.Join(c.servers, ",")); err != nil {
		return nil, err
	}
	if c.etcdc, err = c.etcdClient(); err != nil {
		return nil, err
	}
	return c, nil
}

// client connects to servers (comma-separated) as the admin.
func (c *cluster) client(servers string) (*client.Client, error) {
	cfg, err := client.ConfigFromFlags(servers, c.kubeconfig)
	if err != nil {
		return nil, err
	}
	return client.NewForConfig(cfg)
}

// etcdClient connects to every member with the apiserver's etcd client
// certificate.
func (c *cluster) etcdClient() (*clientv3.Client, error) {
	cert, err := tls.LoadX509KeyPair(c.etcdCert, c.etcdKey)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(c.etcdCA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", c.etcdCA)
	}
	return clientv3.New(clientv3.Config{
		Endpoints:   c.etcd,
		DialTimeout: 5 * time.Second,
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool},
	})
}

// ---------------------------------------------------------------- processes

// pid is the PID the harness recorded for component, checked to still be
// one of this checkout's processes (as the harness's pid_alive does), so a
// reused PID is never signalled.
func (c *cluster) pid(t *testing.T, component string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.state, "pids", component+".pid"))
	if err != nil {
		t.Fatalf("%s: no recorded PID: %v", component, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: pid file: %v", component, err)
	}
	if !c.ours(pid) {
		t.Fatalf("%s: PID %d does not run a process of %s", component, pid, c.root)
	}
	return pid
}

// ours reports whether pid runs (not a zombie) a command line naming this
// checkout.
func (c *cluster) ours(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), c.root+"/")
}

// kill9 sends SIGKILL to component's recorded PID, waits until the
// process is gone, and makes sure the harness starts it again when the
// test ends. It returns when the process died.
func (c *cluster) kill9(t *testing.T, component string) time.Time {
	t.Helper()
	pid := c.pid(t, component)
	t.Cleanup(func() { c.start(t, component) })
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %s (pid %d): %v", component, pid, err)
	}
	at := time.Now()
	deadline := at.Add(10 * time.Second)
	for c.ours(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs 10s after SIGKILL", component, pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("killed %s (pid %d)", component, pid)
	return at
}

// signal sends sig to component's recorded PID.
func (c *cluster) signal(t *testing.T, component string, sig syscall.Signal) {
	t.Helper()
	pid := c.pid(t, component)
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("%v to %s (pid %d): %v", sig, component, pid, err)
	}
}

// start starts component again the way the harness started it (a no-op
// when it runs).
func (c *cluster) start(t *testing.T, component string) {
	t.Helper()
	out, err := c.run(time.Minute, c.harness, "start-component", component)
	if err != nil {
		t.Error(err)
		return
	}
	t.Logf("%s", strings.TrimSpace(out))
}

// stop stops component through the harness (SIGTERM, then SIGKILL) and
// starts it again when the test ends.
func (c *cluster) stop(t *testing.T, component string) {
	t.Helper()
	t.Cleanup(func() { c.start(t, component) })
	out, err := c.run(time.Minute, c.harness, "stop-component", component)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", strings.TrimSpace(out))
}

func (c *cluster) run(timeout time.Duration, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+os.TempDir())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\nstdout: %s\nstderr: %s", bin, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// minictl runs bin/minictl against every apiserver as the admin.
func (c *cluster) minictl(args ...string) (string, error) {
	base := []string{"--kubeconfig", c.kubeconfig, "--server", strings.Join(c.servers, ",")}
	return c.run(time.Minute, filepath.Join(c.bin, "minictl"), append(base, args...)...)
}

// jsonpath reads one field of an object with minictl's -o jsonpath (ns
// "" for cluster-scoped kinds).
func (c *cluster) jsonpath(ns, kind, name, path string) (string, error) {
	args := []string{"get", kind, name, "-o", "jsonpath={" + path + "}"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	out, err := c.minictl(args...)
	return strings.TrimSpace(out), err
}

// apply pipes a manifest into `minictl apply -f`.
func (c *cluster) apply(t *testing.T, ns, manifest string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(f, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.minictl("-n", ns, "apply", "-f", f); err != nil {
		t.Fatal(err)
	}
}

// eventually polls check every interval until it returns "" or timeout
// passes, and returns when it succeeded.
func eventually(t *testing.T, timeout, interval time.Duration, what string, check func() string) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		problem := check()
		if problem == "" {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %s", what, timeout, problem)
		}
		time.Sleep(interval)
	}
}

// namespace creates a namespace for one case and deletes it afterwards.
func (c *cluster) namespace(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nss := client.For[*corev1.Namespace](c.api)
	if _, err := nss.Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := nss.Delete(ctx, "", name, nil); err != nil {
			t.Logf("delete namespace %s: %v", name, err)
		}
	})
	return name
}

// ---------------------------------------------------------------- etcd

// etcdMember maps an etcd client URL to the harness's component name:
// the endpoints are etcd-0, etcd-1, ... in order.
func (c *cluster) etcdMember(i int) string { return fmt.Sprintf("etcd-%d", i) }

// etcdLeader asks every member who leads and returns the leader's index;
// members that do not answer are skipped.
func (c *cluster) etcdLeader(exclude int) (int, error) {
	var errs []error
	for i, ep := range c.etcd {
		if i == exclude {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := c.etcdc.Status(ctx, ep)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Leader == 0 {
			errs = append(errs, fmt.Errorf("%s: no leader", ep))
			continue
		}
		if st.Leader == st.Header.MemberId {
			return i, nil
		}
		// Ask the member list which endpoint the leader is.
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		ml, err := c.etcdc.MemberList(ctx)
		cancel()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range ml.Members {
			if m.ID == st.Leader {
				for j, ep := range c.etcd {
					for _, u := range m.ClientURLs {
						if u == ep && j != exclude {
							return j, nil
						}
					}
				}
			}
		}
		errs = append(errs, fmt.Errorf("%s: leader %x not among the endpoints", ep, st.Leader))
	}
	return -1, errors.Join(errs...)
}

// memberAnswers reports whether member i answers a status request.
func (c *cluster) memberAnswers(i int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.etcdc.Status(ctx, c.etcd[i])
	return err == nil
}

// stored reads from etcd the names of the config maps of ns whose names
// start with prefix.
func (c *cluster) stored(t *testing.T, ns, prefix string) map[string]bool {
	t.Helper()
	key := "/registry/configmaps/" + ns + "/"
	var resp *clientv3.GetResponse
	eventually(t, 60*time.Second, time.Second, "read "+key+prefix+" from etcd", func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		resp, err = c.etcdc.Get(ctx, key+prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			return err.Error()
		}
		return ""
	})
	names := map[string]bool{}
	for _, kv := range resp.Kvs {
		names[strings.TrimPrefix(string(kv.Key), key)] = true
	}
	return names
}

// ---------------------------------------------------------------- load

// The client load: loadRate creates a second, each in its own goroutine
// (open loop) with loadTimeout.
const (
	loadRate    = 20
	loadTimeout = 10 * time.Second
)

// load creates ConfigMaps prefix-00000, prefix-00001, ... in ns at
// loadRate through its own client (both apiservers) until finish.
type load struct {
	ns, prefix string
	api        *client.Client
	begin      time.Time
	// warmed is when the load had its first 10 acknowledged creates;
	// failures before it (a namespace not yet seen by an apiserver's
	// admission) are dropped from the figures.
	warmed   time.Time
	stopc    chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	attempts []Attempt
}

// startLoad starts a load and waits until it has 10 acknowledged creates.
func (c *cluster) startLoad(t *testing.T, ns, prefix string) *load {
	t.Helper()
	api, err := c.client(strings.Join(c.servers, ","))
	if err != nil {
		t.Fatal(err)
	}
	l := &load{ns: ns, prefix: prefix, api: api, begin: time.Now(), stopc: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	t.Cleanup(func() { l.finish(); api.Close() })
	eventually(t, 30*time.Second, 100*time.Millisecond, "the load's first 10 creates", func() string {
		if n := Count(l.snapshot()).Acked; n < 10 {
			return fmt.Sprintf("%d acknowledged: %v", n, l.lastErr())
		}
		return ""
	})
	l.mu.Lock()
	l.warmed = time.Now()
	l.mu.Unlock()
	return l
}

func (l *load) run() {
	defer close(l.done)
	tick := time.NewTicker(time.Second / loadRate)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.stopc:
			return
		case <-tick.C:
		}
		l.wg.Add(1)
		go l.create(fmt.Sprintf("%s-%05d", l.prefix, i))
	}
}

func (l *load) create(name string) {
	defer l.wg.Done()
	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	a := Attempt{Name: name, Start: time.Now()}
	_, a.Err = client.For[*corev1.ConfigMap](l.api).Create(ctx, &corev1.ConfigMap{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: l.ns},
		Data:     map[string]string{"sent": a.Start.Format(time.RFC3339Nano)},
	})
	a.End = time.Now()
	a.Ambiguous = a.Err != nil && (apierrors.IsAmbiguous(a.Err) || errors.Is(a.Err, context.DeadlineExceeded))
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
}

func (l *load) snapshot() []Attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Attempt(nil), l.attempts...)
}

func (l *load) lastErr() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.attempts) - 1; i >= 0; i-- {
		if l.attempts[i].Err != nil {
			return l.attempts[i].Err
		}
	}
	return nil
}

// finish stops sending, waits for the writes in flight and returns every
// attempt, by send time. It may be called again (it returns the same).
func (l *load) finish() []Attempt {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	<-l.done
	l.wg.Wait()
	l.mu.Lock()
	var as []Attempt
	for _, a := range l.attempts {
		if a.Acked() || !a.Start.Before(l.warmed) {
			as = append(as, a)
		}
	}
	l.mu.Unlock()
	sort.Slice(as, func(i, j int) bool { return as[i].Start.Before(as[j].Start) })
	return as
}

// describe is the load column: rate, how long, how many sent.
func (l *load) describe(as []Attempt) string {
	d := time.Since(l.begin)
	return fmt.Sprintf("ConfigMap creates, %d/s for %.0f s (%d sent), %s deadline each", loadRate, d.Seconds(), len(as), loadTimeout)
}

// check finishes the load, reads etcd and fills the row's load, lost and
// failed columns; acknowledged writes missing from etcd fail the test.
func (c *cluster) check(t *testing.T, l *load, row *Row) []Attempt {
	t.Helper()
	as := l.finish()
	stored := c.stored(t, l.ns, l.prefix+"-")
	tally := Count(as)
	lost := Lost(as, stored)
	amb, definite := Landed(as, stored)
	row.Load = l.describe(as)
	row.Lost = LostCell(lost, tally)
	row.Failed = FailedCell(tally, amb)
	t.Logf("load: %+v; lost %d; landed after failing: %d ambiguous, %d definite", tally, len(lost), amb, definite)
	for _, a := range as {
		if a.Err != nil {
			t.Logf("first failure: %s at +%s: %v", a.Name, a.Start.Sub(l.begin).Round(time.Millisecond), a.Err)
			break
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d acknowledged creates are not in etcd: %v", len(lost), lost)
	}
	if definite > 0 {
		t.Logf("%d creates reported as failed (not ambiguous) were stored all the same", definite)
		for _, a := range as {
			if a.Err != nil && !a.Ambiguous && stored[a.Name] {
				t.Logf("  %s at +%s: %v", a.Name, a.Start.Sub(l.begin).Round(time.Millisecond), a.Err)
			}
		}
	}
	return as
}

// ---------------------------------------------------------------- report

var (
	rowsMu sync.Mutex
	rows   []Row
)

// record adds a case's row to the report when the case ends; a failed
// case says so in its last column.
func record(t *testing.T, row *Row) {
	t.Cleanup(func() {
		r := *row
		if t.Failed() {
			r.Recover += " (case FAILED: see the test log)"
		}
		t.Logf("row: %s | %s | %s | %s | %s", r.Fault, r.Load, r.Lost, r.Failed, r.Recover)
		rowsMu.Lock()
		rows = append(rows, r)
		rowsMu.Unlock()
	})
}

func TestMain(m *testing.M) {
	began := time.Now()
	loadavg := loadAverage()
	code := m.Run()
	if path := os.Getenv(EnvReport); path != "" && len(rows) > 0 {
		meta := fmt.Sprintf("Last run: %s, %d CPUs, load average %s at the start; the suite took %s.",
			began.UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), loadavg, time.Since(began).Round(time.Second))
		f, err := os.Create(path)
		if err == nil {
			err = WriteReport(f, meta, rows)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "write %s: %v\n", path, err)
			code = 1
		} else {
			fmt.Printf("fault: wrote %s (%d cases)\n", path, len(rows))
		}
	}
	os.Exit(code)
}

// loadAverage is the first field of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}
