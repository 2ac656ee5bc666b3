package core

import (
	"math/rand/v2"
	"sync/atomic"
)

// Eviction reasons, counted separately in Stats.
const (
	ReasonSize        = iota // evicted to stay within the slot limit
	ReasonExpired            // past its deadline (and stale window)
	ReasonInvalidated        // made stale by an invalidation
)

// evictionSample is how many cached slots the evictor compares to choose a
// victim. Sampling keeps eviction O(1) with no shared list to lock on the
// hit path; with frequency-based choice and admission it beats LRU under
// skewed access (see the hit-ratio test).
const evictionSample = 8

// Bound keeps the number of cached slots within Max: admission by
// frequency (TinyLFU-style: a newcomer must be at least as popular as the
// victim it would replace, so a scan of one-hit wonders cannot flush hot
// slots) and eviction of the least frequently used of a random sample.
type Bound struct {
	Max    int64
	dir    *Directory
	sketch *Sketch
	age    atomic.Uint32
	misses atomic.Uint64
}

// NewBound returns a bound of max slots over dir.
func NewBound(max int, dir *Directory) *Bound {
	return &Bound{Max: int64(max), dir: dir, sketch: NewSketch(4 * max)}
}

// Age is the current frequency age; counters halve each time it advances.
func (b *Bound) Age() uint32 { return b.age.Load() }

// Missed records a miss on h: the sketch remembers it even after h is
// gone. Every 10×Max misses all frequencies halve.
func (b *Bound) Missed(h *Handle) {
	b.sketch.Increment(h.ID)
	h.Touch(b.Age())
	if b.misses.Add(1)%uint64(10*b.Max) == 0 {
		b.age.Add(1)
		b.sketch.Halve()
	}
}

// score is how much h deserves to stay cached.
func (b *Bound) score(h *Handle) uint32 {
	return max(h.Frequency(b.Age()), b.sketch.Estimate(h.ID))
}

// Reserve makes room for h's first entry. It reports whether h may be
// cached; if so, one slot of the count is reserved for it. Victims are
// dropped through env so that they are counted.
func (env *Env) Reserve(h *Handle) (admitted bool) {
	b := env.Bound
	cand := b.score(h)
	for range 64 {
		c := env.cached.Load()
		if c < b.Max {
			if env.cached.CompareAndSwap(c, c+1) {
				return true
			}
			continue
		}
		if b.reclaimOne(env, h) {
			continue // a stale entry made room
		}
		victim, ve, score := b.victim(h)
		if victim == nil {
			break
		}
		if score > cand {
			env.Stats.Rejected.Add(1)
			return false
		}
		env.Drop(victim, ve, ReasonSize)
	}
	env.Stats.Rejected.Add(1)
	return false
}

// sample calls visit for up to evictionSample cached slots other than h,
// starting at a random place in the directory, until visit returns false.
func (b *Bound) sample(h *Handle, visit func(*Handle, *Entry) bool) {
	seen := 0
	b.dir.Walk(rand.Uint64(), b.dir.Buckets(), func(c *Handle) bool {
		ce := c.Entry()
		if c == h || ce == nil {
			return true
		}
		seen++
		return visit(c, ce) && seen < evictionSample
	})
}

// reclaimOne frees the first entry of a sample that can no longer be
// served, if any: stale entries go before any live one.
func (b *Bound) reclaimOne(env *Env, h *Handle) (freed bool) {
	b.sample(h, func(c *Handle, _ *Entry) bool {
		freed = env.Reclaim(c)
		return !freed
	})
	return freed
}

// victim returns the sampled cached slot (other than h) that deserves least
// to stay, and its score.
func (b *Bound) victim(h *Handle) (victim *Handle, e *Entry, score uint32) {
	b.sample(h, func(c *Handle, ce *Entry) bool {
		if s := b.score(c); victim == nil || s < score {
			victim, e, score = c, ce, s
		}
		return true
	})
	return victim, e, score
}
