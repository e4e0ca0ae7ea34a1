package network

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/coreos/go-iptables/iptables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"minik8s/kubelet/network/ipam"
)

// routeProtocol marks the routes the kubelet installs to other nodes, so
// it can find and remove stale ones without touching anyone else's.
const routeProtocol netlink.RouteProtocol = 77

// masqComment tags the one iptables rule the kubelet owns.
const masqComment = "minik8s-kubelet: masquerade pod egress leaving the cluster"

// Config configures Linux.
type Config struct {
	// NodeNetns is the path of the node's network namespace, where the
	// bridge, routes and iptables rule live; "" means the kubelet's own.
	// Tests model a node as a namespace; the kubelet process stays outside.
	NodeNetns string
	// NetnsDir holds the pods' namespaces as bind mounts (default
	// /var/run/netns, where "ip netns" shows them).
	NetnsDir string
	// NetnsPrefix starts every pod namespace name (default "minik8s").
	NetnsPrefix string
	// Bridge is the node bridge's name (default "minik8s0").
	Bridge string
	// ClusterCIDR is every pod CIDR of the cluster; traffic to it is not
	// masqueraded (default 10.244.0.0/16).
	ClusterCIDR string
	// StateDir keeps the IPAM store.
	StateDir string
	// MTU of the veth pairs (default 1500).
	MTU int
	Log *slog.Logger
}

// Linux is the Manager on netlink and iptables.
type Linux struct {
	cfg Config

	mu      sync.Mutex
	podCIDR *net.IPNet
	gateway net.IP
	store   *ipam.Store
	// hostPorts is the host port chain last restored, so an unchanged
	// set costs no iptables run.
	hostPorts []byte
}

var _ Manager = (*Linux)(nil)

// NewLinux checks cfg and fills defaults.
func NewLinux(cfg Config) (*Linux, error) {
	if cfg.NetnsDir == "" {
		cfg.NetnsDir = "/var/run/netns"
	}
	if cfg.NetnsPrefix == "" {
		cfg.NetnsPrefix = "minik8s"
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "minik8s0"
	}
	if len(cfg.Bridge) > 15 {
		return nil, fmt.Errorf("bridge name %q is longer than 15 bytes", cfg.Bridge)
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.244.0.0/16"
	}
	if _, _, err := net.ParseCIDR(cfg.ClusterCIDR); err != nil {
		return nil, fmt.Errorf("cluster CIDR: %w", err)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("network: no state directory")
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Linux{cfg: cfg}, nil
}

// HostNetns implements Manager.
func (l *Linux) HostNetns() string { return l.cfg.NodeNetns }

// PodCIDR implements Manager.
func (l *Linux) PodCIDR() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.podCIDR == nil {
		return ""
	}
	return l.podCIDR.String()
}

// Init implements Manager. It is idempotent and may be called again (the
// kubelet does so on every node status sync) to repair the bridge.
func (l *Linux) Init(ctx context.Context, podCIDR string) error {
	_, cidr, err := net.ParseCIDR(podCIDR)
	if err != nil || cidr.IP.To4() == nil {
		return fmt.Errorf("init node network: pod CIDR %q is not IPv4", podCIDR)
	}
	l.mu.Lock()
	if l.podCIDR != nil && l.podCIDR.String() != cidr.String() {
		cur := l.podCIDR.String()
		l.mu.Unlock()
		return fmt.Errorf("init node network: pod CIDR already %s, cannot change to %s", cur, cidr)
	}
	if l.store == nil {
		st, err := ipam.New(filepath.Join(l.cfg.StateDir, "ipam"), cidr.String())
		if err != nil {
			l.mu.Unlock()
			return err
		}
		l.store, l.podCIDR, l.gateway = st, cidr, ipam.Gateway(cidr)
	}
	l.mu.Unlock()

	h, closeH, err := l.nodeHandle()
	if err != nil {
		return err
	}
	defer closeH()
	if err := l.ensureBridge(h); err != nil {
		return err
	}
	if err := ensureNetnsDir(l.cfg.NetnsDir); err != nil {
		return err
	}
	return l.inNode(func() error {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			return fmt.Errorf("enable forwarding: %w", err)
		}
		ipt, err := iptables.New()
		if err != nil {
			return fmt.Errorf("iptables: %w", err)
		}
		rule := []string{"-s", cidr.String(), "!", "-d", l.cfg.ClusterCIDR, "-m", "comment", "--comment", masqComment, "-j", "MASQUERADE"}
		if err := ipt.AppendUnique("nat", "POSTROUTING", rule...); err != nil {
			return fmt.Errorf("masquerade rule: %w", err)
		}
		// The host port chain and its jumps, repaired here too: Init
		// runs at every node status sync, SyncHostPorts only on changes.
		return ensureHostPortJumps(ipt)
	})
}

