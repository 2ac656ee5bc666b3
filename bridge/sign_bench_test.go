package bridge

import (
	"strconv"
	"testing"
)

// BenchmarkMessage measures what signing adds to one channel message: its
// encoding by the sender, and its decoding and check by a receiver (the
// check of a signature never seen, recorded for the replay check).
//
//	go test -run '^$' -bench Message -benchmem ./bridge
func BenchmarkMessage(b *testing.B) {
	keys, err := NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	for _, signed := range []bool{false, true} {
		name := "unsigned"
		var signing *Signing
		if signed {
			name, signing = "signed", &Signing{Keys: keys}
		}
		s := &Sub{channel: "app:invalidate", b: &Bridge{cfg: Config{Origin: "0123456789abcdef0123456789abcdef"}}, sign: newSigner(signing)}
		b.Run(name+"/encode", func(b *testing.B) {
			for b.Loop() {
				_ = s.encodeInvalidation("user:42", "")
			}
		})
		const batch = 1 << 14
		msgs := make([]string, batch)
		for i := range msgs {
			msgs[i] = string(s.encodeInvalidation("user:"+strconv.Itoa(i), ""))
		}
		b.Run(name+"/decode+verify", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if i == batch {
					i = 0
					if s.sign != nil {
						s.sign.seen = replays{} // each message is new again
					}
				}
				n, err := DecodeNotice(msgs[i], 4<<10)
				if err != nil || (s.sign != nil && s.verdict(n) != verdictSigned) {
					b.Fatal("refused", err)
				}
				i++
			}
		})
	}
}
