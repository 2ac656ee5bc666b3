package bridge

import "sync"

// replays remembers the MACs of the signed messages a Sub accepted, for as
// long as their timestamps keep them acceptable, so that a message copied
// off the channel and published again within MaxAge is refused instead of
// applied twice. Without it, a captured invalidation of every slot could
// flush every instance once per copy for MaxAge: the flood the signatures
// are meant to stop.
//
// MACs are kept in buckets by timestamp, each MaxAge wide: a message dated
// ts is acceptable until now > ts+MaxAge, so a bucket can go once the
// bucket before now's is behind it, and at most four are alive. Pruning is
// one look at those few buckets per message, no timer.
type replays struct {
	mu      sync.Mutex
	buckets map[int64]map[[16]byte]struct{}
	size    int
}

// add records mac, dated ts, and reports whether it was there already.
// now and width (MaxAge) are in milliseconds. Past maxReplays entries it
// records nothing more until older buckets expire.
func (r *replays) add(mac [32]byte, ts, now, width int64) (seen bool) {
	var key [16]byte // 128 bits of the MAC are plenty to tell messages apart
	copy(key[:], mac[:])
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := floorDiv(now, width) - 1
	for b, m := range r.buckets {
		if b < oldest {
			r.size -= len(m)
			delete(r.buckets, b)
		}
	}
	b := floorDiv(ts, width)
	m := r.buckets[b]
	if _, ok := m[key]; ok {
		return true
	}
	if r.size >= maxReplays {
		return false
	}
	if m == nil {
		if r.buckets == nil {
			r.buckets = make(map[int64]map[[16]byte]struct{}, 4)
		}
		m = make(map[[16]byte]struct{})
		r.buckets[b] = m
	}
	m[key] = struct{}{}
	r.size++
	return false
}

// floorDiv is a/b rounded down, for timestamps before 1970 too.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