// ensureHostPortJumps makes KUBE-HOSTPORTS exist (empty when new) and
// sends local destinations from PREROUTING and OUTPUT to it, once.
func ensureHostPortJumps(ipt *iptables.IPTables) error {
	exists, err := ipt.ChainExists("nat", hostPortsChain)
	if err != nil {
		return fmt.Errorf("host ports: %w", err)
	}
	if !exists {
		if err := ipt.NewChain("nat", hostPortsChain); err != nil {
			return fmt.Errorf("host ports: %w", err)
		}
	}
	for _, chain := range []string{"PREROUTING", "OUTPUT"} {
		if err := ipt.AppendUnique("nat", chain, hostPortJumps[chain]...); err != nil {
			return fmt.Errorf("host ports: jump from %s: %w", chain, err)
		}
	}
	return nil
}

func (l *Linux) ensureBridge(h *netlink.Handle) error {
	l.mu.Lock()
	cidr, gw := l.podCIDR, l.gateway
	l.mu.Unlock()
	br, err := h.LinkByName(l.cfg.Bridge)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if !errors.As(err, &nf) {
			return fmt.Errorf("bridge %s: %w", l.cfg.Bridge, err)
		}
		if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.cfg.Bridge, MTU: l.cfg.MTU}}); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create bridge %s: %w", l.cfg.Bridge, err)
		}
		if br, err = h.LinkByName(l.cfg.Bridge); err != nil {
			return fmt.Errorf("bridge %s: %w", l.cfg.Bridge, err)
		}
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: cidr.Mask}}
	if err := h.AddrReplace(br, addr); err != nil {
		return fmt.Errorf("bridge %s address %s: %w", l.cfg.Bridge, addr.IPNet, err)
	}
	if err := h.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge %s up: %w", l.cfg.Bridge, err)
	}
	return nil
}

