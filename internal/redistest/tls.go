package redistest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Certs is a throwaway certificate authority and the certificates it
// signed for one test: a server certificate for 127.0.0.1 and localhost,
// and a client certificate for mutual TLS. Every file is PEM, in Dir (a
// t.TempDir()), so that both redis-server and code configured by file
// names (environment variables) can read them. Generated in Go, so that
// the tests need no openssl binary.
type Certs struct {
	Dir string
	// CAFile is the authority's certificate: what clients trust.
	CAFile string
	// ServerCertFile and ServerKeyFile are redis-server's certificate and
	// key (--tls-cert-file, --tls-key-file).
	ServerCertFile, ServerKeyFile string
	// ClientCertFile and ClientKeyFile are a client's certificate and key,
	// for a server that asks for one (--tls-auth-clients).
	ClientCertFile, ClientKeyFile string
	// Pool holds the authority's certificate; Client is the client
	// certificate, ready for tls.Config.Certificates.
	Pool   *x509.CertPool
	Client tls.Certificate
}

// NewCerts generates a certificate authority, a server certificate and a
// client certificate (ECDSA P-256, valid for a day) into tb.TempDir(). Two
// calls give two unrelated authorities: one's clients do not trust the
// other's server.
func NewCerts(tb testing.TB) *Certs {
	tb.Helper()
	c := &Certs{Dir: tb.TempDir(), Pool: x509.NewCertPool()}
	now := time.Now()
	caKey := newKey(tb)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: "redistest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("redistest: create CA certificate: %v", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatalf("redistest: parse CA certificate: %v", err)
	}
	c.Pool.AddCert(ca)
	c.CAFile = c.write(tb, "ca.crt", "CERTIFICATE", caDER)

	// The server certificate also serves as redis-server's client
	// certificate (replication, sentinels), hence both usages.
	c.ServerCertFile, c.ServerKeyFile, _ = c.issue(tb, ca, caKey, "server", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "redistest server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	c.ClientCertFile, c.ClientKeyFile, c.Client = c.issue(tb, ca, caKey, "client", &x509.Certificate{
		Subject:     pkix.Name{CommonName: "redistest client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return c
}

// ClientConfig returns a TLS configuration that trusts the authority and
// presents the client certificate.
func (c *Certs) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.Pool, Certificates: []tls.Certificate{c.Client}, MinVersion: tls.VersionTLS12}
}

// issue signs tmpl with the authority and writes its certificate and key
// as name.crt and name.key.
func (c *Certs) issue(tb testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, tmpl *x509.Certificate) (certFile, keyFile string, pair tls.Certificate) {
	tb.Helper()
	key := newKey(tb)
	tmpl.SerialNumber = serial(tb)
	tmpl.NotBefore, tmpl.NotAfter = ca.NotBefore, ca.NotAfter
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatalf("redistest: create %s certificate: %v", name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatalf("redistest: marshal %s key: %v", name, err)
	}
	certFile = c.write(tb, name+".crt", "CERTIFICATE", der)
	keyFile = c.write(tb, name+".key", "PRIVATE KEY", keyDER)
	pair, err = tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		tb.Fatalf("redistest: load %s key pair: %v", name, err)
	}
	return certFile, keyFile, pair
}

func (c *Certs) write(tb testing.TB, name, kind string, der []byte) string {
	tb.Helper()
	path := filepath.Join(c.Dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		tb.Fatalf("redistest: write %s: %v", path, err)
	}
	return path
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("redistest: generate key: %v", err)
	}
	return key
}

func serial(tb testing.TB) *big.Int {
	tb.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		tb.Fatalf("redistest: serial number: %v", err)
	}
	return n
}

// AuthClients is redis-server's --tls-auth-clients: whether a client must
// present a certificate signed by the authority.
type AuthClients string

// The values of --tls-auth-clients.
const (
	ClientCertNo       AuthClients = "no"
	ClientCertOptional AuthClients = "optional"
	ClientCertRequired AuthClients = "yes"
)

// StartTLS starts a redis-server like Start, but speaking only TLS (its
// plain port is closed: --port 0) with certs' server certificate, asking
// clients for a certificate as auth says, and with the default user
// protected by a random password: no connection gets in unauthenticated,
// so a client that forgets its credentials fails instead of running as an
// all-powerful default user. The package's own connections (Client,
// KillPubSubClients, WaitSubscribers, SetUser) use TLS with the client
// certificate and that password. Addr is the TLS port.
func StartTLS(tb testing.TB, certs *Certs, auth AuthClients) *Server {
	tb.Helper()
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	password := hex.EncodeToString(pw[:])
	s := startWith(tb, func(s *Server) {
		s.tlsConfig, s.password = certs.ClientConfig(), password
	}, func(s *Server) []string {
		// Later arguments win: the plain port is closed.
		return append(defaultArgs(s),
			"--port", "0",
			"--tls-port", strconv.Itoa(s.port),
			"--tls-cert-file", certs.ServerCertFile,
			"--tls-key-file", certs.ServerKeyFile,
			"--tls-ca-cert-file", certs.CAFile,
			"--tls-auth-clients", string(auth),
			"--requirepass", password)
	})
	return s
}

// UserURL returns the server's URL (rediss:// for a TLS server) with user
// and password, for code configured by URL.
func (s *Server) UserURL(user, password string) string {
	u, _ := url.Parse(s.URL()) // always valid
	u.User = url.UserPassword(user, password)
	return u.String()
}
