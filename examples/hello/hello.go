// Package hello is the workflow that the examples run: Greet asks an
// activity to compose a greeting, "Hello Temporal!" for the name "Temporal".
// The worker, starter and quickstart programs, and the end-to-end tests, all
// share it.
package hello

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the task queue the examples' worker polls and the starter
// starts Greet on.
const TaskQueue = "temporalauth-hello"

// Name is the name the starter greets.
const Name = "Temporal"

// activityTimeout bounds one attempt of ComposeGreeting.
const activityTimeout = 10 * time.Second

// Greet is the workflow: it returns the greeting that ComposeGreeting makes
// for name, e.g. "Hello Temporal!".
func Greet(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: activityTimeout,
	})
	var greeting string
	if err := workflow.ExecuteActivity(ctx, ComposeGreeting, name).Get(ctx, &greeting); err != nil {
		return "", err
	}
	return greeting, nil
}

// ComposeGreeting is the activity: "Hello <name>!". An empty name is an
// error.
func ComposeGreeting(_ context.Context, name string) (string, error) {
	if name == "" {
		return "", errors.New("hello: empty name")
	}
	return "Hello " + name + "!", nil
}

// Register registers Greet and ComposeGreeting with w.
func Register(w worker.Registry) {
	w.RegisterWorkflow(Greet)
	w.RegisterActivity(ComposeGreeting)
}