// nodeHandle is a netlink handle in the node's namespace.
func (l *Linux) nodeHandle() (*netlink.Handle, func(), error) {
	if l.cfg.NodeNetns == "" {
		h, err := netlink.NewHandle()
		if err != nil {
			return nil, nil, fmt.Errorf("netlink: %w", err)
		}
		return h, h.Close, nil
	}
	ns, err := netns.GetFromPath(l.cfg.NodeNetns)
	if err != nil {
		return nil, nil, fmt.Errorf("node netns %s: %w", l.cfg.NodeNetns, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, nil, fmt.Errorf("netlink in %s: %w", l.cfg.NodeNetns, err)
	}
	return h, func() { h.Close(); ns.Close() }, nil
}

// inNode runs fn on a thread in the node's namespace (processes fn starts,
// like iptables, inherit it).
func (l *Linux) inNode(fn func() error) error {
	if l.cfg.NodeNetns == "" {
		return fn()
	}
	return Do(l.cfg.NodeNetns, fn)
}

// Do runs fn with the calling goroutine's OS thread in the network
// namespace at path. Sockets fn opens and processes it starts belong there.
func Do(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread stays locked (and dies with the goroutine) unless it
		// is back in its own namespace: it must never run other code in
		// the wrong one.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			errc <- fmt.Errorf("netns %s: %w", path, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// names derives the namespace and host veth names from a key.
func (l *Linux) names(key string) (nsName, hostVeth string) {
	sum := sha1.Sum([]byte(key))
	h := hex.EncodeToString(sum[:])
	return l.cfg.NetnsPrefix + "-" + h[:16], "veth" + h[:11]
}

// Setup implements Manager: namespace, IP, then a veth pair created with
// its peer directly inside the pod's namespace (moving links between
// namespaces afterwards is serialized in the kernel and slows bursts).
func (l *Linux) Setup(ctx context.Context, key string) (pn PodNetwork, err error) {
	l.mu.Lock()
	store, cidr, gw := l.store, l.podCIDR, l.gateway
	l.mu.Unlock()
	if store == nil {
		return pn, errors.New("set up pod network: node network not initialized (no pod CIDR yet)")
	}
	nsName, hostVeth := l.names(key)
	path := filepath.Join(l.cfg.NetnsDir, nsName)
	ip, err := store.Allocate(key)
	if err != nil {
		return pn, fmt.Errorf("set up pod network %s: %w", key, err)
	}
	defer func() {
		if err != nil {
			_ = l.Teardown(context.Background(), key)
		}
	}()
	if _, serr := os.Stat(path); serr != nil {
		if err := newNetns(path); err != nil {
			return pn, fmt.Errorf("set up pod network %s: %w", key, err)
		}
	}
	podNs, err := netns.GetFromPath(path)
	if err != nil {
		return pn, fmt.Errorf("set up pod network %s: %w", key, err)
	}
	defer podNs.Close()
	ph, err := netlink.NewHandleAt(podNs)
	if err != nil {
		return pn, fmt.Errorf("set up pod network %s: netlink in pod: %w", key, err)
	}
	defer ph.Close()
	if _, lerr := ph.LinkByName("eth0"); lerr != nil {
		h, closeH, err := l.nodeHandle()
		if err != nil {
			return pn, err
		}
		defer closeH()
		br, err := h.LinkByName(l.cfg.Bridge)
		if err != nil {
			return pn, fmt.Errorf("set up pod network %s: bridge: %w", key, err)
		}
		veth := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: hostVeth, MTU: l.cfg.MTU, MasterIndex: br.Attrs().Index},
			PeerName:      "eth0",
			PeerMTU:       uint32(l.cfg.MTU),
			PeerNamespace: netlink.NsFd(int(podNs)),
		}
		if err := h.LinkAdd(veth); err != nil {
			return pn, fmt.Errorf("set up pod network %s: create veth %s: %w", key, hostVeth, err)
		}
		hl, err := h.LinkByName(hostVeth)
		if err == nil {
			err = h.LinkSetUp(hl)
		}
		if err != nil {
			return pn, fmt.Errorf("set up pod network %s: veth %s up: %w", key, hostVeth, err)
		}
	}
	eth0, err := ph.LinkByName("eth0")
	if err != nil {
		return pn, fmt.Errorf("set up pod network %s: eth0: %w", key, err)
	}
	if err := ph.AddrReplace(eth0, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: cidr.Mask}}); err != nil {
		return pn, fmt.Errorf("set up pod network %s: address: %w", key, err)
	}
	if err := ph.LinkSetUp(eth0); err != nil {
		return pn, fmt.Errorf("set up pod network %s: eth0 up: %w", key, err)
	}
	if lo, err := ph.LinkByName("lo"); err == nil {
		_ = ph.LinkSetUp(lo)
	}
	_, anyNet, _ := net.ParseCIDR("0.0.0.0/0")
	if err := ph.RouteReplace(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: anyNet, Gw: gw}); err != nil {
		return pn, fmt.Errorf("set up pod network %s: default route: %w", key, err)
	}
	return PodNetwork{Key: key, NetnsPath: path, IP: ip}, nil
}

// Teardown implements Manager.
func (l *Linux) Teardown(ctx context.Context, key string) error {
	nsName, hostVeth := l.names(key)
	var errs []error
	if h, closeH, err := l.nodeHandle(); err == nil {
		if link, err := h.LinkByName(hostVeth); err == nil {
			if err := h.LinkDel(link); err != nil {
				errs = append(errs, fmt.Errorf("delete veth %s: %w", hostVeth, err))
			}
		}
		closeH()
	} else {
		errs = append(errs, err)
	}
	// Deleting the namespace also deletes eth0 and so the veth pair if
	// the host end was already gone.
	if err := deleteNetns(filepath.Join(l.cfg.NetnsDir, nsName)); err != nil {
		errs = append(errs, err)
	}
	l.mu.Lock()
	store := l.store
	l.mu.Unlock()
	if store != nil {
		if err := store.Release(key); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down pod network %s: %w", key, err)
	}
	return nil
}

