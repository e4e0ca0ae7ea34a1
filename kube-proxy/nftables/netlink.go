package nftables

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	gnft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
	"sigs.k8s.io/knftables"
)

// Netlink is a Backend that sends each transaction to the kernel as one
// netlink batch (github.com/google/nftables encodes it; sendBatch sends
// it), built from the same nft syntax the renderer writes, compiled here
// into expressions. Unlike the nft CLI it never reads the table back, so
// a small transaction costs what it changes on our side (the kernel
// still checks the whole table after it: see docs/benchmarks.md), and a
// whole-table rewrite skips nft's parser (measured at 10,000 services,
// same run: full sync 9.4 s against 36.3 s through nft -f on the loaded
// machine; CPU 1.6 s user + 1.6 s sys against nft's 2.5 s + 1.9 s plus
// our rendering). Every call opens its netlink socket in the network
// namespace of the calling thread.
type Netlink struct{}

// Hybrid is the default Backend. By default (New) netlink does
// everything; with CLI set, full syncs (start, restart, every
// --sync-period) go through the nft CLI (knftables) instead, as they did
// while google/nftables' per-message acknowledgements made netlink the
// slower path for them - kept so the two can be compared
// (hack/bench-proxy's nftables-cli row is the CLI alone). Both write the
// same table from the same rendering.
type Hybrid struct {
	Netlink *Netlink
	// CLI, when set, takes the full syncs.
	CLI *NFT
}

// New returns the default backend (Hybrid, netlink for everything). It checks that nftables
// answers in the calling thread's network namespace.
func New() (*Hybrid, error) {
	c, err := gnft.New()
	if err != nil {
		return nil, err
	}
	if _, err := c.ListTablesOfFamily(gnft.TableFamilyIPv4); err != nil {
		return nil, fmt.Errorf("nftables not usable: %w", err)
	}
	return &Hybrid{Netlink: &Netlink{}}, nil
}

// NewTx implements Backend.
func (h *Hybrid) NewTx(full bool) Tx {
	if full && h.CLI != nil {
		return h.CLI.NewTx(true)
	}
	return h.Netlink.NewTx(full)
}

// Run implements Backend.
func (h *Hybrid) Run(ctx context.Context, tx Tx) error {
	if _, ok := tx.(nftTx); ok {
		return h.CLI.Run(ctx, tx)
	}
	return h.Netlink.Run(ctx, tx)
}

// List implements Backend.
func (h *Hybrid) List(ctx context.Context) (Existing, error) { return h.Netlink.List(ctx) }

// DeleteTable implements Backend.
func (h *Hybrid) DeleteTable(ctx context.Context) error { return h.Netlink.DeleteTable(ctx) }

var table = &gnft.Table{Family: gnft.TableFamilyIPv4, Name: TableName}

// NewTx implements Backend.
func (*Netlink) NewTx(bool) Tx {
	return &netlinkTx{sets: map[string]*gnft.Set{}, chains: map[string]*gnft.Chain{}}
}

// Run implements Backend.
func (*Netlink) Run(_ context.Context, t Tx) error {
	tx := t.(*netlinkTx)
	if tx.err != nil {
		return tx.err
	}
	// google/nftables encodes the messages; they are sent here (see
	// sendBatch), so its Flush talks to a stand-in that only records them.
	var msgs []netlink.Message
	ack := []netlink.Message{{Header: netlink.Header{Type: netlink.Error}, Data: make([]byte, 4)}}
	c, err := gnft.New(gnft.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		msgs = append(msgs, req...)
		return ack, nil
	}))
	if err != nil {
		return err
	}
	for _, op := range tx.ops {
		if err := op(c); err != nil {
			return err
		}
	}
	if err := c.Flush(); err != nil {
		return err
	}
	return sendBatch(msgs)
}

