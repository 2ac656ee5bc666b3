package export

import (
	"reflect"
	"testing"

	"github.com/slotcache/slotcache"
)

// TestEveryStatIsExported: each numeric field of slotcache.Stats is read
// by exactly one counter or gauge, so a counter added to Stats without an
// export fails here instead of silently missing from Prometheus, OTel and
// the live view; and it is exported as a gauge exactly when it is tagged
// stats:"gauge", the tag Engine.Totals goes by, so that a level is never
// summed across Resets nor a count exported as a gauge.
func TestEveryStatIsExported(t *testing.T) {
	typ := reflect.TypeFor[slotcache.Stats]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.Uint64 {
			continue
		}
		var st slotcache.Stats
		reflect.ValueOf(&st).Elem().Field(i).SetUint(7)
		counters, gauges := 0, 0
		for _, c := range Counters {
			if c.Name == "redis_resyncs" {
				continue // derived from Subscriptions and HeartbeatMisses
			}
			if c.Read(&st) == 7 {
				counters++
			}
		}
		for _, g := range Gauges {
			if g.Read(&st) == 7 {
				gauges++
			}
		}
		if counters+gauges != 1 {
			t.Errorf("Stats.%s is read by %d exported metrics, want 1", f.Name, counters+gauges)
		}
		if tagged := f.Tag.Get("stats") == "gauge"; tagged != (gauges == 1) {
			t.Errorf("Stats.%s: tagged as a gauge: %v; exported as a gauge: %v", f.Name, tagged, gauges == 1)
		}
	}
}
