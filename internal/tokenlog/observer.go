package tokenlog

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/temporalauth/temporalauth/headers"
)

// A TokenReader returns the token a provider serves: *headers.Provider.
type TokenReader interface {
	Token(ctx context.Context) (headers.Token, error)
}

// An Observer logs, from a provider's refresh events, each new token (kid,
// issuer, subject, expiry) and each change of kid, as Source does, for a
// provider whose source cannot be wrapped. Set OnRefresh as
// headers.Options.OnRefresh, then SetProvider with the provider built.
type Observer struct {
	name string
	log  *slog.Logger
	p    atomic.Pointer[TokenReader]

	mu  sync.Mutex
	src *source // keeps the last token and kid; its src is unused
}

// NewObserver returns an Observer whose records name the source name.
func NewObserver(name string, log *slog.Logger) *Observer {
	if log == nil {
		log = slog.Default()
	}
	return &Observer{name: name, log: log, src: &source{name: name, log: log}}
}

// SetProvider gives the Observer the provider whose tokens it logs.
func (o *Observer) SetProvider(p TokenReader) { o.p.Store(&p) }

// OnRefresh logs the token a successful refresh installed, if it is new.
// The provider serves it at once, without calling its source again.
func (o *Observer) OnRefresh(ev headers.RefreshEvent) {
	pp := o.p.Load()
	if ev.Err != nil || pp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	tok, err := (*pp).Token(ctx)
	if err != nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.src.src = headers.TokenSourceFunc(func(context.Context) (headers.Token, error) { return tok, nil })
	_, _ = o.src.Token(ctx)
}
