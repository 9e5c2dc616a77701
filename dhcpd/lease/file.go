package lease

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File names in the state directory (doc.go "Files").
const (
	snapshotName  = "snapshot.hdl"
	snapshotTmp   = "snapshot.hdl.tmp"
	snapshotOld   = "snapshot.hdl.old" // the replaced snapshot while dropFile frees it
	lockName      = "LOCK"
	journalPrefix = "journal-"
	journalSuffix = ".hdl"
)

func journalName(gen uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, gen, journalSuffix)
}

// parseJournalName returns the generation of a journal file name.
func parseJournalName(name string) (uint64, bool) {
	if !strings.HasPrefix(name, journalPrefix) || !strings.HasSuffix(name, journalSuffix) {
		return 0, false
	}
	hex := name[len(journalPrefix) : len(name)-len(journalSuffix)]
	if len(hex) != 16 {
		return 0, false
	}
	g, err := strconv.ParseUint(hex, 16, 64)
	return g, err == nil
}

// File header (doc.go "File header").
const (
	formatVersion = 1
	headerSize    = 40
	magicJournal  = "HDLJRNL\x00"
	magicSnapshot = "HDLSNAP\x00"
)

// Header errors, wrapped in a *FileError naming the file.
var (
	ErrTruncatedHeader = errors.New("truncated file header")
	ErrBadMagic        = errors.New("wrong magic: not a hadhcpd lease file of this kind")
	ErrFutureVersion   = errors.New("format version newer than this build reads")
	ErrBadVersion      = errors.New("invalid format version")
	ErrCorruptHeader   = errors.New("file header checksum mismatch")
)

// FileError is a problem with one file of the state directory, at a byte
// offset.
type FileError struct {
	Path   string
	Offset int64
	Err    error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("lease: %s at offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

type fileHeader struct {
	magic      string
	version    uint32
	gen        uint64 // journal: its generation; snapshot: the first journal generation it does not cover
	lastSeq    uint64 // snapshot: highest local sequence at the compaction boundary
	partnerSeq uint64 // snapshot: highest partner sequence at the compaction boundary
}

func (h *fileHeader) marshal() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, h.magic...)
	b = binary.BigEndian.AppendUint32(b, h.version)
	b = binary.BigEndian.AppendUint64(b, h.gen)
	b = binary.BigEndian.AppendUint64(b, h.lastSeq)
	b = binary.BigEndian.AppendUint64(b, h.partnerSeq)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// parseHeader checks, in this order, magic, version, length and checksum,
// so that a file from a newer build is reported as such even if its header
// grew.
func parseHeader(b []byte, magic string) (fileHeader, error) {
	var h fileHeader
	n := min(len(b), len(magic))
	if !bytes.Equal(b[:n], []byte(magic[:n])) {
		return h, fmt.Errorf("%w (want %q, found %q)", ErrBadMagic, magic, b[:n])
	}
	if len(b) < 12 {
		return h, fmt.Errorf("%w: %d bytes, need %d", ErrTruncatedHeader, len(b), headerSize)
	}
	h.magic = magic
	h.version = binary.BigEndian.Uint32(b[8:12])
	if h.version > formatVersion {
		return h, fmt.Errorf("%w: version %d, this build reads up to %d (written by a newer hadhcpd; refusing to open so a downgrade cannot lose its records)", ErrFutureVersion, h.version, formatVersion)
	}
	if h.version == 0 {
		return h, fmt.Errorf("%w: 0", ErrBadVersion)
	}
	if len(b) < headerSize {
		return h, fmt.Errorf("%w: %d bytes, need %d", ErrTruncatedHeader, len(b), headerSize)
	}
	if crc32.Checksum(b[:headerSize-4], castagnoli) != binary.BigEndian.Uint32(b[headerSize-4:]) {
		return h, ErrCorruptHeader
	}
	h.gen = binary.BigEndian.Uint64(b[12:20])
	h.lastSeq = binary.BigEndian.Uint64(b[20:28])
	h.partnerSeq = binary.BigEndian.Uint64(b[28:36])
	return h, nil
}

// readHeader reads and checks the header of an open file.
func readHeader(f *os.File, path, magic string) (fileHeader, error) {
	b := make([]byte, headerSize)
	n, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fileHeader{}, &FileError{Path: path, Err: err}
	}
	h, err := parseHeader(b[:n], magic)
	if err != nil {
		return h, &FileError{Path: path, Err: err}
	}
	return h, nil
}

