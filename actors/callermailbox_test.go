package actors

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingInvoker records what a mailbox hands it; onUser, if set, runs
// for each user message.
type recordingInvoker struct {
	mu        sync.Mutex
	handled   []any
	escalated []any
	onUser    func(msg any)
}

func (r *recordingInvoker) InvokeSystemMessage(msg any) { r.record(msg) }
func (r *recordingInvoker) InvokeUserMessage(msg any) {
	r.record(msg)
	if r.onUser != nil {
		r.onUser(msg)
	}
}
func (r *recordingInvoker) EscalateFailure(_ any, msg any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.escalated = append(r.escalated, msg)
}
func (r *recordingInvoker) record(msg any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handled = append(r.handled, msg)
}
func (r *recordingInvoker) seen() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.handled...)
}

func newCallerMailbox(t *testing.T, inv actor.MessageInvoker) *callerMailbox {
	w := NewWorkers()
	t.Cleanup(func() { w.Stop(context.Background()) })
	m := routerMailbox(w)().(*callerMailbox)
	m.RegisterHandlers(inv, nil)
	return m
}

// A sender that finds the router idle handles its message itself, before
// its send returns: no worker, no goroutine switch.
func TestCallerMailboxHandlesInPlace(t *testing.T) {
	inv := &recordingInvoker{}
	m := newCallerMailbox(t, inv)
	m.PostUserMessage(1)
	assert.Equal(t, []any{1}, inv.seen())
	m.PostSystemMessage("sys")
	assert.Equal(t, []any{1, "sys"}, inv.seen())
}

// A slot's mailbox has no budget: the sender handles everything queued
// meanwhile, in order, before its send returns, as an inline dispatcher did.
func TestSlotMailboxHandlesEverythingInPlace(t *testing.T) {
	inv := &recordingInvoker{}
	m := slotMailbox().(*callerMailbox)
	m.RegisterHandlers(inv, nil)
	const n = 20
	inv.onUser = func(msg any) {
		if msg == 0 {
			for i := 1; i < n; i++ {
				m.PostUserMessage(i)
			}
		}
	}
	m.PostUserMessage(0)
	seen := inv.seen()
	require.Len(t, seen, n)
	for i, msg := range seen {
		assert.Equal(t, i, msg)
	}
}

// A sender is held for at most routerBudget messages: what others queue
// meanwhile goes to a worker, in order.
func TestCallerMailboxHandsTheRestToAWorker(t *testing.T) {
	inv := &recordingInvoker{}
	m := newCallerMailbox(t, inv)
	const n = 20
	release := make(chan struct{})
	inv.onUser = func(msg any) {
		switch msg {
		case 0: // while the first is handled, others arrive
			for i := 1; i < n; i++ {
				m.PostUserMessage(i)
			}
		case routerBudget: // past the budget: held until the sender is back
			<-release
		}
	}
	sent := make(chan struct{})
	go func() {
		m.PostUserMessage(0)
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(10 * time.Second):
		close(release)
		require.FailNow(t, "the sender handled past its budget")
	}
	close(release)
	require.Eventually(t, func() bool { return len(inv.seen()) == n }, 10*time.Second, time.Millisecond)
	for i, msg := range inv.seen() {
		assert.Equal(t, i, msg, "in order")
	}
}

// While suspended (the actor restarting), user messages wait and system
// messages go on; a panic is escalated and the mailbox goes on.
func TestCallerMailboxSuspendAndPanic(t *testing.T) {
	inv := &recordingInvoker{}
	m := newCallerMailbox(t, inv)
	inv.onUser = func(msg any) {
		if msg == "boom" {
			panic("boom")
		}
	}
	m.PostUserMessage("boom")
	assert.Equal(t, []any{"boom"}, inv.escalated)

	m.PostSystemMessage(&actor.SuspendMailbox{})
	m.PostUserMessage("held")
	m.PostSystemMessage("sys")
	assert.Equal(t, []any{"boom", "sys"}, inv.seen(), "the user message waits")
	assert.Equal(t, 1, m.UserMessageCount())
	m.PostSystemMessage(&actor.ResumeMailbox{})
	assert.Equal(t, []any{"boom", "sys", "held"}, inv.seen())
}

// A queue that never drains is compacted instead of growing without end.
func TestFifoCompacts(t *testing.T) {
	var q fifo
	for i := range 3000 {
		q.push(i)
		q.push(i)
		assert.Equal(t, i/2, q.pop(), "first in, first out")
	}
	assert.Equal(t, 3000, q.len())
	assert.Less(t, cap(q.items), 6000, "consumed items were dropped")
}
