package psk

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    []byte
		reason string // "": accepted
	}{
		{"32 random bytes", random(t, 32), ""},
		{"base64 of 32 random bytes", base64.StdEncoding.AppendEncode(nil, random(t, 32)), ""},
		{"hex of 32 random bytes", hex.AppendEncode(nil, random(t, 32)), ""},
		{"31 random bytes", random(t, 31), "31 bytes"},
		{"all zero", make([]byte, 64), "repeat"},
		{"one letter", bytes.Repeat([]byte("a"), 40), "repeat"},
		{"a repeated block", []byte("0123456789abcdef0123456789abcdef"), "repeat"},
		{"a passphrase", []byte("correct horse battery staple and more words"), "passphrase"},
		{"a password", []byte("Password1!Passw0rd2@Pa55word3#xy"), "bits"},
		{"words without spaces", []byte("correcthorsebatterystaplewithout"), "bits"},
		{"hex of 16 bytes", hex.AppendEncode(nil, random(t, 16)), "bits"},
		{"few symbols", []byte("abababababcdcdcdcdcdefefefefefghghghgh")[:32], "repeat"},
		{"four digits", []byte("12341243132414231432214321342314"), "bits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.key)
			switch {
			case tc.reason == "" && err != nil:
				t.Errorf("Check(%q) = %v, want accepted (%.0f bits)", tc.key, err, Bits(tc.key))
			case tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)):
				t.Errorf("Check(%q) = %v, want ...%s... (%.0f bits)", tc.key, err, tc.reason, Bits(tc.key))
			case err != nil && !errors.Is(err, ErrWeak):
				t.Errorf("Check = %v, not ErrWeak", err)
			}
		})
	}
}

// TestRandomKeysPass: every kind of random key an operator makes passes,
// many times over (the estimate must not refuse a good key by bad luck).
func TestRandomKeysPass(t *testing.T) {
	for i := range 2000 {
		for _, k := range [][]byte{
			random(t, 32),
			base64.StdEncoding.AppendEncode(nil, random(t, 32)),
			base64.RawURLEncoding.AppendEncode(nil, random(t, 32)),
			hex.AppendEncode(nil, random(t, 32)),
		} {
			if err := Check(k); err != nil {
				t.Fatalf("draw %d: Check(%q) = %v", i, k, err)
			}
		}
	}
}

func TestKeyDropsTextLineEnd(t *testing.T) {
	text := []byte("q83hVx0rT1pYb2FzZGZnaGprbHp4Y3Zibm0xMjM0NTY=")
	bin := append(random(t, 32), '\n')
	for _, tc := range []struct {
		raw, want []byte
	}{
		{append(bytes.Clone(text), '\n'), text},
		{append(bytes.Clone(text), '\r', '\n'), text},
		{text, text},
		{bin, bin}, // binary: every byte is the key
	} {
		if got := Key(tc.raw); !bytes.Equal(got, tc.want) {
			t.Errorf("Key(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := random(t, 32)
	for _, tc := range []struct {
		name, path, reason string
	}{
		{"good", write("good", good, 0o600), ""},
		{"missing", filepath.Join(dir, "absent"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"world-readable", write("open", good, 0o644), "mode 0644"},
		{"short", write("short", good[:10], 0o600), "10 bytes"},
		{"weak", write("weak", bytes.Repeat([]byte{7}, 32), 0o600), "weak"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := Load(tc.path)
			switch {
			case tc.reason == "" && (err != nil || !bytes.Equal(k, good)):
				t.Errorf("Load = %x, %v", k, err)
			case tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason) || !errors.Is(err, ErrKey)):
				t.Errorf("Load = %v, want ErrKey ...%s...", err, tc.reason)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "peer.key")
	if err := Write(p, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %#o, want 0600", fi.Mode().Perm())
	}
	k1, err := Load(p)
	if err != nil {
		t.Fatalf("Load of a generated key: %v", err)
	}
	if len(k1) != 44 {
		t.Errorf("key of %d bytes, want 44 (base64 of 32)", len(k1))
	}
	if err := Write(p, false); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("Write over an existing key without force = %v", err)
	}
	if k, _ := Load(p); !bytes.Equal(k, k1) {
		t.Error("a refused Write changed the key")
	}
	if err := Write(p, true); err != nil {
		t.Fatal(err)
	}
	if k2, err := Load(p); err != nil || bytes.Equal(k2, k1) {
		t.Errorf("forced Write: %q, %v; want a new key", k2, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files left in the directory, want 1", len(ents))
	}
}
