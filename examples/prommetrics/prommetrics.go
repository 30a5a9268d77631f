// Package prommetrics exports a Temporal client's metrics, temporalauth's
// token metrics among them, to Prometheus through tally: a
// client.MetricsHandler backed by a tally scope whose reporter is
// github.com/uber-go/tally/v4/prometheus, and the scrape handler.
//
//	exp, err := prommetrics.New(time.Second)
//	...
//	defer exp.Close()
//	go http.ListenAndServe("127.0.0.1:9090", exp.HTTPHandler()) // GET /metrics
//	opts, auth, err := temporalauth.LoadClientOptions(temporalauth.EnvOptions{MetricsHandler: exp.Handler()})
//
// go.temporal.io/sdk/contrib/tally.NewMetricsHandler is the SDK's own
// adapter from a tally scope; its module is not served by the module proxy
// this repository builds with, so Handler implements the same small
// interface here. With that module at hand, use it instead.
package prommetrics

import (
	"io"
	"net/http"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	"github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
)

// An Exporter holds a tally root scope that reports to its own Prometheus
// registry.
type Exporter struct {
	scope    tally.Scope
	closer   io.Closer
	reporter prometheus.Reporter
}

// New returns an Exporter that hands metrics to Prometheus every interval.
func New(interval time.Duration) (*Exporter, error) {
	reporter := prometheus.NewReporter(prometheus.Options{
		Registerer:       prom.NewRegistry(),
		DefaultTimerType: prometheus.HistogramTimerType,
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       prometheus.DefaultSeparator,
		SanitizeOptions: &prometheus.DefaultSanitizerOpts,
	}, interval)
	return &Exporter{scope: scope, closer: closer, reporter: reporter}, nil
}

// Handler returns the client.MetricsHandler to give the client
// (client.Options.MetricsHandler) and temporalauth
// (EnvOptions.MetricsHandler).
func (e *Exporter) Handler() client.MetricsHandler { return handler{e.scope} }

// HTTPHandler serves the Prometheus text format, for GET /metrics.
func (e *Exporter) HTTPHandler() http.Handler { return e.reporter.HTTPHandler() }

// Close reports what is pending and stops reporting.
func (e *Exporter) Close() error { return e.closer.Close() }

// handler adapts a tally scope to client.MetricsHandler.
type handler struct{ s tally.Scope }

func (h handler) WithTags(tags map[string]string) client.MetricsHandler {
	return handler{h.s.Tagged(tags)}
}
func (h handler) Counter(name string) client.MetricsCounter { return counter{h.s.Counter(name)} }
func (h handler) Gauge(name string) client.MetricsGauge     { return gauge{h.s.Gauge(name)} }
func (h handler) Timer(name string) client.MetricsTimer     { return timer{h.s.Timer(name)} }

type (
	counter struct{ c tally.Counter }
	gauge   struct{ g tally.Gauge }
	timer   struct{ t tally.Timer }
)

func (c counter) Inc(d int64)          { c.c.Inc(d) }
func (g gauge) Update(v float64)       { g.g.Update(v) }
func (t timer) Record(d time.Duration) { t.t.Record(d) }
