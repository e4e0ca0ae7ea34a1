// Package nettest builds throwaway network topologies for kube-proxy's
// root tests and benchmarks: named network namespaces joined by veth pairs
// and a bridge, all created inside namespaces this package made - the
// machine's own namespace, its links, routes and iptables are never
// touched. Everything is named with the creating process's PID, so two
// runs cannot collide, and is deleted by Close.
//
// Code runs "inside" a namespace on an OS thread switched into it (Do,
// Go) and switched back before the thread is given back to the Go
// scheduler.
package nettest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/vishvananda/netns"
)

// Prefix is the name prefix of everything this process creates.
func Prefix() string { return fmt.Sprintf("mk8s-%d-", os.Getpid()) }

// Skip returns why root tests cannot run here ("" when they can).
func Skip() string {
	if os.Geteuid() != 0 {
		return "needs root (network namespaces and iptables)"
	}
	for _, bin := range []string{"ip", "iptables", "iptables-restore", "iptables-save"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not installed"
		}
	}
	return ""
}

// NS is a named network namespace.
type NS struct {
	Name   string
	handle netns.NsHandle
}

// Env tracks what a test created, for Close.
type Env struct {
	mu  sync.Mutex
	nss []*NS
}

// NewNS creates namespace Prefix()+suffix with loopback up.
func (e *Env) NewNS(suffix string) (*NS, error) {
	name := Prefix() + suffix
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	h, err := netns.GetFromName(name)
	if err != nil {
		_ = exec.Command("ip", "netns", "del", name).Run()
		return nil, fmt.Errorf("open netns %s: %w", name, err)
	}
	ns := &NS{Name: name, handle: h}
	e.mu.Lock()
	e.nss = append(e.nss, ns)
	e.mu.Unlock()
	if err := ns.IP("link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	return ns, nil
}

// Close deletes every namespace (with their links, routes and iptables).
func (e *Env) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for i := len(e.nss) - 1; i >= 0; i-- {
		ns := e.nss[i]
		_ = ns.handle.Close()
		if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %v: %s", ns.Name, err, out))
		}
	}
	e.nss = nil
	return errors.Join(errs...)
}

// IP runs `ip -n <ns> args...`.
func (ns *NS) IP(args ...string) error {
	full := append([]string{"-n", ns.Name}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
	return nil
}

// Exec runs a command inside the namespace and returns its output.
func (ns *NS) Exec(name string, args ...string) ([]byte, error) {
	full := append([]string{"netns", "exec", ns.Name, name}, args...)
	out, err := exec.Command("ip", full...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s in %s: %v: %s", name, strings.Join(args, " "), ns.Name, err, out)
	}
	return out, nil
}

// Do runs fn on a thread inside the namespace and waits for it.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	ns.Go(func() { errc <- fn() })
	return <-errc
}

// Go runs fn in a new goroutine on a thread inside the namespace; the
// thread is switched back and unlocked when fn returns. Goroutines fn
// starts run on ordinary threads; sockets fn opens stay in the namespace.
//
// The thread is switched back rather than discarded (a goroutine exiting
// while locked ends its thread) because a thread's end kills the children
// it forked with Pdeathsig - etcdtest starts etcd that way - and any pooled
// thread may have forked one.
func (ns *NS) Go(fn func()) {
	go func() {
		runtime.LockOSThread()
		origin, err := netns.Get()
		if err != nil {
			panic(fmt.Sprintf("netns of this thread: %v", err))
		}
		defer origin.Close()
		if err := netns.Set(ns.handle); err != nil {
			panic(fmt.Sprintf("enter netns %s: %v", ns.Name, err))
		}
		defer func() {
			// Unlock only a thread that is back where it was; otherwise
			// leave it locked, and Go discards it with this goroutine.
			if err := netns.Set(origin); err == nil {
				runtime.UnlockOSThread()
			}
		}()
		fn()
	}()
}

// DialContext dials from inside the namespace (a net.Dialer would dial
// from whatever namespace its goroutine's thread is in).
func (ns *NS) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, address)
		return err
	})
	return c, err
}

// Listen opens a listener inside the namespace.
func (ns *NS) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := ns.Do(func() error {
		var err error
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket opens a packet socket inside the namespace.
func (ns *NS) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := ns.Do(func() error {
		var err error
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// Link connects a and b with a veth pair: aIf in a with address aCIDR,
// bIf in b with bCIDR ("" leaves an end without an address). If a's end
// is to join a bridge, pass the bridge name as master.
func Link(a *NS, aIf, aCIDR, master string, b *NS, bIf, bCIDR string) error {
	// Created inside a, its peer moved straight into b: the machine's own
	// namespace never sees either end.
	if err := a.IP("link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b.Name); err != nil {
		return err
	}
	if master != "" {
		if err := a.IP("link", "set", aIf, "master", master); err != nil {
			return err
		}
	}
	for _, end := range []struct {
		ns       *NS
		ifc, net string
	}{{a, aIf, aCIDR}, {b, bIf, bCIDR}} {
		if end.net != "" {
			if err := end.ns.IP("addr", "add", end.net, "dev", end.ifc); err != nil {
				return err
			}
		}
		if err := end.ns.IP("link", "set", end.ifc, "up"); err != nil {
			return err
		}
	}
	return nil
}

// Bridge creates a bridge in ns with address cidr, up.
func (ns *NS) Bridge(name, cidr string) error {
	if err := ns.IP("link", "add", name, "type", "bridge"); err != nil {
		return err
	}
	if err := ns.IP("addr", "add", cidr, "dev", name); err != nil {
		return err
	}
	return ns.IP("link", "set", name, "up")
}

// Sysctl sets a (namespaced) sysctl inside ns, e.g. net.ipv4.ip_forward.
func (ns *NS) Sysctl(key, value string) error {
	_, err := ns.Exec("sysctl", "-q", "-w", key+"="+value)
	return err
}

// IPTablesSave returns iptables-save of table in ns, without the comment
// lines (which carry timestamps) and with counters zeroed.
func (ns *NS) IPTablesSave(table string) (string, error) {
	out, err := ns.Exec("iptables-save", "-t", table)
	if err != nil {
		return "", err
	}
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, ":") {
			if i := strings.LastIndex(l, " ["); i > 0 {
				l = l[:i] + " [0:0]"
			}
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n"), nil
}
