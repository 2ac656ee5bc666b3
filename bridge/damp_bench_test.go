package bridge

import (
	"strconv"
	"testing"
	"time"
)

// nopHandler is a Handler that does nothing, so that only the bridge's
// side of a remote invalidation is measured.
type nopHandler struct{}

func (nopHandler) Invalidate(string)   {}
func (nopHandler) InvalidateAll()      {}
func (nopHandler) Resync()             {}
func (nopHandler) Filled(string)       {}
func (nopHandler) Watermark(time.Time) {}

// dampCases are the situations both benchmarks below measure: "off" is the
// path without damping, as before it existed; "quiet" one invalidation per
// quiet spell, the common case with damping on; "distinct" a burst of
// distinct slots, all applied at once; "storm" the same slot again and
// again, held.
var dampCases = []struct {
	name    string
	damping time.Duration
	quiet   bool
	same    bool
}{
	{"off", 0, false, false},
	{"quiet", time.Second, true, false},
	{"distinct", time.Second, false, false},
	{"storm", time.Second, false, true},
}

// benchDamp runs each of dampCases with handle(s, i) as one operation, i
// being the slot's index (always 0 in a storm).
func benchDamp(b *testing.B, handle func(s *Sub, i int)) {
	for _, c := range dampCases {
		b.Run(c.name, func(b *testing.B) {
			br := &Bridge{cfg: Config{Origin: "me", MaxMessageBytes: 4096, Damping: c.damping}, start: time.Now()}
			s := newSub(br, "ch", nopHandler{}, nil, c.damping)
			if c.quiet {
				var now int64
				s.damp.now = func() int64 { now += int64(time.Second); return now }
			}
			defer s.damp.halt()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if c.same {
					handle(s, 0)
				} else {
					handle(s, i&4095)
				}
				i++
			}
		})
	}
}

// BenchmarkApplyRemote: what the receive loop spends on one remote
// invalidation (decode, damper, handler call), without Redis.
func BenchmarkApplyRemote(b *testing.B) {
	payloads := make([]string, 4096)
	for i := range payloads {
		payloads[i] = string(Encode("compat:provider-"+strconv.Itoa(i), "other"))
	}
	benchDamp(b, func(s *Sub, i int) { s.apply(payloads[i]) })
}

// BenchmarkDamperOffer: the damper alone, without the decoding that
// dominates BenchmarkApplyRemote: its cost on a remote invalidation.
func BenchmarkDamperOffer(b *testing.B) {
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = "compat:provider-" + strconv.Itoa(i)
	}
	benchDamp(b, func(s *Sub, i int) { s.damp.offer(ids[i], "", "") })
}
