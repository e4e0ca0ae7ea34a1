package warning

import (
	"context"
	"slices"
	"testing"
)

func TestRecorder(t *testing.T) {
	Add(context.Background(), "dropped: no recorder")
	ctx, r := NewContext(context.Background())
	for _, w := range []string{"a", "", "b", "a"} {
		Add(ctx, w)
	}
	if got := r.Texts(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("texts %q", got)
	}
	if got, want := Header(`would violate PodSecurity "restricted:latest": x\y`), `299 - "would violate PodSecurity \"restricted:latest\": x\\y"`; got != want {
		t.Fatalf("header %s, want %s", got, want)
	}
}
