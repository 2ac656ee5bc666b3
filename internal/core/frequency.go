package core

import (
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
)

// A handle's access frequency is an 8-bit counter packed with the 24-bit
// age at which it was last decayed. Below freqLinear it counts every
// access; above, an access counts with probability freqLinear/f, so a hot
// key writes its handle rarely and the hit path stays cheap. Counters halve
// each time the engine's age advances (TinyLFU's periodic reset), applied
// lazily when a handle is next read or touched.
const (
	freqLinear = 16
	freqMax    = 255
	ageMask    = 1<<24 - 1
)

func decayed(v uint32, age uint32) uint32 {
	f, stamp := v&freqMax, v>>8
	if d := (age - stamp) & ageMask; d > 0 {
		if d >= 8 {
			return 0
		}
		f >>= d
	}
	return f
}

// Touch records an access to h at the engine's age.
func (h *Handle) Touch(age uint32) {
	v := h.freq.Load()
	f := decayed(v, age)
	if v>>8 == age&ageMask && f >= freqLinear && (f == freqMax || rand.Uint32()%f >= freqLinear) {
		return // the common case for a hot key: no write
	}
	if f < freqMax {
		f++
	}
	h.freq.CompareAndSwap(v, (age&ageMask)<<8|f) // a lost race loses one count
}

// Frequency is h's decayed access frequency at the engine's age.
func (h *Handle) Frequency(age uint32) uint32 { return decayed(h.freq.Load(), age) }

// Sketch is a count-min sketch of 4-bit counters that remembers how often
// keys were missed even after their handles are gone, so that a key that
// keeps coming back is eventually admitted while one-hit wonders are not.
type Sketch struct {
	seed  maphash.Seed
	rows  [4][]atomic.Uint64 // 16 counters per word
	width uint64             // counters per row, a power of two
}

// NewSketch sizes a sketch for about n keys.
func NewSketch(n int) *Sketch {
	w := uint64(64)
	for w < uint64(n) {
		w <<= 1
	}
	s := &Sketch{seed: maphash.MakeSeed(), width: w}
	for i := range s.rows {
		s.rows[i] = make([]atomic.Uint64, w/16)
	}
	return s
}

func (s *Sketch) index(hash uint64, row int) (word uint64, shift uint) {
	h := hash + uint64(row)*(hash>>32|1)
	h ^= h >> 29
	i := h & (s.width - 1)
	return i >> 4, uint(i&15) * 4
}

// Increment counts one occurrence of key and returns its new estimate.
func (s *Sketch) Increment(key string) uint32 {
	hash := maphash.String(s.seed, key)
	est := uint32(15)
	for r := range s.rows {
		w, sh := s.index(hash, r)
		for {
			old := s.rows[r][w].Load()
			c := (old >> sh) & 15
			if c == 15 {
				break
			}
			if s.rows[r][w].CompareAndSwap(old, old+1<<sh) {
				c++
				est = min(est, uint32(c))
				break
			}
		}
	}
	return est
}

// Estimate returns how often key was counted, at most 15.
func (s *Sketch) Estimate(key string) uint32 {
	hash := maphash.String(s.seed, key)
	est := uint32(15)
	for r := range s.rows {
		w, sh := s.index(hash, r)
		est = min(est, uint32((s.rows[r][w].Load()>>sh)&15))
	}
	return est
}

// Halve divides every counter by two, so that old popularity fades.
func (s *Sketch) Halve() {
	for r := range s.rows {
		for i := range s.rows[r] {
			for {
				old := s.rows[r][i].Load()
				if s.rows[r][i].CompareAndSwap(old, (old>>1)&0x7777777777777777) {
					break
				}
			}
		}
	}
}
