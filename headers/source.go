package headers

// Source returns the TokenSource p caches, so that a caller can describe
// it (a source from this module's packages is a slog.LogValuer that shows
// no secret) or reach its own methods.
func (p *Provider) Source() TokenSource { return p.src }
