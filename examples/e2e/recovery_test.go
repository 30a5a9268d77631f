package e2e

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/examples/hello"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// Provider.RetryUnauthorized against the real server:
//
//   - The signing key is rotated and the old key withdrawn from the JWKS at
//     once, under a client holding a token of the old key. Once the server
//     has refetched the JWKS it refuses that token; the next call succeeds
//     anyway, with one refused attempt and one new token, the caller doing
//     nothing.
//   - A client whose token lacks the permission gets PermissionDenied after
//     exactly one retry (one new token), and a second call right after is not
//     retried at all: no loop, no token storm.
func TestRecoveryRetryUnauthorized(t *testing.T) {
	t.Parallel()
	const refresh = time.Second
	s := startLocalServer(t, refresh)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	startWorkflow := func(c client.Client) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: hello.TaskQueue}, hello.Greet, hello.Name)
		return err
	}
	describe := func(c client.Client) error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		return err
	}

	// A writer with a token of the current key, in use.
	var writerTokens refreshCounter
	var writerCalls callCounter
	writer := provider(t, s.keyFile, []string{"default:write"}, func(_ *jwtkey.Config, o *headers.Options) {
		o.OnRefresh = writerTokens.onRefresh
	})
	wc := mustDial(t, s.HostPort(), writer, writer.RetryUnauthorized(), writerCalls.dialOption())
	if err := describe(wc); err != nil {
		t.Fatalf("writer before the rotation: %v", err)
	}
	oldToken, err := writer.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A reader with its own published key; its token is fetched now so that
	// it is old enough to be dropped when the server refuses it.
	readerKey, _ := s.auth.newKeyFile(t, true)
	var readerTokens refreshCounter
	var readerCalls callCounter
	reader := provider(t, readerKey, []string{"default:read"}, func(_ *jwtkey.Config, o *headers.Options) {
		o.OnRefresh = readerTokens.onRefresh
	})
	if _, err := reader.Token(ctx); err != nil {
		t.Fatal(err)
	}

	// Rotate the writer's key file and withdraw the old key at once.
	nextKey, nextJWK := newKey(t)
	if err := s.auth.keys.Add(nextJWK); err != nil {
		t.Fatal(err)
	}
	if !s.auth.keys.Remove(s.keyJWK.KeyID) {
		t.Fatal("old key was not in the JWKS")
	}
	if err := jwtkey.WritePrivateKeyFile(s.keyFile, nextKey); err != nil {
		t.Fatal(err)
	}
	// Wait for the server to refetch the JWKS (a refresh interval and the
	// fetch) and for the cached tokens to be older than MinRejectInterval,
	// so that a refusal drops them.
	time.Sleep(max(headers.MinRejectInterval, 2*refresh) + time.Second)

	// The server now refuses the writer's cached token.
	_, err = dial(t, s.HostPort(), bearer(oldToken.Value()))
	wantPermissionDenied(t, "dial with the withdrawn key's token", err)

	t.Run("withdrawn key", func(t *testing.T) {
		calls, denied, tokens := writerCalls.calls.Load(), writerCalls.denied.Load(), writerTokens.ok.Load()
		if err := startWorkflow(wc); err != nil {
			t.Fatalf("start workflow after the key was withdrawn: %v", err)
		}
		if got := writerCalls.denied.Load() - denied; got != 1 {
			t.Errorf("%d attempts refused, want 1 (the old token)", got)
		}
		if got := writerCalls.calls.Load() - calls; got != 2 {
			t.Errorf("%d attempts, want 2 (refused, then retried)", got)
		}
		if got := writerTokens.ok.Load() - tokens; got != 1 {
			t.Errorf("%d new tokens, want 1", got)
		}
		tok, err := writer.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if kid := tokenKID(t, tok.Value()); kid != nextJWK.KeyID {
			t.Errorf("token kid %s after recovery, want the new key's %s", kid, nextJWK.KeyID)
		}
		// Later calls go through at once.
		denied = writerCalls.denied.Load()
		if err := describe(wc); err != nil {
			t.Fatalf("describe after recovery: %v", err)
		}
		if err := startWorkflow(wc); err != nil {
			t.Fatalf("second start after recovery: %v", err)
		}
		if got := writerCalls.denied.Load() - denied; got != 0 {
			t.Errorf("%d attempts refused after recovery, want 0", got)
		}
	})

	t.Run("missing permission", func(t *testing.T) {
		rc := mustDial(t, s.HostPort(), reader, reader.RetryUnauthorized(), readerCalls.dialOption())
		if err := describe(rc); err != nil {
			t.Fatalf("reader describing the namespace: %v", err)
		}
		calls, tokens := readerCalls.calls.Load(), readerTokens.ok.Load()
		wantPermissionDenied(t, "read token starting a workflow", startWorkflow(rc))
		if got := readerCalls.calls.Load() - calls; got != 2 {
			t.Errorf("%d attempts, want 2 (one retry)", got)
		}
		if got := readerTokens.ok.Load() - tokens; got > 1 {
			t.Errorf("%d new tokens, want at most 1", got)
		}

		// The new token is young: the next refusal is not retried.
		calls, tokens = readerCalls.calls.Load(), readerTokens.ok.Load()
		wantPermissionDenied(t, "second start with the read token", startWorkflow(rc))
		if got := readerCalls.calls.Load() - calls; got != 1 {
			t.Errorf("%d attempts, want 1 (no retry with a young token)", got)
		}
		if got := readerTokens.ok.Load() - tokens; got != 0 {
			t.Errorf("%d new tokens, want 0", got)
		}
	})
}