// sendBatch sends one batch (begin, messages, end) in one sendmsg and
// waits for the kernel's verdict on it. google/nftables asks for an
// acknowledgement of every message and an echo of every rule, and reads
// them back one at a time: for a full sync of 10,000 services that is
// 170,000 replies, which cost more CPU (user and kernel) than the
// transaction itself (measured: 4.4 s user + 6.5 s sys). The kernel
// processes a batch within the sendmsg call and reports every failing
// message whether asked or not, so only the last message asks for an
// acknowledgement, as nft does it: an error for any message, or that one
// acknowledgement, is the outcome of the whole transaction.
func sendBatch(msgs []netlink.Message) error {
	last := -1
	for i := range msgs {
		h := &msgs[i].Header
		h.Flags &^= netlink.Acknowledge | netlink.Echo
		h.PID = 0
		if t := uint16(h.Type); t != unix.NFNL_MSG_BATCH_BEGIN && t != unix.NFNL_MSG_BATCH_END {
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	msgs[last].Header.Flags |= netlink.Acknowledge
	conn, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := bigBuffers(conn); err != nil {
		return err
	}
	if err := sendAll(conn, msgs); err != nil {
		return err
	}
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		return err
	}
	want := msgs[last].Header.Sequence
	for {
		replies, err := conn.Receive()
		if err != nil {
			var oe *netlink.OpError
			if errors.As(err, &oe) && oe.Sequence != 0 {
				for i := range msgs {
					if msgs[i].Header.Sequence == oe.Sequence {
						return fmt.Errorf("message %d of %d (type %#x): %w", i, len(msgs), uint16(msgs[i].Header.Type), err)
					}
				}
			}
			return err
		}
		for _, m := range replies {
			if m.Header.Sequence == want {
				return nil
			}
		}
	}
}

// sendAll sends msgs in one sendmsg, numbering those without a sequence
// number. netlink.Conn.SendMessages would do the same but marshals each
// message into a slice of its own and appends it to a growing buffer:
// for a full sync of 10,000 services (tens of megabytes) that copying
// cost more CPU than building the messages. Here the buffer is sized
// once and every header written in place.
func sendAll(conn *netlink.Conn, msgs []netlink.Message) error {
	size := 0
	for i := range msgs {
		size += nlAlign(nlHeaderLen + len(msgs[i].Data))
	}
	buf := make([]byte, size)
	seq := uint32(time.Now().UnixNano())
	off := 0
	for i := range msgs {
		h := &msgs[i].Header
		n := nlHeaderLen + len(msgs[i].Data)
		h.Length = uint32(n)
		if h.Sequence == 0 {
			seq++
			h.Sequence = seq
		}
		b := buf[off:]
		binary.NativeEndian.PutUint32(b[0:], h.Length)
		binary.NativeEndian.PutUint16(b[4:], uint16(h.Type))
		binary.NativeEndian.PutUint16(b[6:], uint16(h.Flags))
		binary.NativeEndian.PutUint32(b[8:], h.Sequence)
		binary.NativeEndian.PutUint32(b[12:], h.PID)
		copy(b[nlHeaderLen:], msgs[i].Data)
		off += nlAlign(n)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		serr = unix.Sendto(int(fd), buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		return serr != unix.EAGAIN
	})
	if err != nil {
		return err
	}
	return serr
}

const nlHeaderLen = 16

func nlAlign(n int) int { return (n + 3) &^ 3 }

// bigBuffers lets one transaction of any size go down the socket: the
// kernel takes a netlink batch only whole, in one sendmsg, which must fit
// the socket's send buffer (a full sync of 10,000 services is tens of
// megabytes), and it acknowledges every message of the batch at once, so
// the receive buffer must hold all the acknowledgements. The buffers are
// limits, not allocations; the FORCE options (CAP_NET_ADMIN, which
// kube-proxy has anyway) pass net.core.[rw]mem_max, as nft does.
func bigBuffers(c *netlink.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 1<<30); e != nil {
			serr = e
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<28)
	})
	if err != nil {
		return err
	}
	return serr
}

