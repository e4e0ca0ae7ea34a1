package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestRunRefusesBadFlags checks the errors a mistaken deployment gets
// before anything is bound.
func TestRunRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no apiserver given: set --server HOST:PORT or --kubeconfig, or run in a pod"},
		{[]string{"--kubeconfig=/nonexistent/dns.conf"}, "kubeconfig /nonexistent/dns.conf: no such file"},
		{[]string{"--server=127.0.0.1:1", "--upstream=a:b:c"}, "bad --upstream"},
		{[]string{"--server=127.0.0.1:1", "--listen=nonsense"}, "bad dns listen address"},
		{[]string{"--no-such-flag"}, "not defined"},
	} {
		err := run(context.Background(), tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: error %v, want it to contain %q", tc.args, err, tc.want)
		}
	}
}
