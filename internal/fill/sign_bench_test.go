package fill

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/slotcache/slotcache/bridge"
	"github.com/slotcache/slotcache/internal/core"
	"github.com/slotcache/slotcache/internal/redistest"
)

// BenchmarkSharedCopy measures what signing adds to reading a shared copy:
// "value" is the CPU part (verify and decode) for a 100 B and a 10 KB
// []byte value; "redis-hit" a whole shared hit through a real
// redis-server, one round trip.
//
//	go test -run '^$' -bench SharedCopy -benchmem ./internal/fill
func BenchmarkSharedCopy(b *testing.B) {
	keys, err := bridge.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	signing := func(signed bool) *Signing {
		if signed {
			return &Signing{Keys: keys}
		}
		return nil
	}
	const dataKey = "{app:fill:0123abcd:user:42}"
	for _, size := range []int{100, 10 << 10} {
		envelope := append([]byte{tagBytes}, strings.Repeat("x", size)...)
		for _, signed := range []bool{false, true} {
			c := New(Config{Codec: jsonCodec{}, Signing: signing(signed)})
			f := found{state: stateHit, data: string(c.stored(dataKey, envelope, time.Hour)), ttl: time.Hour}
			b.Run(fmt.Sprintf("%s/value/%dB", signedName(signed), size), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := c.value("user:42", dataKey, f); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	for _, signed := range []bool{false, true} {
		b.Run(signedName(signed)+"/redis-hit", func(b *testing.B) {
			srv := redistest.Start(b)
			c := New(Config{
				Client: srv.Client(b), Prefix: "bench:fill:", Lease: 10 * time.Second, Wait: 5 * time.Second,
				PollMin: 5 * time.Millisecond, PollMax: 50 * time.Millisecond, OpTimeout: time.Second,
				Codec: jsonCodec{}, Signing: signing(signed),
			})
			b.Cleanup(c.Close)
			ctx := context.Background()
			load := func(context.Context, string) (any, error) { return strings.Repeat("x", 100), nil }
			slot := &sharing{share: core.Share{TTL: time.Hour}}
			c.Load(ctx, "s", load, slot) // commits the copy
			for b.Loop() {
				if r := c.Load(ctx, "s", load, slot); r.Source != core.SharedCopy {
					b.Fatalf("not a shared hit: %+v", r)
				}
			}
		})
	}
}

func signedName(signed bool) string {
	if signed {
		return "signed"
	}
	return "unsigned"
}
