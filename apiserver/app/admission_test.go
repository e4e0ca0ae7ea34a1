package app

import (
	"strings"
	"testing"
)

func TestEnableAdmissionPlugins(t *testing.T) {
	tests := []struct {
		flag, signingKey string
		wantPlugins      int
		wantErr          string
	}{
		{flag: "NamespaceLifecycle", wantPlugins: 1},
		{flag: "ServiceAccount, NamespaceLifecycle", signingKey: "sa.key", wantPlugins: 2},
		{flag: "NamespaceLifecycle,NodeRestriction", wantPlugins: 2},
		{flag: "NamespaceLifecycle,AlwaysPullImages", wantErr: `unknown plugin "AlwaysPullImages"`},
		{flag: "ServiceAccount", wantErr: "ServiceAccount needs --service-account-signing-key-file"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			o := Options{EnableAdmissionPlugins: tt.flag}
			o.Authentication.ServiceAccountSigningKeyFile = tt.signingKey
			err := o.validateAdmission()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := len(o.admissionChain(nil)); n != tt.wantPlugins {
				t.Fatalf("%d plugins, want %d", n, tt.wantPlugins)
			}
		})
	}
}
