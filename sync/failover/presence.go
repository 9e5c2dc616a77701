package failover

import "time"

// vrrpView is what the VRRP path says about the partner.
type vrrpView uint8

const (
	vrrpUnknown vrrpView = iota // nothing observed: counts as "not silent"
	vrrpHeard
	vrrpSilent
)

// Presence is the one place that decides whether the partner is gone on
// both paths: no sync link, and silence on the LAN, which one of two
// witnesses must show. It is fed what each path observed, with the local
// time it happened, and asked at now. A partition of one path alone never
// makes it report the partner gone: the other path keeps it present.
//
// The VRRP path is one-sided: a Backup hears the Master's adverts, a
// Master hears nothing (backups are silent, RFC 5798 §6.4.3). So VRRP
// silence is only ever concluded when this node, as Backup, became Master
// through its Master_Down_Timer without any advert for the silence window
// (MasterDown). A Master that loses the sync link learns nothing from
// VRRP; its witness is the LAN probe (LANProbe): the agent asks, on the
// served links, for the partner's own addresses by ARP while the link is
// down. A partner that answers is alive, whatever the sync cable says; a
// probe that went out on a link with carrier and got no answer from any
// of the partner's addresses is silence. The machine feeds the probes only
// while this node is VRRP master (its LAN link works: it advertises on it).
// An answered probe does not veto the Backup's VRRP silence (a partner
// whose hadhcpd died still answers ARP from its kernel, and answers no
// client); it only ever adds a way to be heard for a Master.
//
// The zero Presence knows nothing: link down, VRRP unknown. It is not safe
// for concurrent use; the machine owns it.
type Presence struct {
	vrrp       vrrpView
	lastAdvert time.Time // the partner's latest advert
	silentAt   time.Time // when VRRP went silent (vrrp == vrrpSilent)
	linkUp     bool
	linkDownAt time.Time // when the link last went down; zero while up or never up
	lan        vrrpView  // the LAN probes since the link went down
	lanSilent  time.Time // the first unanswered probe (lan == vrrpSilent)
}

// LANProbe records a probe of the partner's own addresses on the served
// links at at: answered when any of them answered (the partner is alive
// on the LAN), else none did although the probe went out on a link with
// carrier. An answer makes the partner heard until the next unanswered
// probe; the silence counts from the first unanswered probe after an
// answer (or after the link went down).
//
// An unanswered probe also ends an older "heard" of the VRRP path: a
// Master keeps that from adverts received long ago (the partner's brief
// mastership at a start), which says nothing about now; an advert after
// the probe makes the partner heard again.
func (p *Presence) LANProbe(at time.Time, answered bool) {
	switch {
	case answered:
		p.lan = vrrpHeard
	case p.lan != vrrpSilent:
		p.lan, p.lanSilent = vrrpSilent, at
	}
	if !answered && p.vrrp == vrrpHeard && p.lastAdvert.Before(at) {
		p.vrrp = vrrpUnknown
	}
}

// LANHeard reports whether the last LAN probe was answered.
func (p *Presence) LANHeard() bool { return p.lan == vrrpHeard }

// Advert records an advertisement from the partner at at. It reports
// whether the partner was not heard on the VRRP path before (its adverts
// are back, or the first one arrived).
func (p *Presence) Advert(at time.Time) (resumed bool) {
	if at.After(p.lastAdvert) {
		p.lastAdvert = at
	}
	resumed = p.vrrp != vrrpHeard
	p.vrrp = vrrpHeard
	if p.lan == vrrpSilent {
		p.lan = vrrpUnknown // an advert is an answer on the LAN
	}
	return resumed
}

// MasterDown records that this node became VRRP Master at at because its
// Master_Down_Timer fired (RFC 5798 §6.4.2). That is the partner's
// silence only if no advert arrived within window before at (3 x
// Advertisement_Interval, Master_Down_Interval without Skew_Time): a
// Backup with preempt also gets there by discarding a lower-priority
// Master's adverts and letting the timer fire (§6.4.2), which says
// nothing about the partner. silent reports the conclusion; wasHeard
// whether the partner's adverts had been heard before they stopped (at a
// cold start both boxes time out before either advertised).
//
// With the sync link up and no advert heard since, the timeout says
// nothing either: at a cold start both boxes time out while the link is
// already up, and the partner, a Backup, never advertises (RFC 5798
// §6.4.3); counting that as silence would let a later cut of the sync
// cable alone reach PARTNER-DOWN with the partner alive and answering ARP
// (invariant 1). The link proves it alive, as LinkUp says.
func (p *Presence) MasterDown(at time.Time, window time.Duration) (silent, wasHeard bool) {
	if !p.lastAdvert.IsZero() && at.Sub(p.lastAdvert) < window {
		return false, false
	}
	wasHeard = p.vrrp == vrrpHeard
	if p.linkUp && !wasHeard {
		return false, false
	}
	p.vrrp, p.silentAt = vrrpSilent, at
	return true, wasHeard
}

// LinkUp records that the sync link came up at at. The partner is then
// evidently alive, so an earlier VRRP silence is stale: as Master this
// node would not see its adverts return.
func (p *Presence) LinkUp(time.Time) {
	p.linkUp, p.linkDownAt = true, time.Time{}
	if p.vrrp == vrrpSilent {
		p.vrrp = vrrpUnknown
	}
	p.lan = vrrpUnknown // probes count only while the link is down
}

// LinkDown records that the sync link went down at at.
func (p *Presence) LinkDown(at time.Time) {
	if !p.linkUp {
		return
	}
	p.linkUp, p.linkDownAt = false, at
}

// LinkIsUp reports whether the sync link is up.
func (p *Presence) LinkIsUp() bool { return p.linkUp }

// AdvertsHeard reports whether the partner's adverts are heard (since the
// last silence).
func (p *Presence) AdvertsHeard() bool { return p.vrrp == vrrpHeard }

// LinkDownSince is when the sync link went down; zero while it is up or
// if it never was.
func (p *Presence) LinkDownSince() time.Time { return p.linkDownAt }

// SilentSince reports whether the partner is silent on both paths and
// since when: the link is down, and its adverts were found stopped or
// (the Master's witness) the LAN probes go unanswered; since the latest
// of the moments each of those began (a link never up counts as down
// from the start).
func (p *Presence) SilentSince() (time.Time, bool) {
	if p.linkUp {
		return time.Time{}, false
	}
	var since time.Time
	switch {
	case p.vrrp == vrrpSilent:
		since = p.silentAt
	case p.lan == vrrpSilent && p.vrrp != vrrpHeard:
		since = p.lanSilent
	default:
		return time.Time{}, false
	}
	if p.lan == vrrpSilent && p.lanSilent.After(since) {
		since = p.lanSilent
	}
	if p.linkDownAt.After(since) {
		since = p.linkDownAt
	}
	return since, true
}

// Gone reports whether the partner has been silent on both paths for
// after at now (auto_partner_down). after <= 0 never: only the operator
// declares the partner down then.
func (p *Presence) Gone(now time.Time, after time.Duration) bool {
	due, ok := p.GoneAt(after)
	return ok && !now.Before(due)
}

// GoneAt is when the partner will count as gone if neither path hears it
// meanwhile; false when that is not armed (a path hears it, or after <= 0).
func (p *Presence) GoneAt(after time.Duration) (time.Time, bool) {
	since, ok := p.SilentSince()
	if !ok || after <= 0 {
		return time.Time{}, false
	}
	return since.Add(after), true
}
