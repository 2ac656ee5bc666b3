package actors

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
)

// restartAlways is the router's strategy for its slots: a failed slot is
// restarted, however often it fails. protoactor's default strategy stops a
// child after 10 failures in 10 s, which would leave a slot that a
// misbehaving loader keeps panicking dead; a restart is cheap and every
// state that matters survives it in the slot's handle.
type restartAlways struct {
	logger *slog.Logger
}

// HandleFailure implements actor.SupervisorStrategy.
func (s restartAlways) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, _ any) {
	s.logger.Debug("slotcache: restarting slot actor", "pid", child.Id, "reason", reason)
	sup.RestartChildren(child)
}
