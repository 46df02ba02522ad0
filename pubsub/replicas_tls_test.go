// Copyright 2026 The ChatHub Authors. SPDX-License-Identifier: Apache-2.0

package pubsub

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/chathub/chathub/pubsub/cluster"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client certificate, written
// as PEM files.
type testPKI struct {
	caFile, clientCert, clientKey string
	server                        tls.Certificate
	pool                          *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := &testPKI{caFile: write("ca.pem", "CERTIFICATE", caDER), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.server = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	p.clientCert = write("client.pem", "CERTIFICATE", cliDER)
	p.clientKey = write("client-key.pem", "EC PRIVATE KEY", keyDER(cliKey))
	return p
}

// TestReplicaNATSTLS connects to a NATS server that requires TLS with client certificates:
// with the CA and a client certificate it works; without either it does not.
func TestReplicaNATSTLS(t *testing.T) {
	pki := newTestPKI(t)
	ns := startNATS(t, -1, func(o *natsserver.Options) {
		o.TLS, o.TLSVerify, o.TLSTimeout = true, true, 5
		o.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{pki.server}, ClientCAs: pki.pool,
			ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		}
	})
	newWith := func(cc cluster.Config) (*Server, error) {
		cc.URL, cc.RequestTimeout = "tls://"+ns.Addr().String(), 2*time.Second
		return New(Config{Endpoint: &url.URL{Scheme: "http", Host: "127.0.0.1:1"}, AccessKeys: []string{testKey}, Cluster: &cc})
	}
	for name, cc := range map[string]cluster.Config{
		"without the CA":                 {TLSCertFile: pki.clientCert, TLSKeyFile: pki.clientKey},
		"without a client certificate":   {TLSCAFile: pki.caFile},
		"with a certificate but no key":  {TLSCAFile: pki.caFile, TLSCertFile: pki.clientCert},
		"with a key file that is no key": {TLSCAFile: pki.caFile, TLSCertFile: pki.clientCert, TLSKeyFile: pki.caFile},
	} {
		if _, err := newWith(cc); err == nil {
			t.Errorf("%s: connected to a NATS server requiring mutual TLS", name)
		}
	}
	srv, err := newWith(cluster.Config{TLSCAFile: pki.caFile, TLSCertFile: pki.clientCert, TLSKeyFile: pki.clientKey})
	if err != nil {
		t.Fatalf("with the CA and a client certificate: %v", err)
	}
	if !srv.cluster.Ready() {
		t.Fatal("not ready over TLS")
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(c); err != nil {
		t.Fatal(err)
	}
}
