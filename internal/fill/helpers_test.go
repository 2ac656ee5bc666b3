package fill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/core"

	"github.com/slotcache/slotcache/internal/redistest"
)

// waitFor bounds every wait for something that should happen promptly; it
// decides how long a broken build takes to fail, never whether a healthy
// one passes.
const waitFor = 10 * time.Second

const tick = 2 * time.Millisecond

// rig is one redis-server, its channel, and the coordinators of a test,
// each like one engine instance.
type rig struct {
	t       *testing.T
	srv     *redistest.Server
	client  *redis.Client
	channel string
	prefix  string
	mu      sync.Mutex
	coords  []*Coordinator
	logs    *logBuffer
}

var seq atomic.Int64

func newRig(t *testing.T) *rig {
	srv := redistest.Start(t)
	n := seq.Add(1)
	return &rig{
		t:       t,
		srv:     srv,
		client:  srv.Client(t),
		channel: fmt.Sprintf("fill-test:%d", n),
		prefix:  fmt.Sprintf("fill-test:%d:", n),
		logs:    &logBuffer{},
	}
}

// config is the rig's default: notices on, quick polls, long lease.
func (r *rig) config() Config {
	return Config{
		Client:    r.client,
		Prefix:    r.prefix,
		Lease:     10 * time.Second,
		Wait:      5 * time.Second,
		PollMin:   5 * time.Millisecond,
		PollMax:   50 * time.Millisecond,
		OpTimeout: time.Second,
		Codec:     jsonCodec{},
		Channel:   r.channel,
		Notice:    func(slotID string) []byte { return []byte(slotID) },
		Logger:    slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// coord returns a coordinator on the rig, with edit applied to the
// default config.
func (r *rig) coord(edit ...func(*Config)) *Coordinator {
	cfg := r.config()
	for _, e := range edit {
		e(&cfg)
	}
	c := New(cfg)
	r.t.Cleanup(c.Close)
	r.mu.Lock()
	r.coords = append(r.coords, c)
	r.mu.Unlock()
	return c
}

// relay plays the bridge: it subscribes to the channel and hands every
// notice to every coordinator of the rig (the payload is the slot ID). It
// returns once Redis confirmed the subscription.
func (r *rig) relay() {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ps := r.srv.Client(r.t).Subscribe(ctx, r.channel)
	_, err := ps.Receive(ctx)
	require.NoError(r.t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range ps.Channel() {
			r.mu.Lock()
			cs := append([]*Coordinator(nil), r.coords...)
			r.mu.Unlock()
			for _, c := range cs {
				c.Filled(msg.Payload)
			}
		}
	}()
	r.t.Cleanup(func() {
		_ = ps.Close()
		<-done
	})
}

// keys returns the keys of slotID in the namespace current in Redis.
func (r *rig) keys(slotID string) keys {
	ns, err := r.client.Get(context.Background(), r.prefix+"gen").Result()
	require.NoError(r.t, err)
	return r.coords[0].keysFor(ns, slotID)
}

func (r *rig) exists(key string) bool {
	n, err := r.client.Exists(context.Background(), key).Result()
	require.NoError(r.t, err)
	return n == 1
}

// loader counts its calls; each call blocks until released if gated, and
// returns what value says.
type loader struct {
	calls   atomic.Int32
	gated   bool
	entered chan int32
	release chan struct{}
	value   func(call int32) (any, error)
}

func newLoader(value func(call int32) (any, error)) *loader {
	return &loader{entered: make(chan int32, 64), release: make(chan struct{}), value: value}
}

func gatedLoader(value func(call int32) (any, error)) *loader {
	l := newLoader(value)
	l.gated = true
	return l
}

func (l *loader) load(ctx context.Context, _ string) (any, error) {
	n := l.calls.Add(1)
	l.entered <- n
	if l.gated {
		select {
		case <-l.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.value(n)
}

func (l *loader) awaitCall(t *testing.T) int32 {
	t.Helper()
	select {
	case n := <-l.entered:
		return n
	case <-time.After(waitFor):
		t.Fatal("the loader was not called")
		return 0
	}
}

func (l *loader) open() { close(l.release) }

func values(prefix string) func(int32) (any, error) {
	return func(n int32) (any, error) { return fmt.Sprintf("%s#%d", prefix, n), nil }
}

// result is what Load returned.
type result struct {
	v     any
	src   core.FillSource
	ttl   time.Duration // the shared copy's remaining life, for a shared hit
	err   error
	panic any
}

// sharing is the slot side of a Load in these tests: it shares every value
// as share says, and delivers the copies served to it on served, if set.
type sharing struct {
	share  core.Share
	served chan any
}

func (s *sharing) Share(any) core.Share { return s.share }

func (s *sharing) Serve(v any, _ time.Duration) {
	if s.served != nil {
		s.served <- v
	}
}

// hour shares every value for an hour.
var hour = &sharing{share: core.Share{TTL: time.Hour}}

// loadAsync runs c.Load in a goroutine and delivers its result, or the
// value it panicked with.
func loadAsync(ctx context.Context, c *Coordinator, slotID string, l func(context.Context, string) (any, error)) <-chan result {
	return loadAsyncDecide(ctx, c, slotID, l, hour)
}

// loadAsyncDecide is loadAsync for slot, which decides how to share.
func loadAsyncDecide(ctx context.Context, c *Coordinator, slotID string, l func(context.Context, string) (any, error), slot core.FillSlot) <-chan result {
	out := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panic = recover()
			out <- r
		}()
		res := c.Load(ctx, slotID, l, slot)
		r.v, r.src, r.ttl, r.err = res.Value, res.Source, res.Remaining, res.Err
	}()
	return out
}

func await(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitFor):
		t.Fatal("Load did not return")
		return result{}
	}
}

func load(t *testing.T, c *Coordinator, slotID string, l func(context.Context, string) (any, error)) result {
	t.Helper()
	return await(t, loadAsync(context.Background(), c, slotID, l))
}

// awaitFollowing waits until n followers of c wait.
func awaitFollowing(t *testing.T, c *Coordinator, n int64) {
	t.Helper()
	require.Eventually(t, func() bool { return c.Stats().Waiting == n }, waitFor, tick)
}

// outcomes returns c's non-zero outcome counts by name.
func outcomes(c *Coordinator) map[string]uint64 {
	m := map[string]uint64{}
	for o, n := range c.Stats().Outcomes {
		if n > 0 {
			m[Outcome(o).String()] = n
		}
	}
	return m
}

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the "slotcache: fill" records logged so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		if rec["msg"] == "slotcache: fill" {
			out = append(out, rec)
		}
	}
	return out
}
