package actors

import (
	"context"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deadlineFlight returns a flight of r's engine listed in d with the given
// deadline.
func (r *rig) deadlineFlight(d *deadlines, deadline time.Time) *flight {
	f := &flight{env: r.env, deadlines: d, self: actor.NewPID("test", "nobody")}
	f.init(context.Background(), time.Hour)
	f.deadline = deadline
	d.add(f)
	return f
}

// Loads time out in the order of their deadlines, only once these have
// passed; a load that ended leaves the list and is never timed out.
func TestDeadlinesTimeOutOnlyDueLoads(t *testing.T) {
	r := newRig(t, 0)
	d := newDeadlines()
	defer d.stop()
	// Listed with deadlines ahead, so that the timer, armed by the first
	// add, cannot fire before ended ends; then due's deadline passes.
	soon := time.Now().Add(time.Hour)
	due := r.deadlineFlight(d, soon)
	ended := r.deadlineFlight(d, soon)
	later := r.deadlineFlight(d, soon.Add(time.Hour))
	ended.end()
	d.mu.Lock()
	due.deadline = time.Now().Add(-time.Second)
	d.mu.Unlock()

	d.fire()
	assert.ErrorIs(t, due.Err(), context.DeadlineExceeded, "a due load is timed out")
	assert.ErrorIs(t, ended.Err(), context.Canceled, "an ended load keeps its own end")
	assert.NoError(t, later.Err(), "a load before its deadline runs on")
	d.mu.Lock()
	assert.Same(t, later, d.head)
	assert.Same(t, later, d.tail)
	assert.False(t, d.armed.IsZero(), "the timer is armed for the next deadline")
	d.mu.Unlock()

	later.end()
	d.mu.Lock()
	assert.Nil(t, d.head)
	assert.Nil(t, d.tail)
	d.mu.Unlock()
}

// The timer itself fires: a load whose deadline passes is timed out with no
// one calling fire, even after earlier loads left the list early.
func TestDeadlinesTimerFires(t *testing.T) {
	r := newRig(t, 0)
	d := newDeadlines()
	defer d.stop()
	quick := r.deadlineFlight(d, time.Now().Add(time.Hour)) // arms the timer an hour ahead
	quick.end()
	d.mu.Lock()
	d.arm(time.Now()) // as if that hour had passed
	d.mu.Unlock()
	f := r.deadlineFlight(d, time.Now().Add(20*time.Millisecond))
	select {
	case <-f.Done():
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the load was never timed out")
	}
	assert.ErrorIs(t, f.Err(), context.DeadlineExceeded)
}
