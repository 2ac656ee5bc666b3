package slotcache

import (
	"sync"

	"github.com/slotcache/slotcache/messages"
)

// call is what one miss sends and waits on: its Get, the Route that
// carries the Get to the router when the slot has no actor, and the reply
// channel. A miss allocated all four (the channel twice); a pooled call
// costs none, a tenth of a reload's time.
//
// A call goes back to the pool only once its answer was received: an
// actor answers a request once and touches it no more, and the router
// reads the Route only before it forwards the Get. A caller that gives up
// (its ctx ended, Close) leaves its call to the garbage collector, since
// the answer may still come.
type call struct {
	get   messages.Get
	route messages.Route
	reply chan messages.Result
}

var calls = sync.Pool{New: func() any {
	c := &call{reply: make(chan messages.Result, 1)}
	c.get.Reply = c.reply
	return c
}}

// done returns c, answered, to the pool, holding nothing of its caller.
func (c *call) done() {
	c.get.Ctx, c.get.Load = nil, nil
	c.route = messages.Route{}
	calls.Put(c)
}
