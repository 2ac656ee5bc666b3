package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// readyTimeout bounds every wait in this file (startup, restart,
	// subscriber counts). It is generous because CI machines stall, but a
	// healthy local run never comes close to it.
	readyTimeout = 10 * time.Second

	// pollInterval is short so tests pay only a few milliseconds beyond the
	// real readiness time instead of a fixed sleep.
	pollInterval = 5 * time.Millisecond

	// probeTimeout caps a single readiness probe so a wedged socket cannot
	// eat the whole readyTimeout.
	probeTimeout = 250 * time.Millisecond

	// startAttempts is how many random ports Start tries: a port picked via
	// 127.0.0.1:0 can be grabbed by another process before redis binds it.
	startAttempts = 5

	// restartRetryInterval paces Restart's re-bind attempts on the fixed port.
	restartRetryInterval = 20 * time.Millisecond
)

// Server is a redis-server child process owned by one test. It exists so
// tests can exercise a real server, including killing and restarting it on
// the same address, which in-memory fakes cannot model.
//
// Addr, URL, Client, KillPubSubClients and WaitSubscribers are safe for
// concurrent use. Kill may be called at any time; Restart must not run
// concurrently with another Restart.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int

	// args returns the command line of one incarnation; nil means a plain
	// server (see defaultArgs).
	args func(s *Server) []string

	// tlsConfig, for a server that speaks only TLS (StartTLS), is how this
	// package's own connections (readiness probe, Client, admin commands)
	// reach it; password is its default user's, the test's administrator.
	tlsConfig *tls.Config
	password  string

	mu   sync.Mutex
	proc *process // nil while the server is not running
}

// process is one incarnation of redis-server; Restart creates a new one.
type process struct {
	cmd     *exec.Cmd
	out     *tailBuffer
	done    chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result; read only after done is closed
}

// Start launches redis-server on a free loopback port with persistence
// disabled and its working directory in tb.TempDir(), waits until it answers,
// and registers a cleanup that kills it. It fails the test if redis-server is
// missing or never becomes ready, including the server's output in the
// message so the cause (for example a bind error) is visible.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return start(tb, nil)
}

// start is Start with a command line of its own (nil: a plain server).
func start(tb testing.TB, args func(s *Server) []string) *Server {
	tb.Helper()
	return startWith(tb, nil, args)
}

// startWith is start with setup, if not nil, run on the Server before its
// first launch (StartTLS sets how to reach it there).
func startWith(tb testing.TB, setup func(s *Server), args func(s *Server) []string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redistest: redis-server not found on PATH (%v); run `make test`, which installs it, or `apt-get install redis-server`", err)
	}
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), args: args}
	if setup != nil {
		setup(s)
	}
	// Registered after TempDir, so it runs first: the server is gone before
	// its directory is removed.
	tb.Cleanup(s.Kill)

	var errs []error
	for range startAttempts {
		port, err := freePort()
		if err != nil {
			tb.Fatalf("redistest: pick a free port: %v", err)
		}
		s.port = port
		p, err := s.launch(time.Now().Add(readyTimeout))
		if err == nil {
			s.setProc(p)
			return s
		}
		errs = append(errs, fmt.Errorf("port %d: %w", port, err))
	}
	tb.Fatalf("redistest: redis-server did not start after %d attempts:\n%v", startAttempts, errors.Join(errs...))
	return nil
}

// Addr returns the server's "127.0.0.1:port" address. It stays the same
// across Kill and Restart so clients created earlier reconnect to the new
// process.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// URL returns a redis:// URL for database 0 (rediss:// for a StartTLS
// server), for code that is configured by URL rather than by address.
func (s *Server) URL() string {
	if s.tlsConfig != nil {
		return "rediss://" + s.Addr() + "/0"
	}
	return "redis://" + s.Addr() + "/0"
}

// Client returns a new go-redis client for the server with default options,
// closed when tb finishes, so tests do not leak pool goroutines.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(s.options())
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill stops the server abruptly with SIGKILL, as a crash would, and waits
// for the process to be reaped (nothing else reaps children in containers
// whose PID 1 is not an init). Clients see their connections reset. Killing
// a server that is not running is a no-op.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Restart kills the server if it is running and starts a fresh, empty one on
// the same port, waiting until it is ready. Binding is retried for a while
// because the old socket may still linger. It fails the test, via the tb
// passed to Start, if the server cannot come back; like t.Fatal, it must
// therefore be called from the test goroutine.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	deadline := time.Now().Add(readyTimeout)
	for {
		p, err := s.launch(deadline)
		if err == nil {
			s.setProc(p)
			return
		}
		if !time.Now().Add(restartRetryInterval).Before(deadline) {
			s.tb.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
		}
		time.Sleep(restartRetryInterval)
	}
}

