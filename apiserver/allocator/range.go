// Package allocator hands out Service cluster IPs and node ports from
// ranges whose allocation map lives in etcd, so any number of apiservers
// sharing one etcd never give out the same value twice.
//
// Every allocated value is one key, /registry/ranges/serviceips/<ip> or
// /registry/ranges/servicenodeports/<port>, created by a transaction that
// succeeds only if the key does not exist (mod revision 0, as every create
// in the store). Releasing deletes the key. A key's value names the
// Service it belongs to, for people reading etcd; the Repair loop compares
// the keys with the stored Services and fixes what a crash between the two
// writes left behind.
package allocator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// RangesPrefix is the etcd prefix of every allocation map.
const RangesPrefix = "/registry/ranges/"

// Errors of a Range. Callers branch on them with errors.Is.
var (
	// ErrFull: no value of the range is free.
	ErrFull = errors.New("range is full")
	// ErrAllocated: the requested value belongs to someone already.
	ErrAllocated = errors.New("provided value is already allocated")
	// ErrOutOfRange: the requested value is not in the range.
	ErrOutOfRange = errors.New("provided value is not in the range")
)

// Owner is what an allocation key records about its holder.
type Owner struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Allocated is when the key was written (RFC 3339, informational).
	Allocated string `json:"allocated,omitempty"`
}

// Range is a set of size values, numbered 0..size-1, allocated as etcd
// keys under a prefix. Values are named by the caller's format and parse
// (an IP address, a port number). Safe for concurrent use.
type Range struct {
	cli    *clientv3.Client
	prefix string
	size   int
	format func(i int) string
	parse  func(s string) (int, bool)
	// dynamicFrom splits the range in two bands: dynamic allocation takes
	// from [dynamicFrom, size) first and only then from [0, dynamicFrom),
	// so values people choose by hand (10.96.0.10 for DNS) are rarely
	// taken by an automatic allocation first - Kubernetes' KEP-3070.
	dynamicFrom int

	mu  sync.Mutex
	rnd *rand.Rand
}

// NewRange returns a range of size values under prefix (which must end
// with "/"). format and parse convert between value numbers and the key's
// last element and must be inverse of each other.
func NewRange(cli *clientv3.Client, prefix string, size, dynamicFrom int, format func(int) string, parse func(string) (int, bool)) *Range {
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Range{
		cli: cli, prefix: prefix, size: size, format: format, parse: parse,
		dynamicFrom: min(max(dynamicFrom, 0), size),
		rnd:         rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6d696e696b3873)),
	}
}

// Size is the number of values in the range.
func (r *Range) Size() int { return r.size }

// Prefix is the etcd prefix of the range's keys.
func (r *Range) Prefix() string { return r.prefix }

// Key is the etcd key of value i.
func (r *Range) Key(i int) string { return r.prefix + r.format(i) }

func (r *Range) intn(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rnd.IntN(n)
}

func ownerValue(o Owner) string {
	if o.Allocated == "" {
		o.Allocated = time.Now().UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(o)
	return string(b)
}

// tryCreate writes the key of i if it does not exist; false means taken.
func (r *Range) tryCreate(ctx context.Context, i int, value string) (bool, error) {
	key := r.Key(i)
	resp, err := r.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, value)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("allocate %s: %w", key, err)
	}
	return resp.Succeeded, nil
}

// Allocate takes value i for owner; ErrAllocated when it is taken,
// ErrOutOfRange when i is not in the range.
func (r *Range) Allocate(ctx context.Context, i int, owner Owner) error {
	if i < 0 || i >= r.size {
		return ErrOutOfRange
	}
	ok, err := r.tryCreate(ctx, i, ownerValue(owner))
	if err != nil {
		return err
	}
	if !ok {
		return ErrAllocated
	}
	return nil
}

// randomProbes is how many random values AllocateNext tries before it
// reads the whole map: in a sparse range one probe nearly always wins, and
// a full band costs three cheap transactions before the listing.
const randomProbes = 3

// AllocateNext takes a free value for owner, preferring the dynamic band;
// ErrFull when there is none.
func (r *Range) AllocateNext(ctx context.Context, owner Owner) (int, error) {
	value := ownerValue(owner)
	if band := r.size - r.dynamicFrom; band > 0 {
		for range randomProbes {
			i := r.dynamicFrom + r.intn(band)
			ok, err := r.tryCreate(ctx, i, value)
			if err != nil {
				return 0, err
			}
			if ok {
				return i, nil
			}
		}
	}
	// Read the map and walk the free values from a random point; another
	// apiserver may take a value between the read and the write, so a
	// lost race moves on to the next one, and a changed map is re-read.
	for pass := 0; pass < 3; pass++ {
		used, err := r.Used(ctx)
		if err != nil {
			return 0, err
		}
		if len(used) >= r.size {
			return 0, ErrFull
		}
		lost := 0
		for _, band := range [][2]int{{r.dynamicFrom, r.size}, {0, r.dynamicFrom}} {
			lo, hi := band[0], band[1]
			if hi <= lo {
				continue
			}
			start := lo + r.intn(hi-lo)
			for k := 0; k < hi-lo; k++ {
				i := lo + (start-lo+k)%(hi-lo)
				if _, taken := used[i]; taken {
					continue
				}
				ok, err := r.tryCreate(ctx, i, value)
				if err != nil {
					return 0, err
				}
				if ok {
					return i, nil
				}
				if lost++; lost >= 16 {
					break // the map moved a lot: read it again
				}
			}
			if lost >= 16 {
				break
			}
		}
		if lost == 0 {
			return 0, ErrFull
		}
	}
	return 0, ErrFull
}

// Release frees value i. Releasing a free value is not an error.
func (r *Range) Release(ctx context.Context, i int) error {
	if i < 0 || i >= r.size {
		return nil
	}
	if _, err := r.cli.Delete(ctx, r.Key(i)); err != nil {
		return fmt.Errorf("release %s: %w", r.Key(i), err)
	}
	return nil
}

// releaseAt frees value i only if its key is still at modRev, so a repair
// never frees a value someone allocated again meanwhile.
func (r *Range) releaseAt(ctx context.Context, i int, modRev int64) (bool, error) {
	key := r.Key(i)
	resp, err := r.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", modRev)).
		Then(clientv3.OpDelete(key)).
		Commit()
	if err != nil {
		return false, fmt.Errorf("release %s: %w", key, err)
	}
	return resp.Succeeded, nil
}

// Used returns every allocated value with its key's mod revision. Keys
// that do not name a value of the range (left from another range
// configuration) are skipped.
func (r *Range) Used(ctx context.Context) (map[int]int64, error) {
	resp, err := r.cli.Get(ctx, r.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", r.prefix, err)
	}
	used := make(map[int]int64, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		i, ok := r.parse(strings.TrimPrefix(string(kv.Key), r.prefix))
		if ok && i >= 0 && i < r.size {
			used[i] = kv.ModRevision
		}
	}
	return used, nil
}

// dynamicBand is Kubernetes' size of the band kept for chosen values:
// size/div clamped to [16, maxBand], none for ranges under 16.
func dynamicBand(size, div, maxBand int) int {
	if size < 16 {
		return 0
	}
	return min(max(16, size/div), maxBand)
}
