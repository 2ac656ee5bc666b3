package slotcache

// Invalidation damping (bridge/damp.go) together with the slot limit
// (WithMaxSlots): a storm of remote invalidations over more slots than the
// limit while readers keep evicting and reloading them. Held invalidations
// are applied by a flush that may find their slot evicted, forgotten, or
// loading again; none of that may lose one.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/slotcache/slotcache/internal/redistest"
)

// cdLog is what a storm published: per slot, and for every slot ("*"), the
// source version bumped before each invalidation and when (engine clock)
// Redis had taken it, in order.
type cdLog struct {
	mu    sync.Mutex
	slots map[string][]stPublished
	all   []stPublished
}

func (l *cdLog) add(slotID string, p stPublished) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if slotID == "*" {
		l.all = append(l.all, p)
		return
	}
	l.slots[slotID] = append(l.slots[slotID], p)
}

// gone returns the newest version that an invalidation of slotID (or of
// every slot) published before w (engine clock) made stale, 0 if none: a
// Get that starts once the watermark has passed w must return at least it.
func (l *cdLog) gone(slotID string, w int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	before := func(log []stPublished) int64 {
		i := sort.Search(len(log), func(i int) bool { return log[i].at >= w })
		if i == 0 {
			return 0
		}
		return log[i-1].version
	}
	return max(before(l.slots[slotID]), before(l.all))
}

// Engine B holds at most 40 slots and damps remote invalidations; a raw
// client floods invalidations of 160 slots (a few hot ones repeated within
// a damping window, so that they are held, and now and then "*"), while
// readers on B read all 160, evicting and reloading all the time. No Get
// on B returns a value older than an invalidation its watermark had
// passed when the Get started; Cached slots never exceed the limit; once
// the storm ends and the watermark passes its last message, every slot
// reads a value at least as new as its last invalidation.
func TestCombinedDampingWithMaxSlots(t *testing.T) {
	// Rare "*": the windows stay short and single slots are held; frequent
	// "*": the windows grow towards the damping bound and every message is
	// held for up to a second, with the watermark waiting for the flush.
	for _, every := range []int{500, 40} {
		t.Run(fmt.Sprintf("all-every-%d", every), func(t *testing.T) { cdDampingWithMaxSlots(t, every) })
	}
}

func cdDampingWithMaxSlots(t *testing.T, allEvery int) {
	srv := redistest.Start(t)
	ch := rtChannel(t)
	const limit, slots, hot = 40, 160, 4
	b := rtEngine(t, srv.Client(t), ch, WithMaxSlots(limit),
		WithHeartbeat(100*time.Millisecond), WithMaxStaleness(2*time.Second),
		WithInvalidationDamping(time.Second))
	rtReady(t, b)
	id := func(n int) string { return "s" + strconv.Itoa(n) }
	src := &stSource{loads: map[string]int{}}
	log := &cdLog{slots: map[string][]stPublished{}}

	messages := 6000
	if testing.Short() {
		messages = 1500
	}
	pub := srv.Client(t)
	publish := func(slotID string) {
		v := src.version.Add(1)
		err := pub.Publish(context.Background(), ch, `{"slotId":"`+slotID+`","_origin":"storm"}`).Err()
		require.NoError(t, err)
		log.add(slotID, stPublished{b.env.Clock.At(time.Now()), v})
	}

	stop := make(chan struct{})
	var overBound, stale atomic.Value
	var readers sync.WaitGroup
	for r := range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Skewed: the hot slots and a few others win admission,
				// the rest keep evicting each other.
				n := rng.IntN(slots)
				if rng.IntN(2) == 0 {
					n = rng.IntN(2 * hot)
				}
				slotID := id(n)
				gone := log.gone(slotID, b.env.LastWatermark())
				v, err := b.Get(context.Background(), slotID, src.load)
				if err != nil {
					t.Errorf("Get %s: %v", slotID, err)
					return
				}
				if got := v.(int64); got < gone {
					stale.CompareAndSwap(nil, fmt.Sprintf("%s: version %d after the watermark passed its invalidation at version %d", slotID, got, gone))
				}
				if n := b.Stats().Slots; n > limit {
					overBound.CompareAndSwap(nil, fmt.Sprintf("%d slots cached, limit %d", n, limit))
				}
			}
		}()
	}
	for i := range messages {
		switch {
		case i%allEvery == allEvery-1:
			publish("*")
		case i%2 == 0:
			publish(id(i / 2 % hot)) // the hot ones: again within a window, held
		default:
			publish(id(i / 2 % slots))
		}
	}
	close(stop)
	readers.Wait()
	require.Nil(t, stale.Load(), "a value served after the watermark passed its invalidation")
	require.Nil(t, overBound.Load(), "the slot limit was exceeded")

	// The storm's last message, and the watermark past it: every slot has
	// had every invalidation applied, held or not, evicted or not.
	publish(id(0))
	last := b.env.Clock.At(time.Now())
	require.Eventually(t, func() bool { return b.env.LastWatermark() > last }, rtWait, rtPoll, "no watermark after the storm")
	for n := range slots {
		slotID := id(n)
		v, err := b.Get(context.Background(), slotID, src.load)
		require.NoError(t, err)
		require.GreaterOrEqual(t, v.(int64), log.gone(slotID, last+1), "%s: an invalidation was lost", slotID)
	}
	st := b.Stats()
	require.LessOrEqual(t, st.Slots, uint64(limit))
	if st.Subscriptions == 1 && st.HeartbeatMisses == 0 {
		require.Equal(t, uint64(messages+1), st.CrossProcessInvalidations, "every invalidation applied, the held ones by a flush")
	}
	t.Logf("%d messages: %d held in %d flushes (max delay %v); %d evicted for size, %d rejected, %d loads",
		messages+1, st.DampedInvalidations, st.DampFlushes, st.DampMaxDelay, st.EvictedSize, st.Rejected, st.Loads)
	require.NotZero(t, st.DampedInvalidations, "the scenario: nothing was held")
	require.NotZero(t, st.EvictedSize, "the scenario: nothing was evicted for size")
}
