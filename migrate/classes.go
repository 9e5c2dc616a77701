package migrate

import (
	"github.com/hadhcpd/hadhcpd/config"
	"github.com/hadhcpd/hadhcpd/dhcpd/class"
	"github.com/hadhcpd/hadhcpd/dhcpd/scope"
)

// ClassErrors compiles each class's test (or match, and members) the way
// the server does, in order (member() may name only the classes before),
// and returns the error of each class that does not compile, by its index
// in list: an importer reports them at the class's place in the source.
func ClassErrors(list []config.ClientClassConfig, defs []scope.OptionDefinition) map[int]error {
	out := map[int]error{}
	idx := map[string]int{}
	// The server's option names (config compiles tests with them); a bad
	// definition is the importer's to report, not this check's.
	optDefs, _ := scope.NewDefinitions(defs)
	names := class.Names{
		Class:  func(n string) (int, bool) { i, ok := idx[n]; return i, ok },
		Option: func(n string) (uint8, bool) { return optDefs.Code(scope.SpaceDHCP4, n) },
	}
	for i, c := range list {
		var err error
		switch {
		case c.Test != "" && c.Match != "":
			err = errString("a class has a test or a match, not both")
		case c.Test != "":
			_, err = names.Compile(c.Test)
		case c.Match != "":
			_, err = names.CompileValue(c.Match)
			for _, m := range c.Members {
				if err == nil {
					_, err = class.ParseMember(m)
				}
			}
		}
		if err != nil {
			out[i] = err
		}
		idx[c.Name] = class.First + i
	}
	return out
}

type errString string

func (e errString) Error() string { return string(e) }
