package redistest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// proxyDialTimeout bounds the dial to the proxy's target so a dead target
// makes the proxied connection fail instead of hang.
const proxyDialTimeout = 2 * time.Second

// Proxy is an in-process TCP forwarder placed between a client and a server
// so tests can simulate network faults the server itself cannot produce:
// half-open partitions (Freeze) and abrupt disconnects (CutAll). All methods
// are safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // canceled by Close to abort in-flight dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loop and connection handlers

	mu          sync.Mutex
	closed      bool
	partitioned bool // Partition: new connections are frozen too
	down        bool // Down: new connections are closed at once
	accepted    int  // connections accepted so far
	conns       map[*proxyConn]struct{}
}

// NewProxy starts a proxy on a random loopback port that forwards every
// accepted connection to target, and registers Close as a cleanup.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("redistest: proxy listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*proxyConn]struct{}),
	}
	p.wg.Add(1)
	go p.acceptLoop()
	tb.Cleanup(p.Close)
	return p
}

// Addr returns the "127.0.0.1:port" address clients should dial instead of
// the target.
func (p *Proxy) Addr() string {
	return p.ln.Addr().String()
}

// Freeze stops forwarding bytes in both directions on every connection that
// exists now, while keeping their sockets open: the peers see neither data
// nor FIN/RST, like a silent network partition, so only timeouts can detect
// it. Connections accepted afterwards are not frozen, which models a client
// that recovers by redialing.
func (p *Proxy) Freeze() {
	for _, c := range p.snapshot() {
		c.freeze()
	}
}

// Partition freezes every connection, those that exist now and those
// accepted later, until Heal: a partition that lasts, which redialing does
// not cure (a client still connects, and then hears nothing).
func (p *Proxy) Partition() {
	p.mu.Lock()
	p.partitioned = true
	p.mu.Unlock()
	p.Freeze()
}

// Down cuts every connection and closes new ones as soon as they are
// accepted, until Up: Redis is gone for the proxy's clients (they see
// resets and EOFs, not silence) while it stays up for everyone else.
func (p *Proxy) Down() {
	p.mu.Lock()
	p.down = true
	p.mu.Unlock()
	p.CutAll()
}

// Up ends Down: new connections are forwarded again.
func (p *Proxy) Up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Accepted is the number of connections the proxy has accepted so far,
// frozen, refused or forwarded.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// AdmitNew lets connections accepted from now on through again, while
// those frozen by Partition stay frozen: a dead link that only a fresh
// connection routes around, as after a failover or a NAT table reset.
func (p *Proxy) AdmitNew() {
	p.mu.Lock()
	p.partitioned = false
	p.mu.Unlock()
}

// Heal ends a Partition, unfreezing every connection.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.partitioned = false
	p.mu.Unlock()
	p.Unfreeze()
}

// Unfreeze resumes forwarding on frozen connections, delivering any bytes
// held back while frozen, like a partition that heals before TCP gives up.
func (p *Proxy) Unfreeze() {
	for _, c := range p.snapshot() {
		c.unfreeze()
	}
}

// CutAll closes every current connection on both sides, simulating a
// dropped link or server-side reset. The proxy keeps accepting new ones.
func (p *Proxy) CutAll() {
	for _, c := range p.snapshot() {
		c.close()
	}
}

// Close stops the proxy, closes all connections and waits for every proxy
// goroutine to exit, so leak checkers see nothing left behind. It is
// idempotent.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()

	p.cancel()
	_ = p.ln.Close()
	p.CutAll()
	p.wg.Wait()
}

func (p *Proxy) snapshot() []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	conns := make([]*proxyConn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	return conns
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // listener closed
		}
		c := newProxyConn(client)
		p.mu.Lock()
		p.accepted++
		if p.closed {
			p.mu.Unlock()
			c.close()
			return
		}
		if p.down {
			p.mu.Unlock()
			c.close()
			continue
		}
		// Registered before dialing so a Freeze or CutAll issued meanwhile
		// still applies to it. wg.Add happens while the accept loop holds
		// its own count, which makes it safe against a concurrent Wait.
		p.conns[c] = struct{}{}
		if p.partitioned {
			c.freeze()
		}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c)
	}
}

func (p *Proxy) handle(c *proxyConn) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	defer c.close()

	d := net.Dialer{Timeout: proxyDialTimeout}
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		return
	}
	if !c.attach(server) {
		return // cut while dialing
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.pipe(server, c.client) }()
	go func() { defer wg.Done(); c.pipe(c.client, server) }()
	wg.Wait()
}

// proxyConn is one client connection and its upstream connection.
type proxyConn struct {
	client net.Conn
	done   chan struct{} // closed by close

	mu     sync.Mutex
	server net.Conn      // nil until dialed
	thaw   chan struct{} // non-nil while frozen; closed on unfreeze
	closed bool
}

func newProxyConn(client net.Conn) *proxyConn {
	return &proxyConn{client: client, done: make(chan struct{})}
}

// attach records the upstream connection, or closes it and reports false if
// the proxyConn was closed in the meantime.
func (c *proxyConn) attach(server net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		_ = server.Close()
		return false
	}
	c.server = server
	return true
}

func (c *proxyConn) freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.thaw == nil && !c.closed {
		c.thaw = make(chan struct{})
	}
}

func (c *proxyConn) unfreeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.thaw != nil {
		close(c.thaw)
		c.thaw = nil
	}
}

func (c *proxyConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	_ = c.client.Close()
	if c.server != nil {
		_ = c.server.Close()
	}
}

// gate blocks while the connection is frozen. It reports false if the
// connection was closed instead.
func (c *proxyConn) gate() bool {
	for {
		c.mu.Lock()
		thaw := c.thaw
		c.mu.Unlock()
		if thaw == nil {
			select {
			case <-c.done:
				return false
			default:
				return true
			}
		}
		select {
		case <-thaw:
		case <-c.done:
			return false
		}
	}
}

// pipe copies src to dst, holding data back while frozen. Bytes read during
// a freeze are delivered after Unfreeze; meanwhile no further reads happen,
// so the sender's kernel buffers fill as they would behind a partition. Any
// error or EOF closes both sides, which is all a request/response protocol
// like RESP needs.
func (c *proxyConn) pipe(dst, src net.Conn) {
	defer c.close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !c.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
