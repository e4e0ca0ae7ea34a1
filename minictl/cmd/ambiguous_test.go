package cmd

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
)

// scripted is a ResourceAPI whose creates answer from a script; a nil
// entry stores the object (it may also be stored before an error, as an
// apiserver that dies after committing does).
type scripted struct {
	ResourceAPI
	answers []error
	landed  []bool // whether the create at that index was applied
	stored  scheme.Object
	creates int
}

func (s *scripted) Create(_ context.Context, obj scheme.Object) (scheme.Object, error) {
	i := s.creates
	s.creates++
	if s.stored != nil && i > 0 {
		return nil, apierrors.NewAlreadyExists("configmaps", obj.GetMetadata().GetName())
	}
	if i < len(s.landed) && s.landed[i] || i >= len(s.answers) || s.answers[i] == nil {
		if s.stored == nil {
			st := proto.Clone(obj).(scheme.Object)
			st.GetMetadata().Uid = "uid-1"
			st.GetMetadata().ResourceVersion = "7"
			st.(*corev1.ConfigMap).Data["added-by-admission"] = "x"
			s.stored = st
		}
	}
	if i < len(s.answers) && s.answers[i] != nil {
		return nil, s.answers[i]
	}
	return s.stored, nil
}

func (s *scripted) Get(_ context.Context, _, name string) (scheme.Object, error) {
	if s.stored == nil {
		return nil, apierrors.NewNotFound("configmaps", name)
	}
	return s.stored, nil
}

// TestCreateResolving: after a create whose outcome is unknown, minictl
// creates again only when the object has a name, and counts an existing
// object as its own only when it holds what was sent.
func TestCreateResolving(t *testing.T) {
	ambiguousRetries = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}
	amb := apierrors.NewAmbiguousWrite("create", "configmaps", "cm", errors.New("error reading from server: EOF"))
	unavailable := apierrors.NewUnavailable("connection refused")
	cm := func(name, generate string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ApiVersion: "v1", Kind: "ConfigMap",
			Metadata: &metav1.ObjectMeta{Name: name, GenerateName: generate, Namespace: "default", Labels: map[string]string{"a": "b"}},
			Data:     map[string]string{"k": "v"}}
	}
	for _, tc := range []struct {
		name        string
		obj         *corev1.ConfigMap
		answers     []error
		landed      []bool
		other       bool // the name is taken by someone else's object
		wantErr     string
		wantCreates int
	}{
		{name: "landed: the retry finds it", obj: cm("cm", ""), answers: []error{amb}, landed: []bool{true}, wantCreates: 2},
		{name: "did not land: the retry creates it", obj: cm("cm", ""), answers: []error{amb}, wantCreates: 2},
		{name: "apiserver back only on the third try", obj: cm("cm", ""), answers: []error{amb, unavailable, amb}, landed: []bool{false, false, true}, wantCreates: 4},
		{name: "someone else's object under the name", obj: cm("cm", ""), answers: []error{amb}, other: true, wantErr: apierrors.ReasonAlreadyExists, wantCreates: 2},
		{name: "generateName: cannot tell, not repeated", obj: cm("", "cm-"), answers: []error{amb}, wantErr: apierrors.ReasonTimeout, wantCreates: 1},
		{name: "never answers: the first error", obj: cm("cm", ""), answers: []error{amb, amb, amb, amb}, wantErr: apierrors.ReasonTimeout, wantCreates: 4},
		{name: "a plain refusal is not retried", obj: cm("cm", ""), answers: []error{apierrors.NewInvalid("ConfigMap", "cm", nil)}, wantErr: apierrors.ReasonInvalid, wantCreates: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &scripted{answers: tc.answers, landed: tc.landed}
			if tc.other {
				o := cm("cm", "")
				o.Data = map[string]string{"k": "someone else's"}
				api.stored = o
			}
			rctx := func(ctx context.Context) (context.Context, context.CancelFunc) { return context.WithCancel(ctx) }
			got, err := createResolving(context.Background(), api, tc.obj, rctx)
			if api.creates != tc.wantCreates {
				t.Errorf("%d creates, want %d", api.creates, tc.wantCreates)
			}
			if tc.wantErr != "" {
				if apierrors.ReasonOf(err) != tc.wantErr {
					t.Fatalf("error %v, want reason %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.GetMetadata().GetUid() != "uid-1" {
				t.Fatalf("got %v, %v", got, err)
			}
		})
	}
}

// TestFormatAmbiguous: minictl prints an unknown outcome as what it is.
func TestFormatAmbiguous(t *testing.T) {
	err := apierrors.NewAmbiguousWrite("create", "pods", "web", errors.New("error reading from server: EOF"))
	want := `error: the outcome of the write is unknown: create pods "web" was sent but did not complete (error reading from server: EOF); it may or may not have been applied - read the object to find out`
	if got := FormatError(err, []string{"127.0.0.1:6443"}); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