// List implements Backend.
func (*Netlink) List(context.Context) (Existing, error) {
	c, err := gnft.New()
	if err != nil {
		return Existing{}, err
	}
	var ex Existing
	if _, err := c.ListTableOfFamily(TableName, gnft.TableFamilyIPv4); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return ex, nil
		}
		return ex, err
	}
	chains, err := c.ListChainsOfTableFamily(gnft.TableFamilyIPv4)
	if err != nil {
		return ex, err
	}
	for _, ch := range chains {
		if ch.Table.Name == TableName {
			ex.Chains = append(ex.Chains, ch.Name)
		}
	}
	sets, err := c.GetSets(table)
	if err != nil {
		return ex, err
	}
	for _, s := range sets {
		switch {
		case s.Anonymous:
		case !s.IsMap:
			ex.Sets = append(ex.Sets, s.Name)
		case IsEndpointMap(s.Name):
			ex.Maps = append(ex.Maps, s.Name)
		}
	}
	return ex, nil
}

// DeleteTable implements Backend.
func (*Netlink) DeleteTable(context.Context) error {
	c, err := gnft.New()
	if err != nil {
		return err
	}
	if _, err := c.ListTableOfFamily(TableName, gnft.TableFamilyIPv4); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	c.DelTable(table)
	return c.Flush()
}

// netlinkTx records operations; Run replays them on one connection, whose
// Flush sends them as one batch (one kernel transaction).
type netlinkTx struct {
	ops    []func(*gnft.Conn) error
	sets   map[string]*gnft.Set
	chains map[string]*gnft.Chain
	batch  *elemOp
	err    error
}

func (tx *netlinkTx) fail(err error) {
	if tx.err == nil {
		tx.err = err
	}
}

func (tx *netlinkTx) do(op func(*gnft.Conn) error) { tx.ops = append(tx.ops, op) }

func (tx *netlinkTx) chain(name string) *gnft.Chain {
	if c := tx.chains[name]; c != nil {
		return c
	}
	return &gnft.Chain{Name: name, Table: table}
}

