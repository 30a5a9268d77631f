package headers

// logRefresh logs a refresh: a warning for a failure, an Info record for
// a token not served before (and one more when its kid changed), a Debug
// record when the source returned the same token.
func (p *Provider) logRefresh(out outcome) {
	ev := out.ev
	switch {
	case ev.Err != nil:
		p.log.Warn("temporalauth: token refresh failed", "source", p.name,
			"time_left", ev.TimeLeft, "retry_in", ev.RetryIn, "error", ev.Err)
	case out.newTok != nil:
		attrs := []any{"source", p.name}
		for _, a := range [][2]string{{"kid", out.newTok.KeyID}, {"iss", out.newTok.Issuer}, {"sub", out.newTok.Subject}} {
			if a[1] != "" {
				attrs = append(attrs, a[0], a[1])
			}
		}
		expiry := any("never")
		if !ev.Expiry.IsZero() {
			expiry = ev.Expiry.UTC()
		}
		p.log.Info("temporalauth: new token", append(attrs, "expiry", expiry, "took", ev.Took)...)
		if out.oldKid != "" {
			p.log.Info("temporalauth: signing key changed", "source", p.name, "old_kid", out.oldKid, "new_kid", out.newTok.KeyID)
		}
	default:
		p.log.Debug("temporalauth: token refreshed; the source returned the same token", "source", p.name,
			"time_left", ev.TimeLeft, "took", ev.Took)
	}
}
