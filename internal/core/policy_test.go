package core

import (
	"testing"
	"time"
)

// Share turns a slot's timing into the shared copy's: at least as long as
// the local copy, refreshed at the same fraction of its life, and not
// shared when not cached.
func TestTimingShare(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    Timing
		want Share
	}{
		{"default follows the TTL", Timing{TTL: time.Minute}, Share{TTL: time.Minute}},
		{"longer shared lifetime", Timing{TTL: time.Minute, SharedTTL: time.Hour}, Share{TTL: time.Hour}},
		{"never shorter than the TTL", Timing{TTL: time.Minute, SharedTTL: time.Second}, Share{TTL: time.Minute}},
		{"refresh at the same fraction", Timing{TTL: 200 * time.Millisecond, RefreshAfter: 150 * time.Millisecond, SharedTTL: 2 * time.Second},
			Share{TTL: 2 * time.Second, RefreshAfter: 1500 * time.Millisecond}},
		{"refresh point past the TTL is none", Timing{TTL: time.Minute, RefreshAfter: time.Minute, SharedTTL: time.Hour}, Share{TTL: time.Hour}},
		{"not cached, not shared", Timing{TTL: 0, SharedTTL: time.Hour}, Share{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.t.Share(); got != tc.want {
				t.Fatalf("%+v.Share() = %+v, want %+v", tc.t, got, tc.want)
			}
		})
	}
}
