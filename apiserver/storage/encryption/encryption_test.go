package encryption

import (
	"bytes"
	"strings"
	"testing"
)

const (
	key1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	key2 = "MTIzNDU2Nzg5MDEyMzQ1Ng=="                     // 16 bytes
)

func config(t *testing.T, providers string) Config {
	t.Helper()
	c, err := Parse([]byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n" + providers))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRoundTripAndPrefixes(t *testing.T) {
	plain := []byte(`{"kind":"Secret","data":{"password":"aHVudGVyMg=="}}`)
	for _, tt := range []struct {
		name, providers, prefix string
	}{
		{"aesgcm", "  - aesgcm: {keys: [{name: key1, secret: " + key1 + "}]}\n", "k8s:enc:aesgcm:v1:key1:"},
		{"aescbc", "  - aescbc: {keys: [{name: k2, secret: " + key2 + "}]}\n", "k8s:enc:aescbc:v1:k2:"},
		{"identity", "  - identity: {}\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := config(t, tt.providers).For("", "secrets")
			sealed, err := tr.ToStorage(plain, "/registry/secrets/default/s")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sealed, []byte(tt.prefix)) || (tt.prefix != "" && bytes.Contains(sealed, []byte("aHVudGVyMg"))) {
				t.Fatalf("stored %q", sealed)
			}
			got, stale, err := tr.FromStorage(sealed, "/registry/secrets/default/s")
			if err != nil || stale || !bytes.Equal(got, plain) {
				t.Fatalf("FromStorage = %q, %v, %v", got, stale, err)
			}
		})
	}
}

func TestRotationAndStaleness(t *testing.T) {
	old := config(t, "  - aesgcm: {keys: [{name: key1, secret: "+key1+"}]}\n  - identity: {}\n").For("", "secrets")
	// The new key first, the old one still able to read.
	rotated := config(t, "  - aesgcm: {keys: [{name: key2, secret: "+key2+"}, {name: key1, secret: "+key1+"}]}\n").For("", "secrets")
	key := "/registry/secrets/ns/s"
	sealed, _ := old.ToStorage([]byte("v"), key)
	got, stale, err := rotated.FromStorage(sealed, key)
	if err != nil || !stale || string(got) != "v" {
		t.Fatalf("old value under the rotated config: %q %v %v", got, stale, err)
	}
	resealed, _ := rotated.ToStorage([]byte("v"), key)
	if !bytes.HasPrefix(resealed, []byte("k8s:enc:aesgcm:v1:key2:")) {
		t.Fatalf("rewrite uses %q", resealed[:24])
	}
	// Plain values of before encryption stay readable through identity,
	// and are stale.
	if got, stale, err := old.FromStorage([]byte(`{"a":1}`), key); err != nil || !stale || string(got) != `{"a":1}` {
		t.Fatalf("plain value: %q %v %v", got, stale, err)
	}
	// Without identity a plain value is an error, not silently accepted.
	if _, _, err := rotated.FromStorage([]byte(`{"a":1}`), key); err == nil || !strings.Contains(err.Error(), "identity is not a provider") {
		t.Fatalf("plain value without identity: %v", err)
	}
}

func TestTamperingAndMovedValues(t *testing.T) {
	tr := config(t, "  - aesgcm: {keys: [{name: key1, secret: "+key1+"}]}\n").For("", "secrets")
	sealed, _ := tr.ToStorage([]byte("secret"), "/registry/secrets/a/s")
	// GCM authenticates the key: a value copied to another object's key
	// does not decrypt.
	if _, _, err := tr.FromStorage(sealed, "/registry/secrets/b/s"); err == nil {
		t.Fatal("a value moved to another key decrypted")
	}
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, _, err := tr.FromStorage(bad, "/registry/secrets/a/s"); err == nil {
		t.Fatal("a tampered value decrypted")
	}
	// A value of a key no longer configured names the problem.
	other := config(t, "  - aesgcm: {keys: [{name: key9, secret: "+key2+"}]}\n").For("", "secrets")
	if _, _, err := other.FromStorage(sealed, "/registry/secrets/a/s"); err == nil || !strings.Contains(err.Error(), "no configured provider") {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestWildcards(t *testing.T) {
	c, err := Parse([]byte(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [configmaps]
  providers: [{identity: {}}]
- resources: ["*."]
  providers: [{aescbc: {keys: [{name: core, secret: ` + key2 + `}]}}]
- resources: ["*.*"]
  providers: [{aesgcm: {keys: [{name: all, secret: ` + key1 + `}]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ group, resource, prefix string }{
		{"", "configmaps", ""},
		{"", "secrets", "k8s:enc:aescbc:v1:core:"},
		{"apps", "deployments", "k8s:enc:aesgcm:v1:all:"},
	} {
		out, err := c.For(tt.group, tt.resource).ToStorage([]byte("x"), "/k")
		if err != nil || !bytes.HasPrefix(out, []byte(tt.prefix)) || (tt.prefix == "" && string(out) != "x") {
			t.Errorf("%s.%s: %q %v", tt.resource, tt.group, out, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"
	for _, tt := range []struct{ doc, want string }{
		{"kind: Other\n", "want kind EncryptionConfiguration"},
		{head + "- resources: [secrets]\n  providers: []\n", "resources[0].providers: must list at least one provider"},
		{head + "- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: k, secret: c2hvcnQ=}]}}]\n", "resources[0].providers[0].aesgcm.keys[0].secret: key is 5 bytes"},
		{head + "- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: k, secret: '!!'}]}}]\n", "not base64"},
		{head + "- resources: [secrets]\n  providers: [{secretbox: {keys: [{name: k, secret: " + key1 + "}]}}]\n", "secretbox: not supported"},
		{head + "- resources: [secrets]\n  providers: [{identity: {}, aesgcm: {keys: []}}]\n", "exactly one of"},
		{head + "- resources: [secrets]\n  providers: [{identity: {}}]\n- resources: [secrets]\n  providers: [{identity: {}}]\n", `"secrets" is configured twice`},
		{head + "- resources: [secrets]\n  providers: [{aesgcm: {keys: [{name: a, secret: " + key1 + "}, {name: a, secret: " + key1 + "}]}}]\n", `"a" is used twice`},
		{head + "- resources: [secrets]\n  providers: [{identity: {}}]\n  bogus: 1\n", "unknown field"},
	} {
		_, err := Parse([]byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.doc, err, tt.want)
		}
	}
}
