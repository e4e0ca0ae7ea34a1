// Package tokenfile is the static token authenticator of kube-apiserver's
// --token-auth-file: a CSV file with one line per token,
//
//	token,user,uid,"group1,group2"
//
// where the group column is optional and may be quoted to hold several
// groups. Blank lines and lines starting with '#' are skipped. The file is
// read once at start; a changed file needs a restart, as in Kubernetes.
package tokenfile

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"minik8s/apiserver/auth"
)

// Authenticator answers for the tokens of one file.
type Authenticator struct {
	// by the SHA-256 of the token, so a lookup does not reveal through
	// timing how much of a guess matched.
	tokens map[[sha256.Size]byte]*entry
}

type entry struct {
	token string
	user  auth.User
}

var _ auth.TokenAuthenticator = (*Authenticator)(nil)

// ParseError names the line of the file and what is wrong with it.
type ParseError struct {
	File string // "" when parsed from a reader
	Line int    // 1-based
	Msg  string
}

func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// ReadFile parses the token file at path; errors are *ParseError (or the
// file's open error).
func ReadFile(path string) (*Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token auth file: %w", err)
	}
	defer f.Close()
	a, err := Parse(f)
	var pe *ParseError
	if errors.As(err, &pe) {
		pe.File = path
	}
	return a, err
}

// Parse reads a token file. Every line needs at least token, user and uid;
// a token may appear once only.
func Parse(r io.Reader) (*Authenticator, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	a := &Authenticator{tokens: map[[sha256.Size]byte]*entry{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
				err = pe.Err
			}
			return nil, &ParseError{Line: line, Msg: err.Error()}
		}
		line, _ := cr.FieldPos(0)
		e, err := parseRecord(rec)
		if err != nil {
			return nil, &ParseError{Line: line, Msg: err.Error()}
		}
		key := sha256.Sum256([]byte(e.token))
		if _, dup := a.tokens[key]; dup {
			return nil, &ParseError{Line: line, Msg: "duplicate token"}
		}
		a.tokens[key] = e
	}
	return a, nil
}

func parseRecord(rec []string) (*entry, error) {
	if len(rec) < 3 {
		return nil, fmt.Errorf("want token,user,uid[,\"group1,group2\"], got %d column(s)", len(rec))
	}
	if len(rec) > 4 {
		return nil, fmt.Errorf("want at most 4 columns (quote the groups column to list several groups), got %d", len(rec))
	}
	tok := strings.TrimSpace(rec[0])
	e := &entry{token: tok, user: auth.User{Name: strings.TrimSpace(rec[1]), UID: strings.TrimSpace(rec[2])}}
	switch {
	case tok == "":
		return nil, errors.New("empty token")
	case strings.ContainsAny(tok, " \t\r\n"):
		return nil, errors.New("token contains white space")
	case e.user.Name == "":
		return nil, errors.New("empty user name")
	case e.user.UID == "":
		return nil, errors.New("empty uid")
	}
	if len(rec) == 4 {
		for _, g := range strings.Split(rec[3], ",") {
			if g = strings.TrimSpace(g); g != "" {
				e.user.Groups = append(e.user.Groups, g)
			}
		}
	}
	return e, nil
}

// Len is the number of tokens.
func (a *Authenticator) Len() int { return len(a.tokens) }

// AuthenticateToken returns the user of a known token; an unknown token is
// not this authenticator's (false), so the next one may know it.
func (a *Authenticator) AuthenticateToken(_ context.Context, token string) (*auth.User, bool, error) {
	e, ok := a.tokens[sha256.Sum256([]byte(token))]
	if !ok || subtle.ConstantTimeCompare([]byte(e.token), []byte(token)) != 1 {
		return nil, false, nil
	}
	u := e.user
	u.Groups = append([]string(nil), e.user.Groups...)
	return &u, true, nil
}
