package app

import (
	"strings"
	"testing"
)

// TestValidateProxyMode: the three modes pass, anything else is refused
// naming the choices.
func TestValidateProxyMode(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantErr bool
	}{{ModeIPTables, false}, {ModeNFTables, false}, {ModeUserspace, false}, {"ipvs", true}, {"", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			o := NewOptions()
			o.ProxyMode, o.HostnameOverride = tc.mode, "node-a"
			err := o.Validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("--proxy-mode %q: %v", tc.mode, err)
			}
			if err != nil && !strings.Contains(err.Error(), "iptables, nftables or userspace") {
				t.Fatalf("error does not name the modes: %v", err)
			}
		})
	}
}
