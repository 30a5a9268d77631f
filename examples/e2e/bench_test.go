package e2e

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/temporalauth/temporalauth/examples/devserver"
	"github.com/temporalauth/temporalauth/headers"
	"github.com/temporalauth/temporalauth/jwtkey"
)

// BenchmarkE2E measures what a headers.Provider costs a Temporal client on
// the real server, against the least any HeadersProvider can do: a fixed
// header map.
//
//   - impl "ours" is what temporalauth.LoadClientOptions configures: a
//     jwtkey.NewProvider and its RetryUnauthorized dial option.
//   - impl "fixed" returns one map holding a token signed once, good for an
//     hour, with no interceptor.
//
// Both sign with the same key and claims, so their tokens have the same
// size and the server does the same work for each call (verify an ES256
// signature, map the claims, authorize). Each impl has its own client and
// its own worker polling a task queue of its own.
//
// Every iteration measures both impls, alternating which goes first, so
// drift in the server's state and in the machine's load falls on both
// alike; ratios come from the same iterations. Sub-benchmarks:
//
//   - op=rpc: one DescribeNamespace call per impl, serially: call latency.
//   - op=rpc-parallel: per impl, a burst of rpcGoroutines goroutines making
//     rpcsPerGoroutine DescribeNamespace calls each: call throughput.
//   - op=workflow: one hello.Greet per impl, started and waited for:
//     start-to-result latency.
//
// Metrics, for benchstat: fixed-… and ours-… for each impl (latency
// medians and 99th percentiles, or calls per second), and ours/fixed, the
// ratio of ours' median latency (op=rpc-parallel: its burst time) to
// fixed's; BENCHMARKS.md's goal is ours/fixed ≤ 1.05. ns/op is the time of
// one iteration, both impls together.
//
//	go test -run '^$' -bench E2E -benchtime 400x -count 8 ./e2e/
func BenchmarkE2E(b *testing.B) {
	// The rate limit goes up so that op=rpc-parallel measures the server,
	// not its limiter (2400 calls a second by default).
	s := startLocalServerConfig(b, devserver.Config{MaxRPS: 1_000_000})
	perms := []string{"default:write"}
	const subject = "e2e-bench"

	signer, err := jwtkey.NewTokenSource(jwtkey.Config{KeyFile: s.keyFile, Subject: subject,
		Permissions: perms, Expiration: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := signer.Token(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	fixed := fixedHeaders{"authorization": "Bearer " + tok.Value()}
	ours := provider(b, s.keyFile, perms, func(cfg *jwtkey.Config, _ *headers.Options) { cfg.Subject = subject })

	impls := [2]*benchClient{
		{name: "fixed", queue: "bench-fixed"},
		{name: "ours", queue: "bench-ours"},
	}
	impls[0].c = mustDial(b, s.HostPort(), fixed)
	runWorkerOn(b, impls[0].queue, s.HostPort(), fixed)
	impls[1].c = mustDial(b, s.HostPort(), ours, ours.RetryUnauthorized())
	runWorkerOn(b, impls[1].queue, s.HostPort(), ours, ours.RetryUnauthorized())

	b.Run("op=rpc", func(b *testing.B) {
		benchPairs(b, impls, 20, (*benchClient).describeNamespace)
		reportLatency(b, impls, 1e3, "us/call")
	})
	b.Run("op=rpc-parallel", func(b *testing.B) {
		benchPairs(b, impls, 2, (*benchClient).describeNamespaceBurst)
		var took [2]time.Duration
		for i, impl := range impls {
			for _, d := range impl.took {
				took[i] += d
			}
			calls := float64(len(impl.took) * rpcGoroutines * rpcsPerGoroutine)
			b.ReportMetric(calls/took[i].Seconds(), impl.name+"-calls/s")
		}
		b.ReportMetric(float64(took[1])/float64(took[0]), "ours/fixed")
	})
	b.Run("op=workflow", func(b *testing.B) {
		benchPairs(b, impls, 4, (*benchClient).runWorkflow)
		reportLatency(b, impls, 1e6, "ms/wf")
	})
	if ours.Stats().Refreshes == 0 {
		b.Fatal("the provider never fetched a token: impl=ours did not use it")
	}
}

// fixedHeaders is the baseline HeadersProvider: one map, returned as is.
type fixedHeaders map[string]string

func (h fixedHeaders) GetHeaders(context.Context) (map[string]string, error) { return h, nil }

// benchClient is one impl of BenchmarkE2E: its client, its worker's task
// queue and the times its operations took in the current sub-benchmark.
type benchClient struct {
	name  string
	queue string
	c     client.Client
	took  []time.Duration
}

const (
	rpcGoroutines    = 8
	rpcsPerGoroutine = 25
)

func (bc *benchClient) describeNamespace(ctx context.Context) error {
	_, err := bc.c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
	return err
}

func (bc *benchClient) describeNamespaceBurst(ctx context.Context) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range rpcGoroutines {
		wg.Go(func() {
			for range rpcsPerGoroutine {
				if err := bc.describeNamespace(ctx); err != nil {
					mu.Lock()
					first = cmp.Or(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func (bc *benchClient) runWorkflow(ctx context.Context) error {
	return runWorkflowOn(ctx, bc.c, bc.queue)
}

// benchPairs runs op once per impl in each of b.N iterations, the impls'
// order alternating, after warmup untimed iterations, and records each
// op's duration in its impl's took.
func benchPairs(b *testing.B, impls [2]*benchClient, warmup int, op func(*benchClient, context.Context) error) {
	timed := func(bc *benchClient) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), workflowTimeout)
		defer cancel()
		start := time.Now()
		err := op(bc, ctx)
		took := time.Since(start)
		if err != nil {
			b.Fatalf("impl=%s: %v", bc.name, err)
		}
		return took
	}
	for i := range warmup {
		timed(impls[i%2])
		timed(impls[1-i%2])
	}
	for _, bc := range impls {
		bc.took = bc.took[:0]
	}
	for i := 0; b.Loop(); i++ { // b.Loop starts the timer on its first call
		first, second := impls[i%2], impls[1-i%2]
		first.took = append(first.took, timed(first))
		second.took = append(second.took, timed(second))
	}
}

// reportLatency reports each impl's median and 99th percentile of took, in
// units of scale nanoseconds, and the ratio of ours' median to fixed's.
func reportLatency(b *testing.B, impls [2]*benchClient, scale float64, unit string) {
	var p50 [2]time.Duration
	for i, bc := range impls {
		slices.Sort(bc.took)
		p50[i] = percentile(bc.took, 0.50)
		b.ReportMetric(float64(p50[i])/scale, bc.name+"-p50-"+unit)
		b.ReportMetric(float64(percentile(bc.took, 0.99))/scale, bc.name+"-p99-"+unit)
	}
	b.ReportMetric(float64(p50[1])/float64(p50[0]), "ours/fixed")
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
