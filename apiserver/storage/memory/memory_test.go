package memory_test

import (
	"context"
	"testing"
	"time"

	"minik8s/api/scheme"
	"minik8s/apiserver/storage"
	"minik8s/apiserver/storage/memory"
	"minik8s/apiserver/storage/storagetest"
)

func TestContract(t *testing.T) {
	storagetest.Run(t, func(*testing.T) (storage.Interface, func(int64)) {
		st := memory.New()
		return st, st.Compact
	})
}

// TestProgressRightAfterWatch: a RequestProgress made as soon as Watch
// returns reaches that watch (the watch cache relies on it to serve a
// consistent list on a quiet kind without waiting for its next tick).
func TestProgressRightAfterWatch(t *testing.T) {
	k, err := scheme.ByResource("configmaps")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		st := memory.New()
		ctx, cancel := context.WithCancel(context.Background())
		ch, _ := st.Watch(ctx, k, 1)
		if err := st.RequestProgress(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-ch:
			if ev.Type != storage.Progress || ev.Revision != 1 {
				t.Fatalf("got %+v, want a progress event at revision 1", ev)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: the progress request was lost", i)
		}
		cancel()
	}
}
