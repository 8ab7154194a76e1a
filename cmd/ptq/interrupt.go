package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// exitInterrupted is the exit status of a command stopped by SIGINT or
// SIGTERM, as a shell reports a process killed by SIGINT (128 + 2).
const exitInterrupted = 130

// notifyContext returns a context cancelled on SIGINT or SIGTERM; its
// cause names the signal. Until stop is called the signals no longer end
// the process: each phase sees the cancellation within one batch and the
// command returns, having written only whole files (atomicfile).
func notifyContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// interruptError is a command stopped by a signal during a phase.
type interruptError struct {
	phase string
	cause error // the context's cause: "interrupt signal received"
}

func (e *interruptError) Error() string {
	return fmt.Sprintf("interrupted (%v) during %s; stopped: files written before it are complete, no partial or temporary file is left", e.cause, e.phase)
}

// Unwrap returns the cause, which matches context.Canceled.
func (e *interruptError) Unwrap() error { return e.cause }

// interrupted returns err as an interruptError of phase when ctx was
// cancelled, and err unchanged otherwise.
func interrupted(ctx context.Context, phase string, err error) error {
	if err == nil || ctx == nil || ctx.Err() == nil {
		return err
	}
	var ie *interruptError
	if errors.As(err, &ie) {
		return err
	}
	return &interruptError{phase: phase, cause: context.Cause(ctx)}
}