// badRecord is where and why a scan stopped.
type badRecord struct {
	off    int64
	reason string
	torn   bool // nothing valid follows: an interrupted write, not damage
}

// scanRecords reads the records of f from off headerSize to size and calls
// fn with each payload (valid only during the call). It stops at the first
// bad record and reports it; fn's error makes the record bad too (with its
// CRC good, so never a torn write).
func scanRecords(f *os.File, size int64, fn func(p []byte) error) (records int, bad *badRecord, err error) {
	if _, err := f.Seek(headerSize, io.SeekStart); err != nil {
		return 0, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var hdr [frameHeader]byte
	buf := make([]byte, MaxPayload)
	off := int64(headerSize)
	for off < size {
		if size-off < frameHeader {
			return records, classify(f, off, off+frameHeader, size, "short frame header"), nil
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return records, nil, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n == 0 || n > MaxPayload {
			return records, classify(f, off, off+frameHeader, size, fmt.Sprintf("record length %d outside 1..%d", n, MaxPayload)), nil
		}
		end := off + frameHeader + int64(n)
		if end > size {
			return records, classify(f, off, end, size, fmt.Sprintf("record of %d bytes runs past the end of the file", n)), nil
		}
		p := buf[:n]
		if _, err := io.ReadFull(br, p); err != nil {
			return records, nil, err
		}
		if frameCRC(hdr[:4], p) != binary.BigEndian.Uint32(hdr[4:]) {
			return records, classify(f, off, end, size, "CRC32C mismatch"), nil
		}
		if err := fn(p); err != nil {
			return records, &badRecord{off: off, reason: err.Error()}, nil
		}
		records++
		off = end
	}
	return records, nil, nil
}

// classify decides whether a bad record at off (whose frame, as far as its
// length field can be trusted, ends at end) is a torn tail or corruption
// with data after it. It is torn when nothing after off can be a record:
// every byte from end on is zero (ext4 after a power loss) and no valid
// frame starts anywhere in (off, end) — or the whole rest is shorter than
// one maximal frame and no valid frame starts in it.
func classify(f *os.File, off, end, size int64, reason string) *badRecord {
	b := &badRecord{off: off, reason: reason}
	if end > size {
		end = size
	}
	zeroAfter := allZero(f, end, size)
	if !zeroAfter && size-off > frameHeader+MaxPayload {
		return b
	}
	scanTo := size
	if zeroAfter {
		scanTo = end
	}
	rest := make([]byte, scanTo-off)
	if _, err := f.ReadAt(rest, off); err != nil {
		return b
	}
	for p := 1; p+frameHeader <= len(rest); p++ {
		n := int(binary.BigEndian.Uint32(rest[p:]))
		if n == 0 || n > MaxPayload || p+frameHeader+n > len(rest) {
			continue
		}
		pl := rest[p+frameHeader : p+frameHeader+n]
		if frameCRC(rest[p:p+4], pl) == binary.BigEndian.Uint32(rest[p+4:]) {
			return b // a good record follows: this is damage, not a torn write
		}
	}
	b.torn = true
	return b
}

// allZero reports whether f's bytes in [from, to) are all zero.
func allZero(f *os.File, from, to int64) bool {
	buf := make([]byte, 64<<10)
	for from < to {
		n := int64(len(buf))
		if to-from < n {
			n = to - from
		}
		if _, err := f.ReadAt(buf[:n], from); err != nil {
			return false
		}
		for _, c := range buf[:n] {
			if c != 0 {
				return false
			}
		}
		from += n
	}
	return true
}

// syncDir fsyncs a directory so that creates, renames and unlinks in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// createFile writes a new file holding only a header, fsyncs it and its
// directory. It replaces an existing file of that name.
func createFile(path string, h fileHeader) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(h.marshal()); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
