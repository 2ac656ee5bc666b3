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

// BenchmarkApplyRemote: what the receive loop spends on one remote
// invalidation (decode, damper, handler call), without Redis. "off" is the
// path without damping, as before it existed; "quiet" one invalidation per
// quiet spell, the common case with damping on; "distinct" a burst of
// distinct slots, all applied at once; "storm" the same slot again and
// again, held.
func BenchmarkApplyRemote(b *testing.B) {
	payloads := make([]string, 4096)
	for i := range payloads {
		payloads[i] = string(Encode("compat:provider-"+strconv.Itoa(i), "other"))
	}
	for _, c := range []struct {
		name    string
		damping time.Duration
		quiet   bool
		same    bool
	}{
		{"off", 0, false, false},
		{"quiet", time.Second, true, false},
		{"distinct", time.Second, false, false},
		{"storm", time.Second, false, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := &Bridge{cfg: Config{Origin: "me", MaxMessageBytes: 4096, Damping: c.damping}, start: time.Now()}
			s := newSub(br, "ch", nopHandler{}, nil)
			if c.quiet {
				var now int64
				s.damp.now = func() int64 { now += int64(time.Second); return now }
			}
			defer s.damp.halt()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if c.same {
					s.apply(payloads[0])
				} else {
					s.apply(payloads[i&4095])
				}
				i++
			}
		})
	}
}

// BenchmarkDamperOffer: the damper alone, without the decoding that
// dominates BenchmarkApplyRemote: its cost on a remote invalidation.
func BenchmarkDamperOffer(b *testing.B) {
	ids := make([]string, 4096)
	for i := range ids {
		ids[i] = "compat:provider-" + strconv.Itoa(i)
	}
	for _, c := range []struct {
		name    string
		damping time.Duration
		quiet   bool
		same    bool
	}{
		{"off", 0, false, false},
		{"quiet", time.Second, true, false},
		{"distinct", time.Second, false, false},
		{"storm", time.Second, false, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			br := &Bridge{cfg: Config{Origin: "me", MaxMessageBytes: 4096, Damping: c.damping}, start: time.Now()}
			s := newSub(br, "ch", nopHandler{}, nil)
			if c.quiet {
				var now int64
				s.damp.now = func() int64 { now += int64(time.Second); return now }
			}
			defer s.damp.halt()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if c.same {
					s.damp.offer(ids[0], "", "")
				} else {
					s.damp.offer(ids[i&4095], "", "")
				}
				i++
			}
		})
	}
}