// mapTypes are the key types of the fixed maps.
func mapKeyType(typ string) (gnft.SetDatatype, error) {
	key, _, _ := strings.Cut(typ, " : ")
	var parts []gnft.SetDatatype
	for _, p := range strings.Split(key, " . ") {
		switch p {
		case "ipv4_addr":
			parts = append(parts, gnft.TypeIPAddr)
		case "inet_proto":
			parts = append(parts, gnft.TypeInetProto)
		case "inet_service":
			parts = append(parts, gnft.TypeInetService)
		default:
			return gnft.SetDatatype{}, fmt.Errorf("map type %q: unsupported %q", typ, p)
		}
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return gnft.ConcatSetType(parts...)
}

func (tx *netlinkTx) AddTable() {
	tx.do(func(c *gnft.Conn) error { c.AddTable(table); return nil })
}

func (tx *netlinkTx) set(name string) *gnft.Set {
	if s := tx.sets[name]; s != nil {
		return s
	}
	m, ok := LookupMap(name)
	if !ok {
		return &gnft.Set{Table: table, Name: name, KeyType: gnft.TypeIPAddr}
	}
	s := &gnft.Set{Table: table, Name: name}
	switch {
	case IsEndpointMap(name):
		// numgen's value (a host-order integer) to address . port.
		dt, err := gnft.ConcatSetType(gnft.TypeIPAddr, gnft.TypeInetService)
		if err != nil {
			tx.fail(err)
			return nil
		}
		s.IsMap, s.KeyType, s.KeyByteOrder, s.DataType = true, gnft.TypeInteger, binaryutil.NativeEndian, dt
	default:
		kt, err := mapKeyType(m.Type)
		if err != nil {
			tx.fail(err)
			return nil
		}
		s.KeyType = kt
		if !m.Set {
			s.IsMap, s.DataType = true, gnft.TypeVerdict
		}
	}
	tx.sets[name] = s
	return s
}

func (tx *netlinkTx) AddMap(m MapDef) {
	s := tx.set(m.Name)
	tx.do(func(c *gnft.Conn) error { return c.AddSet(s, nil) })
}

func (tx *netlinkTx) FlushMap(name string) {
	s := tx.set(name)
	tx.do(func(c *gnft.Conn) error { c.FlushSet(s); return nil })
}

func (tx *netlinkTx) AddSet(name string, timeout time.Duration) {
	s := &gnft.Set{Table: table, Name: name, KeyType: gnft.TypeIPAddr, Dynamic: true, HasTimeout: true, Timeout: timeout, Size: 65535}
	tx.sets[name] = s
	tx.do(func(c *gnft.Conn) error { return c.AddSet(s, nil) })
}

func (tx *netlinkTx) AddChain(name string, base *BaseChain) {
	ch := &gnft.Chain{Name: name, Table: table}
	if base != nil {
		switch base.Type {
		case knftables.NATType:
			ch.Type = gnft.ChainTypeNAT
		default:
			ch.Type = gnft.ChainTypeFilter
		}
		switch base.Hook {
		case knftables.PreroutingHook:
			ch.Hooknum = gnft.ChainHookPrerouting
		case knftables.InputHook:
			ch.Hooknum = gnft.ChainHookInput
		case knftables.ForwardHook:
			ch.Hooknum = gnft.ChainHookForward
		case knftables.OutputHook:
			ch.Hooknum = gnft.ChainHookOutput
		case knftables.PostroutingHook:
			ch.Hooknum = gnft.ChainHookPostrouting
		default:
			tx.fail(fmt.Errorf("chain %s: unsupported hook %s", name, base.Hook))
			return
		}
		ch.Priority = gnft.ChainPriorityRef(gnft.ChainPriority(base.Priority))
		accept := gnft.ChainPolicyAccept
		ch.Policy = &accept
	}
	tx.chains[name] = ch
	tx.do(func(c *gnft.Conn) error { c.AddChain(ch); return nil })
}

func (tx *netlinkTx) FlushChain(name string) {
	ch := tx.chain(name)
	tx.do(func(c *gnft.Conn) error { c.FlushChain(ch); return nil })
}

func (tx *netlinkTx) DeleteChain(name string) {
	ch := tx.chain(name)
	tx.do(func(c *gnft.Conn) error { c.DelChain(ch); return nil })
}

func (tx *netlinkTx) DeleteSet(name string) {
	s := &gnft.Set{Table: table, Name: name}
	tx.do(func(c *gnft.Conn) error { c.DelSet(s); return nil })
}

func (tx *netlinkTx) AddRule(chain, rule string) {
	exprs, anon, err := compileRule(rule)
	if err != nil {
		tx.fail(fmt.Errorf("chain %s, rule %q: %w", chain, rule, err))
		return
	}
	ch := tx.chain(chain)
	tx.do(func(c *gnft.Conn) error {
		for _, a := range anon {
			if err := c.AddSet(a.set, a.elems); err != nil {
				return err
			}
			a.bind()
		}
		c.AddRule(&gnft.Rule{Table: table, Chain: ch, Exprs: exprs})
		return nil
	})
}

// AddElement implements Writer. Consecutive elements of one map go in
// one message (a full sync adds 10,000 at once), up to elemBatch each.
func (tx *netlinkTx) AddElement(m string, e Element) {
	tx.element(m, e, true, false)
}

// DeleteElement implements Writer, batched like AddElement.
func (tx *netlinkTx) DeleteElement(m string, e Element) {
	tx.element(m, e, false, true)
}

const elemBatch = 512

func (tx *netlinkTx) element(m string, e Element, withValue, del bool) {
	el, err := encodeElement(m, e, withValue)
	if err != nil {
		tx.fail(fmt.Errorf("element %s of %s: %w", e.key(), m, err))
		return
	}
	if b := tx.batch; b != nil && len(tx.ops) == b.at && b.m == m && b.del == del && len(b.elems) < elemBatch {
		b.elems = append(b.elems, el)
		return
	}
	b := &elemOp{m: m, del: del, elems: []gnft.SetElement{el}, at: len(tx.ops) + 1}
	tx.batch = b
	s := tx.set(m)
	tx.do(func(c *gnft.Conn) error {
		if b.del {
			return c.SetDeleteElements(s, b.elems)
		}
		return c.SetAddElements(s, b.elems)
	})
}

// encodeElement encodes an element of map m: an endpoint map's key is a
// host-order integer and its value address . port; the other maps' keys
// are concatenations (keyPart) and their values verdicts; sets have no
// value.
func encodeElement(m string, e Element, withValue bool) (gnft.SetElement, error) {
	if IsEndpointMap(m) {
		if len(e.Key) != 1 {
			return gnft.SetElement{}, fmt.Errorf("bad key")
		}
		n, err := strconv.ParseUint(e.Key[0], 10, 32)
		if err != nil {
			return gnft.SetElement{}, err
		}
		el := gnft.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(n))}
		if withValue {
			addr, port, ok := strings.Cut(e.Value, " . ")
			a, err1 := netip.ParseAddr(addr)
			p, err2 := strconv.ParseUint(port, 10, 16)
			if !ok || err1 != nil || err2 != nil || !a.Is4() {
				return gnft.SetElement{}, fmt.Errorf("bad endpoint %q", e.Value)
			}
			b := a.As4()
			el.Val = append(b[:], byte(p>>8), byte(p), 0, 0)
		}
		return el, nil
	}
	var key []byte
	for _, k := range e.Key {
		b, err := keyPart(k)
		if err != nil {
			return gnft.SetElement{}, err
		}
		key = append(key, b...)
	}
	el := gnft.SetElement{Key: key}
	if withValue && !isSet(m) {
		v, err := verdict(strings.Fields(e.Value))
		if err != nil {
			return gnft.SetElement{}, err
		}
		el.VerdictData = v
	}
	return el, nil
}