// KillPubSubClients runs CLIENT KILL TYPE pubsub over a fresh connection,
// simulating the server dropping subscribers (for example on output buffer
// overflow) so tests can check that subscriptions are re-established. It
// returns the number of clients killed and fails the test on error.
func (s *Server) KillPubSubClients() int64 {
	s.tb.Helper()
	c := redis.NewClient(s.options())
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	n, err := c.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
	if err != nil {
		s.tb.Fatalf("redistest: CLIENT KILL TYPE pubsub on %s: %v", s.Addr(), err)
	}
	return n
}

// WaitSubscribers blocks until PUBSUB NUMSUB reports at least n subscribers
// on channel, failing tb after a deadline. Tests need it because SUBSCRIBE
// is asynchronous: a message published before the subscription is
// registered is silently lost.
func (s *Server) WaitSubscribers(tb testing.TB, channel string, n int) {
	tb.Helper()
	c := redis.NewClient(s.options())
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var (
		got int64
		err error
	)
	for {
		var counts map[string]int64
		counts, err = c.PubSubNumSub(ctx, channel).Result()
		if err == nil {
			got = counts[channel]
			if got >= int64(n) {
				return
			}
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("redistest: channel %q has %d subscribers after %v, want >= %d (last error: %v)", channel, got, readyTimeout, n, err)
		case <-ticker.C:
		}
	}
}

// options are the client options of this package's own connections: the
// administrator's, over TLS for a TLS server.
func (s *Server) options() *redis.Options {
	return &redis.Options{Addr: s.Addr(), TLSConfig: s.tlsConfig, Password: s.password}
}

func (s *Server) setProc(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = p
}

// launch starts redis-server on s.port and waits until it is ready or
// deadline passes. On failure the process has been killed and reaped, and
// the error carries the tail of its output.
func (s *Server) launch(deadline time.Time) (*process, error) {
	out := &tailBuffer{}
	args := defaultArgs(s)
	if s.args != nil {
		args = s.args(s)
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	// Guard Wait against a stray grandchild keeping the output pipe open.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if err := p.waitReady(s, deadline); err != nil {
		p.kill()
		return nil, fmt.Errorf("%w\n--- redis-server output (tail) ---\n%s", err, out.String())
	}
	return p, nil
}

// defaultArgs is the command line of a plain server: loopback only, no
// persistence.
func defaultArgs(s *Server) []string {
	return []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
	}
}

// waitReady polls the server until it answers as this very process. Checking
// process_id, not just PING, ensures a different server that grabbed the
// port is never mistaken for ours.
func (p *process) waitReady(s *Server, deadline time.Time) error {
	addr := s.Addr()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := s.probe(p.cmd.Process.Pid)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("redis-server exited before becoming ready: %v", p.waitErr)
		case <-timer.C:
			return fmt.Errorf("redis-server on %s not ready before deadline; last probe error: %v", addr, err)
		case <-ticker.C:
		}
	}
}

// kill sends SIGKILL and waits until the process has been reaped.
func (p *process) kill() {
	_ = p.cmd.Process.Kill() // ErrProcessDone if it already exited
	<-p.done
}

// freePort asks the kernel for an unused loopback port. The port is free
// only at that instant, hence the retries in Start.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// probe sends INFO server over a raw connection (TLS and authenticated
// for a TLS server) and checks that the reply comes from the process with
// the given pid. A raw RESP exchange keeps the readiness loop free of
// client pools and their goroutines.
func (s *Server) probe(pid int) error {
	addr := s.Addr()
	dialer := &net.Dialer{Timeout: probeTimeout}
	var conn net.Conn
	var err error
	if s.tlsConfig != nil {
		conn, err = tls.DialWithDialer(dialer, "tcp", addr, s.tlsConfig)
	} else {
		conn, err = dialer.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	if s.password != "" {
		if _, err := fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(s.password), s.password); err != nil {
			return err
		}
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			return fmt.Errorf("AUTH: %q, %v", line, err)
		}
	}
	if _, err := io.WriteString(conn, "*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n"); err != nil {
		return err
	}
	header, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	header = strings.TrimRight(header, "\r\n")
	if !strings.HasPrefix(header, "$") {
		return fmt.Errorf("unexpected reply to INFO: %q", header)
	}
	size, err := strconv.Atoi(header[1:])
	if err != nil || size < 0 {
		return fmt.Errorf("unexpected reply to INFO: %q", header)
	}
	body := make([]byte, size)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	want := "process_id:" + strconv.Itoa(pid) + "\r\n"
	if !strings.Contains(string(body), want) {
		return fmt.Errorf("server on %s is not redis-server pid %d", addr, pid)
	}
	return nil
}
