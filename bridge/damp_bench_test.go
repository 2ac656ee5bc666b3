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
// again, held; "storm-all" a storm of "*", held.
var dampCases = []struct {
	name    string
	damping time.Duration
	quiet   bool
	same    bool
	all     bool
}{
	{"off", 0, false, false, false},
	{"quiet", time.Second, true, false, false},
	{"distinct", time.Second, false, false, false},
	{"storm", time.Second, false, true, false},
	{"storm-all", time.Second, false, false, true},
}

// benchSlots is how many distinct slots the benchmarks name; index
// benchSlots stands for every slot ("*").
const benchSlots = 4096

// benchDamp runs each of dampCases with handle(s, i) as one operation, i
// being the slot's index (always 0 in a storm, benchSlots in a storm of
// "*").
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
				switch {
				case c.all:
					handle(s, benchSlots)
				case c.same:
					handle(s, 0)
				default:
					handle(s, i&(benchSlots-1))
				}
				i++
			}
		})
	}
}

// BenchmarkApplyRemote: what the receive loop spends on one remote
// invalidation (decode, damper, handler call), without Redis.
func BenchmarkApplyRemote(b *testing.B) {
	payloads := make([]string, benchSlots+1)
	for i := range benchSlots {
		payloads[i] = string(Encode("compat:provider-"+strconv.Itoa(i), "other"))
	}
	payloads[benchSlots] = string(Encode(All, "other"))
	benchDamp(b, func(s *Sub, i int) { s.apply(payloads[i]) })
}

// BenchmarkDamperOffer: the damper alone, without the decoding that
// dominates BenchmarkApplyRemote: its cost on a remote invalidation.
func BenchmarkDamperOffer(b *testing.B) {
	ids := make([]string, benchSlots+1)
	for i := range benchSlots {
		ids[i] = "compat:provider-" + strconv.Itoa(i)
	}
	ids[benchSlots] = All
	benchDamp(b, func(s *Sub, i int) { s.damp.offer(ids[i], "", "") })
}
