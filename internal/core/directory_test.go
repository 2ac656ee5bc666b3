package core

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDirectoryStoreLoadDelete(t *testing.T) {
	d, w := NewDirectory()
	_, ok := d.Load("a")
	assert.False(t, ok)

	a := NewHandle("a", nil)
	w.Store(a)
	got, ok := d.Load("a")
	require.True(t, ok)
	assert.Same(t, a, got)

	a2 := NewHandle("a", nil)
	w.Store(a2)
	got, _ = d.Load("a")
	assert.Same(t, a2, got, "Store replaces a handle with the same ID")
	assert.Equal(t, 1, w.Len())

	assert.False(t, w.CompareAndDelete(a), "a replaced handle is not deleted")
	assert.True(t, w.CompareAndDelete(a2))
	_, ok = d.Load("a")
	assert.False(t, ok)
	assert.Equal(t, 0, w.Len())
}

// Growing and deleting from long chains keeps every other key reachable.
func TestDirectoryGrowAndDeleteKeepOthers(t *testing.T) {
	d, w := NewDirectory()
	const n = 5000
	handles := make([]*Handle, n)
	for i := range handles {
		handles[i] = NewHandle(fmt.Sprint("slot:", i), nil)
		w.Store(handles[i])
	}
	assert.Equal(t, n, w.Len())
	for i := 0; i < n; i += 2 {
		require.True(t, w.CompareAndDelete(handles[i]))
	}
	for i, h := range handles {
		got, ok := d.Load(h.ID)
		if i%2 == 0 {
			assert.False(t, ok, h.ID)
		} else if assert.True(t, ok, h.ID) {
			assert.Same(t, h, got)
		}
	}
	seen := 0
	d.Walk(0, d.Buckets(), func(*Handle) bool { seen++; return true })
	assert.Equal(t, n/2, seen)
}

// Readers run alongside the single writer without locks: under -race this
// fails if a read could see a half-built chain or table.
func TestDirectoryConcurrentReaders(t *testing.T) {
	d, w := NewDirectory()
	stable := NewHandle("stable", nil)
	w.Store(stable)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				h, ok := d.Load("stable")
				if !ok || h != stable {
					panic("stable key lost while the writer worked")
				}
				d.Load("slot:7")
			}
		}()
	}
	for i := range 20000 {
		h := NewHandle(fmt.Sprint("slot:", i%3000), nil)
		w.Store(h)
		if i%3 == 0 {
			w.CompareAndDelete(h)
		}
	}
	stop.Store(true)
	wg.Wait()
}