// elemOp is a batch of element additions or deletions for one map; at is
// len(ops) just after its op, so only the latest op can grow.
type elemOp struct {
	m     string
	del   bool
	elems []gnft.SetElement
	at    int
}

// keyPart is one field of a concatenated key, padded to 4 bytes as the
// kernel lays concatenations out in registers.
func keyPart(s string) ([]byte, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		b := a.As4()
		return b[:], nil
	}
	if p, ok := protocols[s]; ok {
		return []byte{p, 0, 0, 0}, nil
	}
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return []byte{byte(n >> 8), byte(n), 0, 0}, nil
	}
	return nil, fmt.Errorf("unsupported key %q", s)
}

var protocols = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "sctp": unix.IPPROTO_SCTP}

// verdict compiles "goto X", "jump X", "drop", "accept", "return".
func verdict(toks []string) (*expr.Verdict, error) {
	switch {
	case len(toks) == 2 && toks[0] == "goto":
		return &expr.Verdict{Kind: expr.VerdictGoto, Chain: toks[1]}, nil
	case len(toks) == 2 && toks[0] == "jump":
		return &expr.Verdict{Kind: expr.VerdictJump, Chain: toks[1]}, nil
	case len(toks) == 1 && toks[0] == "drop":
		return &expr.Verdict{Kind: expr.VerdictDrop}, nil
	case len(toks) == 1 && toks[0] == "accept":
		return &expr.Verdict{Kind: expr.VerdictAccept}, nil
	case len(toks) == 1 && toks[0] == "return":
		return &expr.Verdict{Kind: expr.VerdictReturn}, nil
	}
	return nil, fmt.Errorf("unsupported verdict %q", strings.Join(toks, " "))
}

// anonSet is an inline verdict map a rule needs created first.
type anonSet struct {
	set   *gnft.Set
	elems []gnft.SetElement
	// bind points the rule's lookup at the set once AddSet gave it its
	// name and ID.
	bind func()
}

