package track

import "sync"

// Tracked is the inputs of one instance. Set may be called from any
// goroutine (each check's, the link watcher); every change recomputes
// Effective and hands it to apply, in the order of the changes.
type Tracked struct {
	base  uint8
	apply func(prio uint8, fault bool)

	mu     sync.Mutex // guards inputs and serialises apply
	inputs []Input
}

// NewTracked returns the tracker of an instance with priority base and
// inputs in their initial state. apply gets the effective priority and
// Fault; it runs under Tracked's lock, so it must not block and must not
// call back into Tracked (vrrp.Instance's setters store and poke). It is
// not called here: call Apply once the instance can take it.
func NewTracked(base uint8, inputs []Input, apply func(prio uint8, fault bool)) *Tracked {
	return &Tracked{base: base, apply: apply, inputs: append([]Input(nil), inputs...)}
}

// Apply hands the current result to apply.
func (t *Tracked) Apply() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.apply(Effective(t.base, t.inputs))
}

// Set records input i's status and applies the result.
func (t *Tracked) Set(i int, s Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inputs[i].Status = s
	t.apply(Effective(t.base, t.inputs))
}

// Effective is the current result.
func (t *Tracked) Effective() (prio uint8, fault bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Effective(t.base, t.inputs)
}
