package tokenfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"minik8s/apiserver/auth"
)

func TestParse(t *testing.T) {
	file := `# admin and a node
secret1,admin,uid-1,"system:masters,devs"
secret2, kubelet ,uid-2,system:nodes

secret3,viewer,uid-3
secret4,empty-groups,uid-4,""
`
	a, err := Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 4 {
		t.Fatalf("Len = %d, want 4", a.Len())
	}
	for _, tc := range []struct {
		token string
		want  *auth.User
	}{
		{"secret1", &auth.User{Name: "admin", UID: "uid-1", Groups: []string{"system:masters", "devs"}}},
		{"secret2", &auth.User{Name: "kubelet", UID: "uid-2", Groups: []string{"system:nodes"}}},
		{"secret3", &auth.User{Name: "viewer", UID: "uid-3"}},
		{"secret4", &auth.User{Name: "empty-groups", UID: "uid-4"}},
		{"secret", nil},
		{"", nil},
	} {
		t.Run(tc.token, func(t *testing.T) {
			u, ok, err := a.AuthenticateToken(context.Background(), tc.token)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tc.want != nil) {
				t.Fatalf("ok = %v", ok)
			}
			if tc.want != nil && !reflect.DeepEqual(u, tc.want) {
				t.Fatalf("user = %+v, want %+v", u, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		line       int
		msg        string
	}{
		{"too few columns", "a,b,c\nt,u\n", 2, "got 2 column(s)"},
		{"too many columns", "t,u,id,g1,g2\n", 1, "at most 4 columns"},
		{"empty token", ",u,id\n", 1, "empty token"},
		{"empty user", "t,,id\n", 1, "empty user name"},
		{"empty uid", "t,u, \n", 1, "empty uid"},
		{"space in token", "\"t t\",u,id\n", 1, "white space"},
		{"duplicate", "t,u,1\n# c\nt,v,2\n", 3, "duplicate token"},
		{"bad quote", "t,u,id,\"g1\n", 1, "quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.file))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Fatalf("err = %v, want line %d and %q", err, tc.line, tc.msg)
			}
		})
	}
}

func TestReadFileNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(p, []byte("t,u,1\nbad\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":2: ") {
		t.Fatalf("err = %v, want it to start with %s:2:", err, p)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
}

// The fuzz target's seeds run as part of every `go test`; `go test
// -fuzz=FuzzParse ./apiserver/auth/tokenfile` explores further.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"t,u,1\n",
		"secret1,admin,uid-1,\"system:masters,devs\"\n",
		"# comment\n\nt,u,1,g\n",
		"t,u\n",
		"t,u,1,\"g\n",
		"\"a\"\"b\",u,1\n",
		"t,u,1\nt,u,2\n",
		"\xff,\x00,1\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		a, err := Parse(strings.NewReader(data))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if pe.Line < 0 {
				t.Fatalf("negative line in %v", err)
			}
			return
		}
		// Every parsed token authenticates as a user with a name and uid.
		for _, e := range a.tokens {
			u, ok, err := a.AuthenticateToken(context.Background(), e.token)
			if err != nil || !ok || u.Name == "" || u.UID == "" {
				t.Fatalf("token %q: %v %v %v", e.token, u, ok, err)
			}
		}
	})
}
