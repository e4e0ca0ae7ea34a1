package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"minik8s/addons/dns/zone"
)

// recorder is a dns.ResponseWriter that keeps the message written, so the
// handler is tested without sockets.
type recorder struct {
	dns.ResponseWriter // nil: calls outside the ones below panic
	local              net.Addr
	msg                *dns.Msg
}

func (r *recorder) LocalAddr() net.Addr       { return r.local }
func (r *recorder) RemoteAddr() net.Addr      { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353} }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }

func udpWriter() *recorder {
	return &recorder{local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}}
}
func tcpWriter() *recorder {
	return &recorder{local: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}}
}

// fakeForwarder answers every query with one A record, or fails.
type fakeForwarder struct {
	fail     bool
	networks []string
}

func (f *fakeForwarder) Forward(_ context.Context, req *dns.Msg, network string) (*dns.Msg, error) {
	f.networks = append(f.networks, network)
	if f.fail {
		return nil, errors.New("upstream down")
	}
	m := new(dns.Msg).SetReply(req)
	m.Id = 0 // the server must restore the client's id
	m.RecursionAvailable = true
	m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: req.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
	return m, nil
}

// testServer is a Server without sockets or apiserver: the handler and the
// index only.
func testServer(synced bool, fwd Forwarder) *Server {
	s := &Server{
		opts:     Options{ForwardTimeout: time.Second},
		log:      slog.Default(),
		index:    zone.NewIndex("cluster.local", 1),
		forward:  fwd,
		registry: prometheus.NewRegistry(),
	}
	s.initMetrics()
	s.synced.Store(synced)
	s.index.SetService(&zone.Service{Namespace: "default", Name: "web", ClusterIPs: []netip.Addr{netip.MustParseAddr("10.96.0.20")}})
	return s
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg).SetQuestion(name, qtype)
	m.Id = 4242
	return m
}

func TestServeDNS(t *testing.T) {
	for _, tc := range []struct {
		name      string
		synced    bool
		fwd       *fakeForwarder
		req       *dns.Msg
		tcp       bool
		rcode     int
		answers   int
		aa, ra    bool
		forwarded []string
	}{
		{name: "cluster name", synced: true, req: query("web.default.svc.cluster.local.", dns.TypeA),
			rcode: dns.RcodeSuccess, answers: 1, aa: true},
		{name: "unknown cluster name", synced: true, req: query("nope.default.svc.cluster.local.", dns.TypeA),
			rcode: dns.RcodeNameError, aa: true},
		{name: "outside name refused without upstream", synced: true, req: query("example.com.", dns.TypeA),
			rcode: dns.RcodeRefused},
		{name: "outside name forwarded over UDP", synced: true, fwd: &fakeForwarder{}, req: query("example.com.", dns.TypeA),
			rcode: dns.RcodeSuccess, answers: 1, ra: true, forwarded: []string{"udp"}},
		{name: "outside name forwarded over TCP", synced: true, fwd: &fakeForwarder{}, req: query("example.com.", dns.TypeA), tcp: true,
			rcode: dns.RcodeSuccess, answers: 1, ra: true, forwarded: []string{"tcp"}},
		{name: "upstream failure is SERVFAIL", synced: true, fwd: &fakeForwarder{fail: true}, req: query("example.com.", dns.TypeA),
			rcode: dns.RcodeServerFailure, ra: true, forwarded: []string{"udp"}},
		{name: "cluster names are never forwarded", synced: true, fwd: &fakeForwarder{}, req: query("nope.default.svc.cluster.local.", dns.TypeA),
			rcode: dns.RcodeNameError, aa: true, ra: true},
		{name: "before the caches sync", synced: false, req: query("nope.default.svc.cluster.local.", dns.TypeA),
			rcode: dns.RcodeServerFailure},
		{name: "not a query", synced: true, req: func() *dns.Msg { m := query("cluster.local.", dns.TypeSOA); m.Opcode = dns.OpcodeNotify; return m }(),
			rcode: dns.RcodeNotImplemented},
		{name: "two questions", synced: true, req: func() *dns.Msg {
			m := query("web.default.svc.cluster.local.", dns.TypeA)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), rcode: dns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fwd Forwarder
			if tc.fwd != nil {
				fwd = tc.fwd
			}
			s := testServer(tc.synced, fwd)
			w := udpWriter()
			if tc.tcp {
				w = tcpWriter()
			}
			s.ServeDNS(w, tc.req)
			m := w.msg
			if m == nil {
				t.Fatal("nothing written")
			}
			if m.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
			if len(m.Answer) != tc.answers {
				t.Errorf("%d answers, want %d: %v", len(m.Answer), tc.answers, m.Answer)
			}
			if m.Authoritative != tc.aa || m.RecursionAvailable != tc.ra {
				t.Errorf("aa=%v ra=%v, want aa=%v ra=%v", m.Authoritative, m.RecursionAvailable, tc.aa, tc.ra)
			}
			if m.Id != tc.req.Id || !m.Response {
				t.Errorf("reply id %d response=%v, want id %d and the response bit", m.Id, m.Response, tc.req.Id)
			}
			if tc.fwd != nil && fmt.Sprint(tc.fwd.networks) != fmt.Sprint(tc.forwarded) {
				t.Errorf("forwarded over %v, want %v", tc.fwd.networks, tc.forwarded)
			}
		})
	}
}

