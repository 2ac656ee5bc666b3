package slotcache

import (
	"container/list"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The slot limit holds at every moment under a churn of ten times more keys
// than the limit, from many goroutines.
func TestMaxSlotsBoundHoldsUnderChurn(t *testing.T) {
	const limit = 100
	e := newEngine(t, WithMaxSlots(limit), WithPassivateAfter(0))
	var worst atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for range 1500 {
				id := fmt.Sprint("k", r.IntN(10*limit))
				v, err := e.Get(context.Background(), id, identity)
				if err != nil || v != id {
					panic(fmt.Sprintf("Get(%s) = %v, %v", id, v, err))
				}
				if n := int64(e.Stats().Slots); n > worst.Load() {
					worst.Store(n)
				}
			}
		}()
	}
	wg.Wait()
	s := e.Stats()
	assert.LessOrEqual(t, worst.Load(), int64(limit), "Slots never exceeds the limit")
	assert.LessOrEqual(t, s.Slots, uint64(limit))
	assert.Positive(t, s.EvictedSize+s.Rejected, "a full cache evicts or rejects")
	assert.Positive(t, s.Passivations, "idle slot actors stop")
}

// A hot slot survives a scan of cold ones: one-hit wonders are not admitted
// over a frequently used slot. Between two uses of the hot slot the scan
// touches as many cold slots as the cache holds, so LRU would evict it.
func TestHotSlotSurvivesScan(t *testing.T) {
	e := newEngine(t, WithMaxSlots(20))
	var calls atomic.Int32
	hot := constLoader(&calls, "hot")
	for range 50 {
		mustGet(t, e, "hot", hot)
	}
	for i := range 2000 {
		mustGet(t, e, fmt.Sprint("scan-", i), identity)
		if i%20 == 19 {
			mustGet(t, e, "hot", hot)
		}
	}
	assert.True(t, e.Cached("hot"), "the hot slot must survive the scan")
	assert.EqualValues(t, 1, calls.Load())
	assert.LessOrEqual(t, e.Stats().Slots, uint64(20))
}

// On a Zipf trace the hit ratio is at least LRU's at the same size.
func TestHitRatioBeatsLRUOnZipf(t *testing.T) {
	const size, keys, accesses = 200, 20000, 60000
	trace := make([]string, accesses)
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.01, 1, keys-1)
	for i := range trace {
		trace[i] = fmt.Sprint("k", z.Uint64())
	}

	e := newEngine(t, WithMaxSlots(size))
	var loads atomic.Int64
	load := func(_ context.Context, id string) (any, error) { loads.Add(1); return id, nil }
	for _, id := range trace {
		mustGet(t, e, id, load)
	}
	ours := 1 - float64(loads.Load())/accesses

	lru := newLRU(size)
	misses := 0
	for _, id := range trace {
		if !lru.get(id) {
			misses++
		}
	}
	theirs := 1 - float64(misses)/accesses
	t.Logf("hit ratio: slotcache %.3f, LRU %.3f", ours, theirs)
	assert.GreaterOrEqual(t, ours, theirs)
}

// lru is a plain LRU of keys, the reference for the hit-ratio test.
type lru struct {
	size  int
	order *list.List
	items map[string]*list.Element
}

func newLRU(size int) *lru {
	return &lru{size: size, order: list.New(), items: make(map[string]*list.Element)}
}

func (c *lru) get(k string) bool {
	if el, ok := c.items[k]; ok {
		c.order.MoveToFront(el)
		return true
	}
	c.items[k] = c.order.PushFront(k)
	if c.order.Len() > c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(string))
	}
	return false
}

// Slot actors stop once idle and the entry stays servable without them;
// an expired entry is reclaimed with its slot.
func TestPassivationKeepsEntryAndReclaimsExpired(t *testing.T) {
	e := newEngine(t, WithTTL(time.Hour))
	var calls atomic.Int32
	mustGet(t, e, "s", constLoader(&calls, "v"))
	require.Eventually(t, func() bool { return e.Stats().Passivations == 1 }, wait, time.Millisecond)
	assert.Equal(t, "v", mustGet(t, e, "s", constLoader(&calls, "v")), "served without an actor")
	assert.EqualValues(t, 1, calls.Load())

	require.NoError(t, e.SetTTL(10*time.Millisecond))
	mustGet(t, e, "short", constLoader(&calls, "v"))
	require.Eventually(t, func() bool {
		s := e.Stats()
		return s.EvictedExpired == 1 && s.Slots == 1
	}, wait, time.Millisecond, "the sweeper reclaims the expired entry")
}

// The stress test of passivation, eviction and invalidation racing loads:
// no Get fails or hangs, and none returns a value older than the last
// invalidation that completed before it started. (The floor is taken from
// invalidations that returned, not from the source's counter: a Get that
// overlaps an Invalidate may linearise before it.)
func TestNoStaleValueUnderEvictionAndPassivation(t *testing.T) {
	e := newEngine(t, WithMaxSlots(8), WithTTL(time.Hour), WithPassivateAfter(0)) // passivate as often as possible
	const keys = 32
	// versions is what the source holds; invalidated is the newest version
	// whose Invalidate has returned, the oldest a Get that starts afterwards
	// may return (one that overlaps an Invalidate may return either value).
	var versions, invalidated [keys]atomic.Int64
	load := func(_ context.Context, id string) (any, error) {
		var k int
		fmt.Sscan(id[1:], &k)
		return versions[k].Load(), nil
	}
	deadline := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for time.Now().Before(deadline) {
				k := r.IntN(keys)
				id := fmt.Sprint("k", k)
				if r.IntN(10) == 0 {
					v := versions[k].Add(1)
					if err := e.Invalidate(context.Background(), id); err != nil {
						panic(err)
					}
					for old := invalidated[k].Load(); old < v && !invalidated[k].CompareAndSwap(old, v); old = invalidated[k].Load() {
					}
					continue
				}
				floor := invalidated[k].Load()
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				v, err := e.Get(ctx, id, load)
				cancel()
				if err != nil {
					panic(fmt.Sprintf("Get(%s): %v", id, err))
				}
				if v.(int64) < floor {
					panic(fmt.Sprintf("Get(%s) = version %d, older than %d", id, v, floor))
				}
			}
		}()
	}
	wg.Wait()
	s := e.Stats()
	assert.LessOrEqual(t, s.Slots, uint64(8))
	assert.Positive(t, s.Passivations)
	assert.Positive(t, s.EvictedSize+s.Rejected)
	assert.Positive(t, s.EvictedInvalidated)
}

func TestWithMaxSlotsValidation(t *testing.T) {
	_, err := New(WithMaxSlots(0))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithMaxSlots")
	_, err = New(WithPassivateAfter(-time.Second))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WithPassivateAfter")
}

// An idle actor lives on for PassivateAfter, so an invalidate-and-reload
// right after a load reuses it instead of starting two more.
func TestPassivateAfterKeepsActorForReload(t *testing.T) {
	e := newEngine(t, WithPassivateAfter(time.Hour))
	var calls atomic.Int32
	load := constLoader(&calls, "v")
	for range 5 {
		mustGet(t, e, "s", load)
		require.NoError(t, e.Invalidate(context.Background(), "s"))
	}
	mustGet(t, e, "s", load)
	assert.EqualValues(t, 6, calls.Load())
	assert.Zero(t, e.Stats().Passivations, "the same actor served every reload")

	quick := newEngine(t, WithPassivateAfter(0))
	mustGet(t, quick, "s", load)
	require.Eventually(t, func() bool { return quick.Stats().Passivations == 1 }, wait, time.Millisecond)
}
