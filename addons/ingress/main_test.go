package main

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		publish []string
		http    string
		err     string
	}{
		{name: "defaults", http: ":80"},
		{name: "publish list", args: []string{"--publish-addresses", "10.0.0.1, ingress.example.com,"}, publish: []string{"10.0.0.1", "ingress.example.com"}, http: ":80"},
		{name: "http off", args: []string{"--http-port=0"}},
		{name: "bad port", args: []string{"--https-port=70000"}, err: "not a port"},
		{name: "unexpanded variable", args: []string{"--publish-addresses=$(HOST_IP)"}, err: "unexpanded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, f := newFlags(io.Discard)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			o, err := f.options()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.PublishAddresses, tc.publish) || o.HTTPAddr != tc.http || o.HTTPSAddr != ":443" || o.HealthAddr != ":10254" {
				t.Errorf("options %+v", o)
			}
		})
	}
}
