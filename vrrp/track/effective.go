package track

// Input is one thing an instance tracks, with its weight
// (keepalived.conf(5), track_script and track_interface): 0 puts the
// instance in Fault while the input is not Up; a positive weight is added
// to the priority while it is Up; a negative one is subtracted while it
// is Down.
type Input struct {
	Weight int
	Status Status
}

// Bounds of a weight (keepalived's -253..253: with a base of 1..254 every
// single weight can move the priority across the whole range).
const (
	MinWeight = -253
	MaxWeight = 253
)

// ownerPriority is the address owner's priority (RFC 5798 §5.2.4).
const ownerPriority = 255

// Effective is the priority and Fault an instance with the configured
// priority base gets from its inputs. The priority is clamped to 1..254:
// 0 would announce a stopping master and 255 the address owner (RFC 5798
// §5.2.4, §6.4.3), which no tracking may fake. An address owner keeps 255
// whatever the weights (keepalived ignores them there too); its weight-0
// inputs still put it in Fault.
func Effective(base uint8, inputs []Input) (prio uint8, fault bool) {
	sum := int(base)
	for _, in := range inputs {
		switch {
		case in.Weight == 0:
			fault = fault || in.Status != Up
		case in.Weight > 0 && in.Status == Up:
			sum += in.Weight
		case in.Weight < 0 && in.Status == Down:
			sum += in.Weight
		}
	}
	if base == ownerPriority {
		return base, fault
	}
	return uint8(min(max(sum, 1), ownerPriority-1)), fault
}
