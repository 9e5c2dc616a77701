package class

// The packet's options are raw bytes (dhcpv4.Options); the structured
// options are walked in place so that reading one allocates nothing.

// raiSub finds sub-option code in the Relay Agent Information option's
// bytes (RFC 3046 §2.0: code, length, value). A truncated sub-option ends
// the walk.
func raiSub(rai []byte, code uint8) ([]byte, bool) {
	for len(rai) >= 2 {
		c, l := rai[0], int(rai[1])
		if len(rai) < 2+l {
			return nil, false
		}
		if c == code {
			return rai[2 : 2+l], true
		}
		rai = rai[2+l:]
	}
	return nil, false
}

// vendorBlock finds enterprise's data in a V-I Vendor Class (124) or
// V-I Vendor-Specific Information (125) option (RFC 3925 §3, §4: a list
// of enterprise-number (4), data-len (1), data). Enterprise 0 is Kea's
// [*]: the first block. An option may carry several enterprises; Kea
// looks at the first only, we look at each.
func vendorBlock(opt []byte, enterprise uint32) []byte {
	for len(opt) >= 5 {
		ent := uint32(opt[0])<<24 | uint32(opt[1])<<16 | uint32(opt[2])<<8 | uint32(opt[3])
		l := int(opt[4])
		if len(opt) < 5+l {
			return nil
		}
		if enterprise == 0 || ent == enterprise {
			return opt[5 : 5+l : 5+l]
		}
		opt = opt[5+l:]
	}
	return nil
}

// vendorSub finds sub-option code of enterprise in option 125: the
// block's data are code/length/value sub-options (RFC 3925 §4). With
// enterprise 0 every block is searched.
func vendorSub(opt []byte, enterprise uint32, code uint8) ([]byte, bool) {
	for len(opt) >= 5 {
		ent := uint32(opt[0])<<24 | uint32(opt[1])<<16 | uint32(opt[2])<<8 | uint32(opt[3])
		l := int(opt[4])
		if len(opt) < 5+l {
			return nil, false
		}
		if enterprise == 0 || ent == enterprise {
			if v, ok := raiSub(opt[5:5+l], code); ok {
				return v, true
			}
		}
		opt = opt[5+l:]
	}
	return nil, false
}

// vendorClassData returns the index-th opaque datum of a vendor class
// block (RFC 3925 §3: each datum is a length byte and its bytes).
func vendorClassData(block []byte, index int) []byte {
	for i := 0; len(block) >= 1; i++ {
		l := int(block[0])
		if len(block) < 1+l {
			return nil
		}
		if i == index {
			return block[1 : 1+l]
		}
		block = block[1+l:]
	}
	return nil
}
