//go:build !linux

package dhcpd

import (
	"errors"
	"io"
)

// openConns needs AF_PACKET sockets: elsewhere a Server serves only
// ServerOptions.Conns.
func openConns([]string, int) ([]PacketConn, io.Closer, error) {
	return nil, nil, errors.New("dhcpd: serving interfaces needs Linux (AF_PACKET); set ServerOptions.Conns")
}
