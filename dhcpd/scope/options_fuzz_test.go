package scope

import (
	"encoding/json"
	"testing"
)

// FuzzParseOptions feeds option definitions and an options map (as JSON,
// the form the config sync carries) to the codec: it must not panic, and
// whatever it accepts must fit a reply.
func FuzzParseOptions(f *testing.F) {
	f.Add(`[{"Name":"u","Code":1,"Space":"ubnt","Type":"ip"}]`, `{"vendor_specific":{"space":"ubnt","options":{"u":"192.0.2.1"}}}`)
	f.Add(`[{"Name":"r","Code":224,"Type":"record","Fields":["uint8","ip","string"],"Array":false}]`, `{"r":"1, 192.0.2.1, x","routers":["192.0.2.1"]}`)
	f.Add(`[{"Name":"e","Code":43,"Type":"encapsulate","Encapsulate":"pxe"}]`, `{"e":{"discovery_control":3,"custom":[{"code":0,"type":"hex","value":"01"}]}}`)
	f.Add(`[]`, `{"vivso_suboptions":[{"enterprise":4491,"data":"01:02"},{"enterprise":1,"space":"pxe","options":{"mtftp_ip":"192.0.2.1"}}],"vivco":[{"enterprise":1,"classes":["a"]}]}`)
	f.Add(`[{"Name":"a","Code":1,"Space":"s","Type":"encapsulate","Encapsulate":"t"},{"Name":"b","Code":1,"Space":"t","Type":"encapsulate","Encapsulate":"s"}]`, `{"custom":[{"code":230,"type":"int16","array":true,"value":[-1,2]}]}`)
	f.Fuzz(func(t *testing.T, defsJSON, optsJSON string) {
		var list []OptionDefinition
		var m map[string]any
		if json.Unmarshal([]byte(defsJSON), &list) != nil || json.Unmarshal([]byte(optsJSON), &m) != nil {
			return
		}
		d, _ := NewDefinitions(list)
		o, errs := d.Parse(m)
		if len(errs) > 0 {
			return
		}
		for c, v := range o {
			if _, own := serverOwned[c]; own {
				t.Fatalf("accepted the server's option %d", c)
			}
			if encodedLen(len(v)) > maxOptionLen {
				t.Fatalf("option %d: %d bytes accepted", c, len(v))
			}
		}
	})
}
