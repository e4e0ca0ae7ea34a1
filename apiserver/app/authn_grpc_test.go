package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	authenticationv1 "minik8s/api/authentication/v1"
	"minik8s/api/client"
	corev1 "minik8s/api/core/v1"
	apierrors "minik8s/api/errors"
	metav1 "minik8s/api/meta/v1"
	"minik8s/apiserver/app"
	"minik8s/apiserver/auth/serviceaccount"
	"minik8s/test/apiservertest"
	"minik8s/test/etcdtest"
)

// TestTokenRequestOverGRPC issues a token through the gRPC front of a real
// apiserver on etcd (client.CreateToken, as the kubelet does), with an
// RSA signing key, and checks it with the key file alone.
func TestTokenRequestOverGRPC(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyFile := filepath.Join(t.TempDir(), "sa.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := apiservertest.Start(t, etcdtest.Start(t, 1), apiservertest.Options{
		Authentication: app.AuthenticationOptions{ServiceAccountSigningKeyFile: keyFile}})
	c := s.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sa, err := client.For[*corev1.ServiceAccount](c).Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	secs := int64(900)
	tr, err := c.CreateToken(ctx, "default", "builder", &authenticationv1.TokenRequest{Spec: &authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := serviceaccount.ReadPublicKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	a := &serviceaccount.Authenticator{Issuers: []string{serviceaccount.DefaultIssuer}, Audiences: []string{serviceaccount.DefaultIssuer}, Keys: keys}
	u, err := a.Verify(ctx, tr.GetStatus().GetToken())
	if err != nil || u.Name != "system:serviceaccount:default:builder" || u.UID != sa.Metadata.Uid {
		t.Fatalf("verify: %+v %v", u, err)
	}
	// TokenReview through the typed client, as a kubelet checks a caller.
	rev, err := client.For[*authenticationv1.TokenReview](c).Create(ctx, &authenticationv1.TokenReview{
		Spec: &authenticationv1.TokenReviewSpec{Token: tr.GetStatus().GetToken()}})
	if err != nil || !rev.GetStatus().GetAuthenticated() || rev.GetStatus().GetUser().GetUsername() != "system:serviceaccount:default:builder" {
		t.Fatalf("tokenreview: %v %v", rev, err)
	}
	rev, err = client.For[*authenticationv1.TokenReview](c).Create(ctx, &authenticationv1.TokenReview{
		Spec: &authenticationv1.TokenReviewSpec{Token: tr.GetStatus().GetToken() + "x"}})
	if err != nil || rev.GetStatus().GetAuthenticated() || rev.GetStatus().GetError() != "invalid bearer token" {
		t.Fatalf("tokenreview of a bad token: %v %v", rev, err)
	}
	if _, err := c.CreateToken(ctx, "default", "ghost", &authenticationv1.TokenRequest{}); !apierrors.IsNotFound(err) {
		t.Fatalf("no such service account: %v", err)
	}
}
