package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// inlineBudget is how many messages a sender handles in place before the
// router's mailbox moves to a worker.
const inlineBudget = 4

// callerMailbox is the router's mailbox: a sender that finds the router
// idle handles its own message (and the few queued behind it) on its own
// goroutine, as slot actors do (see inline), instead of waking a worker.
// A cold miss then costs two goroutine switches (the loader's start and
// the caller's wake-up) instead of three. Unlike a slot actor, the router
// serves everyone, so a sender is never held for long: past inlineBudget
// messages, the rest of the queue goes to a worker, which runs it in
// batches of the dispatcher's throughput. Messages are still handled one
// at a time, in order, system messages first, and a suspended mailbox
// (the router restarting) holds user messages back, as protoactor's own
// mailbox does.
type callerMailbox struct {
	workers *Workers
	invoker actor.MessageInvoker

	mu        sync.Mutex
	sys, user fifo
	running   bool // someone is handling messages, or a worker is about to
	suspended bool
}

// callerMailboxProducer returns the mailbox producer of a router running
// its overflow on w.
func callerMailboxProducer(w *Workers) actor.MailboxProducer {
	return func() actor.Mailbox { return &callerMailbox{workers: w} }
}

// PostUserMessage implements actor.Mailbox.
func (m *callerMailbox) PostUserMessage(msg any) {
	m.mu.Lock()
	m.user.push(msg)
	m.claim()
}

// PostSystemMessage implements actor.Mailbox.
func (m *callerMailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.sys.push(msg)
	m.claim()
}

// claim, called with mu held, releases it and handles the queue in place
// if nobody else is handling it.
func (m *callerMailbox) claim() {
	if m.running {
		m.mu.Unlock()
		return
	}
	m.running = true
	m.mu.Unlock()
	m.run(inlineBudget)
}

// RegisterHandlers implements actor.Mailbox.
func (m *callerMailbox) RegisterHandlers(invoker actor.MessageInvoker, _ actor.Dispatcher) {
	m.invoker = invoker
}

// Start implements actor.Mailbox.
func (m *callerMailbox) Start() {}

// UserMessageCount implements actor.Mailbox.
func (m *callerMailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.user.len()
}

// run handles up to budget messages, then hands the rest to a worker; it
// returns when the queue is empty or handed over.
func (m *callerMailbox) run(budget int) {
	for {
		m.mu.Lock()
		var msg any
		sys := m.sys.len() > 0
		switch {
		case sys && budget > 0:
			msg = m.sys.pop()
		case !sys && !m.suspended && m.user.len() > 0 && budget > 0:
			msg = m.user.pop()
		case sys || (!m.suspended && m.user.len() > 0):
			m.mu.Unlock() // out of budget: running stays true for the worker
			m.workers.run(funcTask(m.overflow))
			return
		default:
			m.running = false
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		budget--
		m.invoke(msg, sys)
	}
}

// overflow is a worker's run of the queue.
func (m *callerMailbox) overflow() { m.run(m.workers.throughput) }

// invoke handles one message. A panic escalates to the supervisor, as in
// protoactor's mailbox, which suspends the mailbox while it restarts the
// actor.
func (m *callerMailbox) invoke(msg any, sys bool) {
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	if !sys {
		m.invoker.InvokeUserMessage(msg)
		return
	}
	switch msg.(type) {
	case *actor.SuspendMailbox:
		m.setSuspended(true)
	case *actor.ResumeMailbox:
		m.setSuspended(false)
	default:
		m.invoker.InvokeSystemMessage(msg)
	}
}

func (m *callerMailbox) setSuspended(s bool) {
	m.mu.Lock()
	m.suspended = s
	m.mu.Unlock()
}

// fifo is a queue of messages on a slice that is reused once drained, and
// compacted when a queue that never drains has consumed half of it.
type fifo struct {
	items []any
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(v any) { q.items = append(q.items, v) }

func (q *fifo) pop() any {
	v := q.items[q.head]
	q.items[q.head] = nil
	switch q.head++; {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && 2*q.head >= len(q.items):
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}
