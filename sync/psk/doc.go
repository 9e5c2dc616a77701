// Package psk is the peer link's pre-shared key file
// (failover.auth.psk_file): how it is read, the rule a key must pass, and
// how `hadhcpd gen-psk` makes a good one. The peer link (sync/peer) and
// check-config (config) both read the file here, so the agent never
// refuses to start on a key check-config accepted.
//
// The key is the file's bytes, except that a text file (printable ASCII
// only) loses its final line end: `hadhcpd gen-psk`, `openssl rand -base64
// 32` and `openssl rand -hex 32` write text with a newline, and a copy to
// the partner's box through an editor must not change the key.
//
// A key must carry at least 128 bits of entropy by a conservative
// estimate (Check), because the link derives its session keys from it
// and a peer that records a handshake may guess it offline. Only a
// random key passes by design; the estimate refuses what is evidently
// not random (too short, a small alphabet, a repeated block, a
// passphrase of words), it cannot prove randomness.
package psk