// List implements Manager: IPAM allocations (by key) and namespaces with
// our prefix that no allocation explains (Key empty).
func (l *Linux) List(ctx context.Context) ([]PodNetwork, error) {
	l.mu.Lock()
	store := l.store
	l.mu.Unlock()
	var out []PodNetwork
	known := map[string]bool{}
	if store != nil {
		all, err := store.List()
		if err != nil {
			return nil, err
		}
		for key, ip := range all {
			nsName, _ := l.names(key)
			known[nsName] = true
			out = append(out, PodNetwork{Key: key, NetnsPath: filepath.Join(l.cfg.NetnsDir, nsName), IP: ip})
		}
	}
	entries, err := os.ReadDir(l.cfg.NetnsDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), l.cfg.NetnsPrefix+"-") && !known[e.Name()] {
			out = append(out, PodNetwork{NetnsPath: filepath.Join(l.cfg.NetnsDir, e.Name())})
		}
	}
	return out, nil
}

// RemoveNetns removes a namespace found by List without a key.
func (l *Linux) RemoveNetns(path string) error {
	if !strings.HasPrefix(filepath.Base(path), l.cfg.NetnsPrefix+"-") {
		return fmt.Errorf("refusing to remove %s: not one of ours", path)
	}
	return deleteNetns(path)
}

// SyncRoutes implements Manager.
func (l *Linux) SyncRoutes(ctx context.Context, routes []NodeRoute) error {
	h, closeH, err := l.nodeHandle()
	if err != nil {
		return err
	}
	defer closeH()
	want := map[string]NodeRoute{}
	for _, r := range routes {
		_, dst, err := net.ParseCIDR(r.CIDR)
		if err != nil {
			return fmt.Errorf("route to %s: %w", r.CIDR, err)
		}
		want[dst.String()] = r
		if err := h.RouteReplace(&netlink.Route{Dst: dst, Gw: r.Via, Protocol: routeProtocol}); err != nil {
			return fmt.Errorf("route %s via %s: %w", dst, r.Via, err)
		}
	}
	have, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Protocol: routeProtocol}, netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	for _, r := range have {
		if r.Dst == nil {
			continue
		}
		if w, ok := want[r.Dst.String()]; ok && w.Via.Equal(r.Gw) {
			continue
		}
		if err := h.RouteDel(&r); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("delete stale route %s: %w", r.Dst, err)
		}
	}
	return nil
}

// SyncHostPorts implements Manager: one iptables-restore --noflush
// replaces KUBE-HOSTPORTS in the node's nat table, then the jumps into it
// are made sure of. Nothing runs when the rendered chain is unchanged.
func (l *Linux) SyncHostPorts(ctx context.Context, ports []HostPort) error {
	data := renderHostPorts(ports)
	l.mu.Lock()
	same := l.hostPorts != nil && bytes.Equal(l.hostPorts, data)
	l.mu.Unlock()
	if same {
		return nil
	}
	err := l.inNode(func() error {
		cmd := exec.CommandContext(ctx, "iptables-restore", "--noflush", "-w", "5")
		cmd.Stdin = bytes.NewReader(data)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("host ports: iptables-restore: %v: %s", err, strings.TrimSpace(string(out)))
		}
		ipt, err := iptables.New()
		if err != nil {
			return fmt.Errorf("iptables: %w", err)
		}
		return ensureHostPortJumps(ipt)
	})
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.hostPorts = data
	l.mu.Unlock()
	return nil
}

// DialContext implements Manager.
func (l *Linux) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	if l.cfg.NodeNetns == "" {
		return d.DialContext(ctx, network, addr)
	}
	var conn net.Conn
	err := Do(l.cfg.NodeNetns, func() error {
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	return conn, err
}

// ensureNetnsDir makes dir a shared mount point, as "ip netns" does, so
// namespace bind mounts made later propagate to mount namespaces copied
// before, and unmounting them frees the namespace everywhere.
func ensureNetnsDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dir, err)
	}
	if err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	return nil
}

// newNetns creates a network namespace bind-mounted at path. The thread
// doing it returns to its own namespace afterwards: a thread left to die
// locked would also SIGKILL every child started from it with Pdeathsig
// (the Linux parent-death signal follows the forking thread, not the process).
func newNetns(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare netns: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		merr := unix.Mount(src, path, "none", unix.MS_BIND, "")
		if err := netns.Set(orig); err == nil {
			runtime.UnlockOSThread()
		} // else: the thread stays locked and exits with this goroutine
		if merr != nil {
			errc <- fmt.Errorf("bind netns to %s: %w", path, merr)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

func deleteNetns(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}
