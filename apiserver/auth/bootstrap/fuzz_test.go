package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "minik8s/api/errors"
	"minik8s/api/scheme"
	"minik8s/apiserver/auth"
)

// oneSecret is a Getter holding one bootstrap token Secret.
type oneSecret struct{ s scheme.Object }

func (g oneSecret) Get(_ context.Context, k *scheme.Kind, ns, name string) (scheme.Object, error) {
	if ns == Namespace && name == g.s.GetMetadata().GetName() {
		return g.s, nil
	}
	return nil, apierrors.NewNotFound(k.GroupResource(), name)
}

// FuzzAuthenticateToken feeds arbitrary bearer tokens, and arbitrary
// expiration and auth-extra-groups values in the Secret, to the bootstrap
// token parser: it never panics, only the exact ID.SECRET of an unexpired
// Secret passes, a refusal is 401 or "not mine", and every group it grants
// is a system:bootstrappers group.
func FuzzAuthenticateToken(f *testing.F) {
	const id, sec = "abcdef", "0123456789abcdef"
	for _, s := range [][3]string{
		{id + "." + sec, "", ""},
		{id + "." + sec, "2030-01-01T00:00:00Z", "system:bootstrappers:kubeadm:default-node-token"},
		{id + "." + sec, "not a time", ""},
		{id + "." + sec, "", "system:masters"},
		{id + "." + sec, "", "system:bootstrappers:a, system:bootstrappers:b,,"},
		{"ABCDEF." + sec, "", ""},
		{id + "." + sec + "\n", "", ""},
		{id + ".", "", ""},
		{"." + sec, "", ""},
		{id + "." + strings.ToUpper(sec), "", ""},
		{"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, token, expiration, groups string) {
		s := secret(SecretPrefix+id, map[string]string{KeyTokenID: id, KeyTokenSecret: sec, KeyUsageAuthenticaton: "true",
			KeyExpiration: expiration, KeyExtraGroups: groups})
		a := &Authenticator{Getter: oneSecret{s}, Now: func() time.Time { return now }}
		u, ok, err := a.AuthenticateToken(context.Background(), token)
		if !ok {
			if u != nil || err != nil && apierrors.ReasonOf(err) != apierrors.ReasonUnauthorized {
				t.Fatalf("token %q refused with user %v, error %v", token, u, err)
			}
			return
		}
		if err != nil || token != id+"."+sec {
			t.Fatalf("token %q accepted (err %v)", token, err)
		}
		if exp, perr := time.Parse(time.RFC3339, expiration); expiration != "" && (perr != nil || !now.Before(exp)) {
			t.Fatalf("accepted with expiration %q", expiration)
		}
		if u.Name != auth.BootstrapUserPrefix+id || len(u.Groups) == 0 || u.Groups[0] != auth.GroupBootstrappers {
			t.Fatalf("user %+v", u)
		}
		for _, g := range u.Groups {
			if !strings.HasPrefix(g, auth.GroupBootstrappers) {
				t.Fatalf("granted group %q from %q", g, groups)
			}
		}
	})
}