// selectorExpr loads a selector into register reg; it returns the
// expressions, the value's length and the tokens used.
func selectorExpr(toks []string, reg uint32) ([]expr.Any, int, int, error) {
	if len(toks) < 2 {
		return nil, 0, 0, fmt.Errorf("unknown expression %v", toks)
	}
	switch toks[0] + " " + toks[1] {
	case "ip daddr":
		return []expr.Any{&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4}}, 4, 2, nil
	case "ip saddr":
		return []expr.Any{&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}}, 4, 2, nil
	case "meta l4proto":
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg}}, 1, 2, nil
	case "th dport":
		return []expr.Any{&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}}, 2, 2, nil
	case "tcp dport", "udp dport", "sctp dport":
		// The protocol is checked first, as nft does implicitly.
		return []expr.Any{
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg, Data: []byte{protocols[toks[0]]}},
			&expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		}, 2, 2, nil
	case "meta mark":
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: reg}}, 4, 2, nil
	case "ct state":
		return []expr.Any{&expr.Ct{Key: expr.CtKeySTATE, Register: reg}}, 4, 2, nil
	case "ct status":
		return []expr.Any{&expr.Ct{Key: expr.CtKeySTATUS, Register: reg}}, 4, 2, nil
	case "fib daddr", "fib saddr":
		if len(toks) < 3 || toks[2] != "type" {
			return nil, 0, 0, fmt.Errorf("unsupported fib expression")
		}
		return []expr.Any{&expr.Fib{Register: reg, ResultADDRTYPE: true, FlagDADDR: toks[1] == "daddr", FlagSADDR: toks[1] == "saddr"}}, 4, 3, nil
	case "numgen random":
		if len(toks) < 4 || toks[2] != "mod" {
			return nil, 0, 0, fmt.Errorf("unsupported numgen expression")
		}
		n, err := strconv.ParseUint(toks[3], 10, 32)
		if err != nil {
			return nil, 0, 0, err
		}
		return []expr.Any{&expr.Numgen{Register: reg, Modulus: uint32(n), Type: unix.NFT_NG_RANDOM}}, 4, 4, nil
	}
	return nil, 0, 0, fmt.Errorf("unsupported expression %q", toks[0]+" "+toks[1])
}

// value encodes a comparison value for a selector of the given kind.
func value(sel, v string, size int) ([]byte, []byte, error) {
	switch sel {
	case "ip daddr", "ip saddr":
		if strings.Contains(v, "/") {
			p, err := netip.ParsePrefix(v)
			if err != nil || !p.Addr().Is4() {
				return nil, nil, fmt.Errorf("bad prefix %q", v)
			}
			a := p.Masked().Addr().As4()
			mask := make([]byte, 4)
			for i := 0; i < p.Bits(); i++ {
				mask[i/8] |= 0x80 >> (i % 8)
			}
			return a[:], mask, nil
		}
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return nil, nil, fmt.Errorf("bad address %q", v)
		}
		b := a.As4()
		return b[:], nil, nil
	case "meta l4proto":
		p, ok := protocols[v]
		if !ok {
			return nil, nil, fmt.Errorf("unknown protocol %q", v)
		}
		return []byte{p}, nil, nil
	case "th dport", "tcp dport", "udp dport", "sctp dport":
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return nil, nil, err
		}
		return binaryutil.BigEndian.PutUint16(uint16(n)), nil, nil
	case "fib daddr", "fib saddr":
		if v != "local" {
			return nil, nil, fmt.Errorf("unsupported address type %q", v)
		}
		return binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL), nil, nil
	case "ct state":
		if v != "new" {
			return nil, nil, fmt.Errorf("unsupported ct state %q", v)
		}
		// A bit test: state & new != 0.
		return binaryutil.NativeEndian.PutUint32(0), binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), nil
	case "ct status":
		if v != "dnat" {
			return nil, nil, fmt.Errorf("unsupported ct status %q", v)
		}
		// A bit test: status & dnat != 0.
		return binaryutil.NativeEndian.PutUint32(0), binaryutil.NativeEndian.PutUint32(ctStatusDNAT), nil
	case "meta mark", "numgen random":
		n, err := strconv.ParseUint(v, 0, 32)
		if err != nil {
			return nil, nil, err
		}
		return binaryutil.NativeEndian.PutUint32(uint32(n)), nil, nil
	}
	return nil, nil, fmt.Errorf("no values for %s", sel)
}

// ctStatusDNAT is IPS_DST_NAT, the conntrack status bit of a connection
// whose destination was rewritten.
const ctStatusDNAT = 1 << 5

type numgenMap struct {
	mod, offset uint32
	set         string
}

// parseNumgenMap reads "numgen random mod N [offset K] map @m" (the whole
// rest of a rule).
func parseNumgenMap(toks []string) (numgenMap, error) {
	var ng numgenMap
	bad := fmt.Errorf("unsupported dnat map %q", strings.Join(toks, " "))
	if len(toks) < 6 || toks[1] != "random" || toks[2] != "mod" {
		return ng, bad
	}
	n, err := strconv.ParseUint(toks[3], 10, 32)
	if err != nil || n == 0 {
		return ng, bad
	}
	ng.mod = uint32(n)
	rest := toks[4:]
	if rest[0] == "offset" {
		k, err := strconv.ParseUint(rest[1], 10, 32)
		if err != nil {
			return ng, bad
		}
		ng.offset = uint32(k)
		rest = rest[2:]
	}
	if len(rest) != 2 || rest[0] != "map" || !strings.HasPrefix(rest[1], "@") {
		return ng, bad
	}
	ng.set = rest[1][1:]
	return ng, nil
}

