package main

import (
	"io"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		app, health string
		err         string
	}{
		{name: "defaults", app: ":9090", health: ":9091"},
		{name: "bind and no health", args: []string{"--bind-address=127.0.0.1", "--health-port=0"}, app: "127.0.0.1:9090"},
		{name: "bad port", args: []string{"--port=0"}, err: "not a port"},
		{name: "same ports", args: []string{"--health-port=9090"}, err: "the app's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, f := newFlags(io.Discard)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			app, health, err := f.addrs()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || app != tc.app || health != tc.health {
				t.Errorf("addrs %q %q %v, want %q %q", app, health, err, tc.app, tc.health)
			}
		})
	}
}
