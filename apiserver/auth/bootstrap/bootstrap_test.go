package bootstrap

import (
	"context"
	"reflect"
	"testing"
	"time"

	_ "minik8s/api/all"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
	"minik8s/apiserver/cache"
	_ "minik8s/apiserver/registry/all"
	"minik8s/apiserver/registry/generic"
	"minik8s/apiserver/registry/rest"
	"minik8s/apiserver/storage/memory"
)

func secret(name string, data map[string]string, mutate ...func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: name, Namespace: Namespace}, Type: SecretType, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	st := generic.New(memory.New(), cache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	k, _ := scheme.ByResource("secrets")
	base := map[string]string{KeyTokenID: "abcdef", KeyTokenSecret: "0123456789abcdef", KeyUsageAuthenticaton: "true",
		KeyExpiration: now.Add(time.Hour).Format(time.RFC3339)}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, s := range []*corev1.Secret{
		secret("bootstrap-token-abcdef", with(KeyExtraGroups, "system:bootstrappers:kubeadm:default-node-token")),
		secret("bootstrap-token-expird", with(KeyTokenID, "expird", KeyExpiration, now.Add(-time.Second).Format(time.RFC3339))),
		secret("bootstrap-token-nouse0", with(KeyTokenID, "nouse0", KeyUsageAuthenticaton, "false")),
		secret("bootstrap-token-badgrp", with(KeyTokenID, "badgrp", KeyExtraGroups, "system:masters")),
		secret("bootstrap-token-wrongi", with(KeyTokenID, "abcdef")),
		secret("bootstrap-token-opaque", with(KeyTokenID, "opaque"), func(s *corev1.Secret) { s.Type = "Opaque" }),
		secret("bootstrap-token-noexp0", with(KeyTokenID, "noexp0", KeyExpiration, "")),
	} {
		if _, err := st.Create(ctx, k, Namespace, s, rest.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a := &Authenticator{Getter: st, Now: func() time.Time { return now }}
	for _, tc := range []struct {
		name, token string
		want        *auth.User
		refused     bool // 401 rather than "not mine"
	}{
		{"valid", "abcdef.0123456789abcdef", &auth.User{Name: "system:bootstrap:abcdef",
			Groups: []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"}}, false},
		{"no expiration", "noexp0.0123456789abcdef", &auth.User{Name: "system:bootstrap:noexp0", Groups: []string{"system:bootstrappers"}}, false},
		{"wrong secret", "abcdef.0123456789abcdee", nil, true},
		{"expired", "expird.0123456789abcdef", nil, true},
		{"not for authentication", "nouse0.0123456789abcdef", nil, true},
		{"extra group outside system:bootstrappers", "badgrp.0123456789abcdef", nil, true},
		{"token-id does not match", "wrongi.0123456789abcdef", nil, true},
		{"not a bootstrap secret", "opaque.0123456789abcdef", nil, true},
		{"no secret", "zzzzzz.0123456789abcdef", nil, false},
		{"not a bootstrap token", "admin-token", nil, false},
		{"upper case", "ABCDEF.0123456789abcdef", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, ok, err := a.AuthenticateToken(context.Background(), tc.token)
			if tc.refused {
				if ok || apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
					t.Fatalf("got %v %v %v, want 401", u, ok, err)
				}
				return
			}
			if err != nil || ok != (tc.want != nil) || !reflect.DeepEqual(u, tc.want) {
				t.Fatalf("got %+v %v %v, want %+v", u, ok, err, tc.want)
			}
		})
	}
}