// compileRule turns one rule of the renderer's nft syntax into netlink
// expressions (and the anonymous maps it uses). It accepts exactly the
// forms the renderer writes and the tracer follows.
func compileRule(rule string) ([]expr.Any, []anonSet, error) {
	toks := strings.Fields(rule)
	var out []expr.Any
	var anon []anonSet
	for i := 0; i < len(toks); {
		switch toks[i] {
		case "jump", "goto", "return", "accept", "drop":
			n := 1
			if toks[i] == "jump" || toks[i] == "goto" {
				n = 2
			}
			if i+n != len(toks) {
				return nil, nil, fmt.Errorf("a verdict must end the rule")
			}
			v, err := verdict(toks[i:])
			if err != nil {
				return nil, nil, err
			}
			return append(out, v), anon, nil
		case "reject":
			// ICMP port unreachable, what nft's plain reject sends in the ip family.
			return append(out, &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}), anon, nil
		case "masquerade":
			return append(out, &expr.Masq{FullyRandom: i+1 < len(toks) && toks[i+1] == "fully-random"}), anon, nil
		case "dnat":
			if i+2 >= len(toks) || toks[i+1] != "to" {
				return nil, nil, fmt.Errorf("dnat without to")
			}
			if toks[i+2] == "numgen" {
				// dnat to numgen random mod N [offset K] map @m: the map's
				// value (address, then port in the next 32-bit register)
				// is loaded where the nat expression reads it.
				ng, err := parseNumgenMap(toks[i+2:])
				if err != nil {
					return nil, nil, err
				}
				return append(out,
					&expr.Numgen{Register: 1, Modulus: ng.mod, Offset: ng.offset, Type: unix.NFT_NG_RANDOM},
					&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: ng.set},
					&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegAddrMax: 1,
						RegProtoMin: unix.NFT_REG32_01, RegProtoMax: unix.NFT_REG32_01, Specified: true},
				), anon, nil
			}
			ap, err := netip.ParseAddrPort(toks[i+2])
			if err != nil || !ap.Addr().Is4() {
				return nil, nil, fmt.Errorf("dnat to %q", toks[i+2])
			}
			a := ap.Addr().As4()
			return append(out,
				&expr.Immediate{Register: 1, Data: a[:]},
				&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(ap.Port())},
				&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
			), anon, nil
		case "update":
			if i+5 >= len(toks) || !strings.HasPrefix(toks[i+1], "@") || strings.Join(toks[i+2:i+6], " ") != "{ ip saddr }" {
				return nil, nil, fmt.Errorf("unsupported update statement")
			}
			out = append(out,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
				&expr.Dynset{SrcRegKey: 1, SetName: toks[i+1][1:], Operation: unix.NFT_DYNSET_OP_UPDATE})
			i += 6
			continue
		}
		// Selectors joined by ".", then an operator.
		type sel struct {
			name string
			size int
		}
		var sels []sel
		j := i
		concat := false
		for k := j; k < len(toks); k++ {
			if toks[k] == "." {
				concat = true
				break
			}
			if toks[k] == "vmap" || strings.HasPrefix(toks[k], "@") || toks[k] == "!=" || toks[k] == "&" || toks[k] == "set" {
				break
			}
		}
		reg := uint32(1)
		if concat {
			reg = unix.NFT_REG32_00
		}
		for {
			ex, size, n, err := selectorExpr(toks[j:], reg)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, ex...)
			name := toks[j] + " " + toks[j+1]
			sels = append(sels, sel{name, size})
			j += n
			if j < len(toks) && toks[j] == "." {
				reg += uint32((size + 3) / 4)
				j++
				continue
			}
			break
		}
		if j >= len(toks) {
			return nil, nil, fmt.Errorf("match without a value")
		}
		src := uint32(1)
		if concat {
			src = unix.NFT_REG32_00
		}
		op := toks[j]
		switch {
		case op == "set":
			// meta mark set meta mark | X (or ^ X)
			if j+4 >= len(toks) || toks[j+1] != "meta" || toks[j+2] != "mark" {
				return nil, nil, fmt.Errorf("unsupported mark statement")
			}
			n, err := strconv.ParseUint(toks[j+4], 0, 32)
			if err != nil {
				return nil, nil, err
			}
			mask, xor := ^uint32(0), uint32(n)
			switch toks[j+3] {
			case "|":
				mask = ^uint32(n)
			case "^":
			default:
				return nil, nil, fmt.Errorf("unsupported mark operator %s", toks[j+3])
			}
			out = append(out,
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(xor)},
				&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
			i = j + 5
		case op == "vmap" && j+1 < len(toks) && strings.HasPrefix(toks[j+1], "@"):
			out = append(out, &expr.Lookup{SourceRegister: src, DestRegister: 0, IsDestRegSet: true, SetName: toks[j+1][1:]})
			i = j + 2
		case op == "vmap" && j+1 < len(toks) && toks[j+1] == "{":
			// numgen random mod N vmap { 0 : goto a , 1 : goto b }
			if len(sels) != 1 || sels[0].name != "numgen random" {
				return nil, nil, fmt.Errorf("inline vmap only after numgen")
			}
			end := j + 2
			for end < len(toks) && toks[end] != "}" {
				end++
			}
			var elems []gnft.SetElement
			for _, entry := range strings.Split(strings.Join(toks[j+2:end], " "), " , ") {
				f := strings.Fields(entry)
				if len(f) < 3 || f[1] != ":" {
					return nil, nil, fmt.Errorf("bad vmap entry %q", entry)
				}
				k, err := strconv.ParseUint(f[0], 10, 32)
				if err != nil {
					return nil, nil, err
				}
				v, err := verdict(f[2:])
				if err != nil {
					return nil, nil, err
				}
				elems = append(elems, gnft.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(k)), VerdictData: v})
			}
			set := &gnft.Set{Table: table, Anonymous: true, Constant: true, IsMap: true, KeyType: gnft.TypeInteger,
				DataType: gnft.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
			lk := &expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true}
			anon = append(anon, anonSet{set: set, elems: elems, bind: func() { lk.SetName, lk.SetID = set.Name, set.ID }})
			out = append(out, lk)
			i = end + 1
		case strings.HasPrefix(op, "@"):
			out = append(out, &expr.Lookup{SourceRegister: src, SetName: op[1:]})
			i = j + 1
		case op == "&":
			// meta mark & M == V
			if j+3 >= len(toks) || toks[j+2] != "==" || len(sels) != 1 {
				return nil, nil, fmt.Errorf("unsupported mask expression")
			}
			mask, _, err := value(sels[0].name, toks[j+1], 0)
			if err != nil {
				return nil, nil, err
			}
			want, _, err := value(sels[0].name, toks[j+3], 0)
			if err != nil {
				return nil, nil, err
			}
			out = append(out,
				&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: want})
			i = j + 4
		default:
			if len(sels) != 1 {
				return nil, nil, fmt.Errorf("comparison of a concatenation")
			}
			cmpOp, at := expr.CmpOpEq, j
			switch op {
			case "!=":
				cmpOp, at = expr.CmpOpNeq, j+1
			case "==":
				at = j + 1
			}
			if at >= len(toks) {
				return nil, nil, fmt.Errorf("%s without a value", op)
			}
			data, mask, err := value(sels[0].name, toks[at], sels[0].size)
			if err != nil {
				return nil, nil, err
			}
			if sels[0].name == "ct state" || sels[0].name == "ct status" {
				out = append(out,
					&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
					&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: data})
			} else {
				if mask != nil {
					out = append(out, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(mask)), Mask: mask, Xor: make([]byte, len(mask))})
				}
				out = append(out, &expr.Cmp{Op: cmpOp, Register: 1, Data: data})
			}
			i = at + 1
		}
	}
	return out, anon, nil
}
