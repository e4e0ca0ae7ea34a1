package app

import (
	"flag"
	"slices"
	"strings"
	"testing"

	"minik8s/apiserver/admission"
)

func TestAdmissionPluginFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{name: "defaults", want: []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "PodSecurity", "DefaultTolerationSeconds", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "ResourceQuota"}},
		{name: "enable adds in the recommended order",
			args: []string{"--enable-admission-plugins=AlwaysPullImages, NamespaceLifecycle"},
			want: []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "AlwaysPullImages", "PodSecurity", "DefaultTolerationSeconds", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "ResourceQuota"}},
		{name: "NodeRestriction after ServiceAccount",
			args: []string{"--enable-admission-plugins=NodeRestriction", "--disable-admission-plugins=PodSecurity"},
			want: []string{"NamespaceLifecycle", "LimitRanger", "ServiceAccount", "NodeRestriction", "DefaultTolerationSeconds", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "ResourceQuota"}},
		{name: "disable removes",
			args: []string{"--disable-admission-plugins=ServiceAccount,PodSecurity"},
			want: []string{"NamespaceLifecycle", "LimitRanger", "DefaultTolerationSeconds", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction", "ResourceQuota"}},
		{name: "both flags",
			args: []string{"--enable-admission-plugins=AlwaysPullImages", "--disable-admission-plugins=LimitRanger,DefaultTolerationSeconds,ResourceQuota"},
			want: []string{"NamespaceLifecycle", "ServiceAccount", "AlwaysPullImages", "PodSecurity", "CertificateApproval", "CertificateSigning", "CertificateSubjectRestriction"}},
		{name: "unknown enabled", args: []string{"--enable-admission-plugins=NamespaceLifecycle,Bogus"},
			wantErr: `--enable-admission-plugins: unknown plugin "Bogus" (known: ` + strings.Join(AdmissionPlugins, ", ") + ")"},
		{name: "unknown disabled", args: []string{"--disable-admission-plugins=Bogus"}, wantErr: `--disable-admission-plugins: unknown plugin "Bogus"`},
		{name: "enabled and disabled", args: []string{"--enable-admission-plugins=AlwaysPullImages", "--disable-admission-plugins=AlwaysPullImages"},
			wantErr: `admission plugin "AlwaysPullImages" is both enabled`},
		{name: "toleration seconds", args: []string{"--default-not-ready-toleration-seconds=-1"}, wantErr: "must be a number of seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Options
			fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
			fs.SetOutput(new(strings.Builder))
			o.AddFlags(fs)
			err := fs.Parse(tt.args)
			if err == nil {
				err = o.validateAdmission()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := o.AdmissionPluginNames()
			if !slices.Equal(got, tt.want) {
				t.Fatalf("plugins %v, want %v", got, tt.want)
			}
			chain := o.admissionChain(nil, nil)
			var names []string
			for _, p := range chain {
				names = append(names, p.Name())
			}
			if !slices.Equal(names, tt.want) {
				t.Fatalf("chain %v, want %v", names, tt.want)
			}
		})
	}
}

func TestAdmissionChainOptions(t *testing.T) {
	var o Options
	fs := flag.NewFlagSet("apiserver", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--default-unreachable-toleration-seconds=20", "--disable-admission-plugins=LimitRanger,PodSecurity"}); err != nil {
		t.Fatal(err)
	}
	chain := o.admissionChain(nil, nil)
	sa := chain[1].(admission.ServiceAccount)
	if !sa.NoTokens {
		t.Error("ServiceAccount mounts tokens without a signing key")
	}
	dts := chain[2].(admission.DefaultTolerationSeconds)
	if dts.NotReadySeconds != 300 || dts.UnreachableSeconds != 20 {
		t.Errorf("DefaultTolerationSeconds %+v", dts)
	}
	o.Authentication.ServiceAccountSigningKeyFile = "sa.key"
	if o.admissionChain(nil, nil)[1].(admission.ServiceAccount).NoTokens {
		t.Error("ServiceAccount mounts no tokens with a signing key")
	}
}
