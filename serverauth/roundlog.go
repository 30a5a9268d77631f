package serverauth

import (
	"slices"

	"go.temporal.io/server/common/log/tag"
	"go.temporal.io/server/common/metrics"
)

// logSources logs and counts each source's outcome in a round: failures
// (their last good keys stay), keys dropped for age, keys skipped and
// sources that answered without a usable key.
func (p *KeyProvider) logSources(results []fetchResult, failures []sourceFailure, aged []agedOut) {
	for _, f := range failures {
		p.logger.Warn("JWT key source failed; its last good keys stay in use",
			tag.NewStringTag("source", f.src.name), tag.Error(f.err), tag.NewInt("kept-keys", f.kept),
			tag.NewInt64("failures", f.src.failures), tag.NewTimeTag("last-success", f.src.lastSuccess))
		p.count(metricSourceFetches, metrics.Tag{Key: "outcome", Value: "failure"})
	}
	p.logAged(aged)
	for i, res := range results {
		if res.err != nil {
			continue
		}
		p.count(metricSourceFetches, metrics.Tag{Key: "outcome", Value: "success"})
		for _, sk := range res.skipped {
			p.logger.Info("JWT key skipped: it cannot verify RS256 or ES256 tokens",
				tag.NewStringTag("source", p.sources[i].name), tag.NewStringTag("kid", truncate(sk.kid, maxKidInLogs)),
				tag.NewStringTag("reason", sk.reason))
		}
		if len(res.keys) == 0 {
			p.logger.Warn("JWT key source answered with no usable key", tag.NewStringTag("source", p.sources[i].name))
		}
	}
}

// logRound logs the keys a round published and what changed since the
// last one, and records the number of keys held.
func (p *KeyProvider) logRound(r *round, sum roundSummary, failedSources int) {
	for _, c := range sum.conflicts {
		p.logger.Warn("JWT key ID published by two sources with different keys; the first source's key is used",
			tag.NewStringTag("kid", truncate(c, maxKidInLogs)))
	}
	if p.metrics != nil {
		metricKeys.With(p.metrics).Record(float64(len(sum.merged)))
	}
	added, removed := keyChanges(sum.old, sum.merged)
	tags := []tag.Tag{
		tag.NewStringTag("reason", r.reason), tag.NewInt("keys", len(sum.merged)),
		tag.NewStringsTag("added", added), tag.NewStringsTag("removed", removed),
		tag.NewInt("failed-sources", failedSources),
	}
	if r.kid != "" {
		_, found := sum.merged[r.kid]
		tags = append(tags, tag.NewStringTag("kid", truncate(r.kid, maxKidInLogs)), tag.NewBoolTag("kid-found", found),
			tag.NewTimeTag("next-refetch-at", sum.nextRefetch))
	}
	if sum.waited > 0 || sum.refused > 0 {
		tags = append(tags, tag.NewInt("unknown-key-ids-since-last-fetch", sum.waited),
			tag.NewInt("refused-without-refetch", sum.refused))
	}
	if sum.issRefused > 0 {
		tags = append(tags, tag.NewInt("issuer-refusals-since-last-fetch", sum.issRefused))
	}
	p.logger.Info("JWT keys fetched", tags...)
}

// keyChanges returns the key IDs added and removed between two key sets,
// sorted and shortened for logs.
func keyChanges(old, merged map[string]heldKey) (added, removed []string) {
	for kid := range merged {
		if _, ok := old[kid]; !ok {
			added = append(added, truncate(kid, maxKidInLogs))
		}
	}
	for kid := range old {
		if _, ok := merged[kid]; !ok {
			removed = append(removed, truncate(kid, maxKidInLogs))
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed
}

func (p *KeyProvider) count(def counterDef, tags ...metrics.Tag) {
	if p.metrics != nil {
		def.With(p.metrics).Record(1, tags...)
	}
}
