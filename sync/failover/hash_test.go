package failover

import "testing"

// TestMixTableIsPermutation: RFC 3074 §6 requires 256 distinct values.
func TestMixTableIsPermutation(t *testing.T) {
	var seen [256]bool
	for _, v := range loadbMixTable {
		if seen[v] {
			t.Fatalf("value %d appears twice", v)
		}
		seen[v] = true
	}
}

// rfc3074Ref is RFC 3074 §6's loadb_p_hash transcribed literally (as in
// ISC dhcpd failover.c and Kea query_filter.cc): hash = len; for (i = len;
// i > 0;) hash = table[hash ^ key[--i]].
func rfc3074Ref(key []byte) uint8 {
	hash := uint8(len(key))
	for i := len(key); i > 0; {
		i--
		hash = loadbMixTable[hash^key[i]]
	}
	return hash
}

func TestLoadBalanceHash(t *testing.T) {
	tests := []struct {
		key  []byte
		want uint8
	}{
		// Worked by hand from the RFC table (0-based index):
		{nil, 0},            // empty key: the length seed, no rounds
		{[]byte{14}, 232},   // T[1^14=15] = 232 (ISC's load_bal_unittest key)
		{[]byte{0}, 175},    // T[1] = 175
		{[]byte{1, 2}, 170}, // last byte first: T[2^2=0]=251, then T[251^1=250]=170
		{[]byte{0xff}, 234}, // T[1^255=254] = 234
		// Computed with an independent (Python) transcription of the RFC
		// code over the table as printed in RFC 3074 §6:
		{[]byte{0x00, 0x0c, 0x29, 0x12, 0x34, 0x56}, 201},
		{[]byte{0x01, 0x00, 0x16, 0x3e, 0x11, 0x22, 0x33}, 13},
	}
	for _, tc := range tests {
		if got := LoadBalanceHash(tc.key); got != tc.want {
			t.Errorf("hash(%x) = %d, want %d", tc.key, got, tc.want)
		}
	}
	// Against the literal transcription for many keys of many lengths.
	key := make([]byte, 0, 300)
	for n := 0; n < 300; n++ {
		if got, want := LoadBalanceHash(key), rfc3074Ref(key); got != want {
			t.Fatalf("len %d: got %d, ref %d", n, got, want)
		}
		key = append(key, byte(n*7+3))
	}
}

// TestSplitDistribution: split 128 gives each server about half of many
// MACs; 0 and 256 give everything to one side.
func TestSplitDistribution(t *testing.T) {
	mac := []byte{0x00, 0x16, 0x3e, 0, 0, 0}
	for _, split := range []int{0, 128, 256} {
		prim := 0
		const n = 4096
		for i := 0; i < n; i++ {
			mac[4], mac[5] = byte(i>>8), byte(i)
			if PrimaryBucket(LoadBalanceHash(mac), split) {
				prim++
			}
		}
		switch split {
		case 0:
			if prim != 0 {
				t.Errorf("split 0: primary got %d", prim)
			}
		case 256:
			if prim != n {
				t.Errorf("split 256: primary got %d of %d", prim, n)
			}
		default:
			if prim < n*4/10 || prim > n*6/10 {
				t.Errorf("split 128: primary got %d of %d", prim, n)
			}
		}
	}
	if got := LoadBalanceKey([]byte{1}, []byte{2}); got[0] != 1 {
		t.Error("client id must be preferred over chaddr")
	}
	if got := LoadBalanceKey(nil, []byte{2}); got[0] != 2 {
		t.Error("chaddr when no client id")
	}
}