// TestServeDNSSize checks truncation: a UDP reply fits 512 bytes without
// EDNS (with TC set so the client retries over TCP), the advertised size
// with EDNS (answered with an OPT), and is whole over TCP.
func TestServeDNSSize(t *testing.T) {
	s := testServer(true, nil)
	s.index.SetService(&zone.Service{Namespace: "default", Name: "big", Headless: true})
	var addrs []zone.Address
	for i := range 100 {
		addrs = append(addrs, zone.Address{IP: netip.AddrFrom4([4]byte{10, 244, 1, byte(i + 1)})})
	}
	s.index.SetEndpoints(&zone.Endpoints{Namespace: "default", Name: "big", Subsets: []zone.Subset{{Ready: addrs}}})
	const name = "big.default.svc.cluster.local."

	w := udpWriter()
	s.ServeDNS(w, query(name, dns.TypeA))
	if !w.msg.Truncated || len(w.msg.Answer) >= 100 || w.msg.Len() > dns.MinMsgSize {
		t.Errorf("UDP without EDNS: truncated=%v answers=%d len=%d, want TC and <= 512 bytes", w.msg.Truncated, len(w.msg.Answer), w.msg.Len())
	}

	req := query(name, dns.TypeA)
	req.SetEdns0(4096, false)
	w = udpWriter()
	s.ServeDNS(w, req)
	if w.msg.IsEdns0() == nil {
		t.Error("EDNS query answered without OPT")
	}
	if w.msg.Len() > maxUDPSize || len(w.msg.Answer) <= 30 {
		t.Errorf("UDP with EDNS 4096: len=%d answers=%d, want more than 512 bytes' worth but at most %d bytes", w.msg.Len(), len(w.msg.Answer), maxUDPSize)
	}

	w = tcpWriter()
	s.ServeDNS(w, query(name, dns.TypeA))
	if w.msg.Truncated || len(w.msg.Answer) != 100 {
		t.Errorf("TCP: truncated=%v answers=%d, want all 100", w.msg.Truncated, len(w.msg.Answer))
	}
}

func TestUpstreamAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.2":       "10.0.0.2:53",
		"10.0.0.2:5353":  "10.0.0.2:5353",
		"dns.example":    "dns.example:53",
		"[fd00::1]:5353": "[fd00::1]:5353",
		"fd00::1":        "[fd00::1]:53",
	} {
		if got, err := upstreamAddr(in); err != nil || got != want {
			t.Errorf("upstreamAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := upstreamAddr("a:b:c"); err == nil {
		t.Error("upstreamAddr accepted a:b:c")
	}
}

func TestListenDNSSharesThePort(t *testing.T) {
	pc, l, err := listenDNS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	defer l.Close()
	if u, tc := pc.LocalAddr().(*net.UDPAddr).Port, l.Addr().(*net.TCPAddr).Port; u != tc || u == 0 {
		t.Fatalf("udp port %d, tcp port %d: want one free port for both", u, tc)
	}
}
