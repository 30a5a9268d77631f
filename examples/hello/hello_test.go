package hello_test

import (
	"context"
	"testing"

	"go.temporal.io/sdk/testsuite"
	"go.uber.org/goleak"

	"github.com/temporalauth/temporalauth/examples/hello"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGreet(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(hello.ComposeGreeting)
	env.ExecuteWorkflow(hello.Greet, hello.Name)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var got string
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	if want := "Hello Temporal!"; got != want {
		t.Errorf("result = %q, want %q", got, want)
	}
}

func TestGreetEmptyNameFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterActivity(hello.ComposeGreeting)
	env.ExecuteWorkflow(hello.Greet, "")
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("workflow with an empty name succeeded, want an error")
	}
}

func TestComposeGreeting(t *testing.T) {
	tests := []struct {
		name    string
		want    string
		wantErr bool
	}{
		{name: "Temporal", want: "Hello Temporal!"},
		{name: "world", want: "Hello world!"},
		{name: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := hello.ComposeGreeting(context.Background(), tt.name)
		if (err != nil) != tt.wantErr {
			t.Errorf("ComposeGreeting(%q) error = %v, wantErr %v", tt.name, err, tt.wantErr)
		}
		if got != tt.want {
			t.Errorf("ComposeGreeting(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
