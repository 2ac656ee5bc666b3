package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Refusal is Redis refusing the bridge a command for a reason that
// retrying will not fix: a right missing from its ACL user (NOPERM),
// wrong or missing credentials (WRONGPASS, NOAUTH), or a TLS handshake
// that failed on a certificate. Unlike a network failure, it lasts until
// someone changes the configuration, so the bridge logs it at Error, once,
// naming the command refused, and keeps it (Bridge.Refusal) until that
// command succeeds again; it still retries meanwhile, so that a fixed ACL
// needs no restart.
type Refusal struct {
	// Command is what was refused, with its channels, e.g. "PUBLISH
	// slotcache:invalidate" or "SUBSCRIBE slotcache:invalidate ...". Redis
	// names the command in NOPERM errors, but not the channel or key.
	Command string
	// Err is Redis's or the TLS handshake's error.
	Err error
	// At is when it was last refused.
	At time.Time
}

func (r *Refusal) Error() string { return r.Command + ": " + r.Err.Error() }

// Unwrap returns the refusal's error.
func (r *Refusal) Unwrap() error { return r.Err }

// Refused reports whether err is a refusal (see Refusal) rather than a
// network failure or a timeout.
func Refused(err error) bool {
	if err == nil {
		return false
	}
	if noPermission(err) || redis.IsAuthError(err) {
		return true
	}
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		header    tls.RecordHeaderError
		op        *net.OpError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return true // the server's certificate is not trusted
	case errors.As(err, &header):
		return true // the server answered, but not in TLS: not a redis-server's plain port, which stays silent (see the README)
	case errors.As(err, &op) && op.Op == "remote error":
		return true // a TLS alert: the server refused the handshake or the client certificate
	}
	return false
}

// noPermission reports whether err is Redis refusing one command (NOPERM),
// as opposed to the connection itself (credentials, TLS).
func noPermission(err error) bool {
	return redis.IsPermissionError(err) ||
		strings.Contains(err.Error(), "The user executing the script can't") // NOPERM inside a script, as Redis 7 words it
}

// refusals are the bridge's standing refusals, keyed by what clears one:
// the same command on the same channel succeeding.
type refusals struct {
	mu  sync.Mutex
	now map[string]*Refusal
}

// Refusal returns the bridge's latest standing refusal, or nil when Redis
// refuses nothing (that it tried lately).
func (b *Bridge) Refusal() *Refusal {
	rs := &b.refusals
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var last *Refusal
	for _, r := range rs.now {
		if last == nil || r.At.After(last.At) {
			last = r
		}
	}
	if last == nil {
		return nil
	}
	cp := *last
	return &cp
}

// gaveUp returns err, a PUBLISH on channel abandoned at its deadline,
// with the standing refusal that explains it: that PUBLISH's own, or one
// of the connection (credentials, TLS) that every command meets. go-redis
// retries a refused dial (five times, 100 ms apart) for longer than the
// publish timeout, so this publish's own refusal arrives after its caller
// has gone; the subscription's, met on the same dial, is known already.
func (b *Bridge) gaveUp(channel string, err error) error {
	rs := &b.refusals
	rs.mu.Lock()
	r := rs.now["PUBLISH "+channel]
	for _, o := range rs.now {
		if r == nil && !noPermission(o.Err) {
			r = o
		}
	}
	rs.mu.Unlock()
	if r == nil {
		return err
	}
	cp := *r
	return fmt.Errorf("%w; refused: %w", err, &cp)
}

// checkRefusal records err as a refusal of command, keyed by key (see
// Refusal), and reports whether it is one; a nil err clears key's refusal.
// A new refusal, or one with a new error, is logged at Error; repeats of
// the same at Debug, since the bridge retries them.
func (b *Bridge) checkRefusal(key, command string, err error) bool {
	rs := &b.refusals
	if err == nil {
		rs.mu.Lock()
		delete(rs.now, key)
		rs.mu.Unlock()
		return false
	}
	if !Refused(err) {
		return false
	}
	rs.mu.Lock()
	old := rs.now[key]
	if rs.now == nil {
		rs.now = make(map[string]*Refusal)
	}
	if old == nil && len(rs.now) >= maxRefusals {
		for k := range rs.now { // answers to instances long gone, most likely
			delete(rs.now, k)
			break
		}
	}
	rs.now[key] = &Refusal{Command: command, Err: err, At: time.Now()}
	rs.mu.Unlock()
	if old == nil || old.Err.Error() != err.Error() {
		b.cfg.Logger.Error("slotcache: Redis refused a command; fix the ACL user, credentials or TLS certificates (retrying meanwhile)",
			"channel", b.cfg.Channel, "command", command, "err", err)
	} else {
		b.cfg.Logger.Debug("slotcache: Redis refused a command again", "channel", b.cfg.Channel, "command", command, "err", err)
	}
	return true
}

// ReportRefusal records err, from a command the bridge does not run
// itself (the fill tier's, on the same Redis user), as a refusal of
// command (see Refusal), and reports whether it is one; a nil err clears
// command's refusal.
func (b *Bridge) ReportRefusal(command string, err error) bool {
	return b.checkRefusal(command, command, err)
}

// maxRefusals bounds the standing refusals kept: one per command and
// channel, and the answers to confirmations go to one channel per asking
// instance, which may be gone before a refused answer is ever retried.
const maxRefusals = 64

// subscribeKey keys the refusals of SUBSCRIBE, which a confirmation clears.
const subscribeKey = "SUBSCRIBE"

// subscribeRefused records err as a refusal of SUBSCRIBE on the bridge's
// channels, and reports whether it is one.
func (b *Bridge) subscribeRefused(err error) bool {
	return b.checkRefusal(subscribeKey, "SUBSCRIBE "+strings.Join(b.channels(), " "), err)
}

// publishChecked records the outcome of a PUBLISH on channel: a refusal,
// or a success that clears one.
func (b *Bridge) publishChecked(channel string, err error) {
	b.checkRefusal("PUBLISH "+channel, "PUBLISH "+channel, err)
}
