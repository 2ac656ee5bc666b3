package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// routerBudget is how many messages a sender handles in the router's
// mailbox before the rest moves to a worker.
const routerBudget = 4

// overflowBatch is how many router messages a worker handles per run
// (protoactor's default throughput) before it queues the rest again, so
// that loads waiting for a worker are not held behind a long queue.
const overflowBatch = 300

// callerMailbox runs an actor's messages on the goroutine of whoever sent
// one while the actor was idle, instead of handing them to another
// goroutine. The mailbox still runs one message at a time: a sender that
// finds it running only queues its message, and the running goroutine
// handles it. Messages are handled in order, system messages first, and a
// suspended mailbox (the actor restarting) holds user messages back, as
// protoactor's own mailbox does. Senders must not hold a lock that the
// actor's handling may take (see idleQueue.tickDue), and must not be a
// goroutine that the handling may wait for: the router's Stopping waits
// for its background goroutine, which therefore has workers send for it
// (see router.startSweeping).
//
// Slot actors run in place without limit (slotMailbox): a slot actor
// never blocks (loads run on workers) and never sends to itself through
// another actor, and its queue is its own slot's requests, so a miss costs
// two goroutine switches (the loader's start and the caller's wake-up).
//
// The router runs in place too (routerMailbox), so that a cold miss costs
// those two switches and not a third to a router goroutine; but the router
// serves everyone, so a sender is never held for long by others'
// messages: past routerBudget, the rest of the queue goes to a worker,
// which runs it in batches of overflowBatch.
//
// Against protoactor's default mailbox with an inline dispatcher, it
// saves the closure that mailbox allocates for every run (four per cold
// miss) and its two lock-free queues' bookkeeping, for one uncontended
// lock.
type callerMailbox struct {
	budget  int      // messages a sender handles; 0: no limit
	workers *Workers // runs the rest past the budget
	invoker actor.MessageInvoker

	mu        sync.Mutex
	sys, user fifo
	running   bool // someone is handling messages, or a worker is about to
	suspended bool
}

// slotMailbox is the mailbox producer of slot actors.
func slotMailbox() actor.Mailbox { return &callerMailbox{} }

// routerMailbox returns the mailbox producer of a router running its
// overflow on w.
func routerMailbox(w *Workers) actor.MailboxProducer {
	return func() actor.Mailbox { return &callerMailbox{budget: routerBudget, workers: w} }
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
	m.run(m.budget)
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

// run handles up to budget messages (no limit if 0), then hands the rest
// to a worker; it returns when the queue is empty or handed over.
func (m *callerMailbox) run(budget int) {
	if budget == 0 {
		budget = -1 // never reaches 0
	}
	for {
		m.mu.Lock()
		var msg any
		sys := m.sys.len() > 0
		switch {
		case sys && budget != 0:
			msg = m.sys.pop()
		case !sys && !m.suspended && m.user.len() > 0 && budget != 0:
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
func (m *callerMailbox) overflow() { m.run(overflowBatch) }

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
