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
	"slices"
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
	durable    uint64 // journal, in lastSeq's place: its durable length (doc.go "File header"); 0 = not kept
	partnerSeq uint64 // snapshot: highest partner sequence at the compaction boundary
}

func (h *fileHeader) marshal() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, h.magic...)
	b = binary.BigEndian.AppendUint32(b, h.version)
	b = binary.BigEndian.AppendUint64(b, h.gen)
	if h.magic == magicJournal {
		b = binary.BigEndian.AppendUint64(b, h.durable)
	} else {
		b = binary.BigEndian.AppendUint64(b, h.lastSeq)
	}
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
	if magic == magicJournal {
		h.durable = binary.BigEndian.Uint64(b[20:28])
	} else {
		h.lastSeq = binary.BigEndian.Uint64(b[20:28])
	}
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

// span is a run of bytes in a file that holds no readable record: from
// a bad record to where a valid frame starts again, or to the end of the
// file.
type span struct {
	off, end int64
	// records is how many records the span held when the framing tells:
	// the length fields inside it lead exactly to its end (flipped bits
	// in payloads), or a damaged length is the only damage (the frame's
	// CRC checks with the length the resynchronisation found). 0 when it
	// cannot tell (a zeroed or overwritten run): bytes are all it knows.
	records  int
	reason   string
	frameEnd int64 // where the first bad frame ends by its own length field (capped at the file's size)
}

// maxFrame is the largest frame a length field may announce.
const maxFrame = frameHeader + MaxPayload

// scanRecords reads the records of f from off headerSize to size and calls
// fn with each payload (valid only during the call). At a bad record (a
// length outside 1..MaxPayload, a frame running past the end, a CRC32C
// mismatch, or fn's error for a payload whose CRC checks) it
// resynchronises from the framing (see resync) and goes on after the bad
// span, so one damaged record costs that record, not the file after it.
// The spans are returned in file order; only the last can reach size.
func scanRecords(f *os.File, size int64, fn func(p []byte) error) (records int, bad []span, err error) {
	if _, err := f.Seek(headerSize, io.SeekStart); err != nil {
		return 0, nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var hdr [frameHeader]byte
	buf := make([]byte, MaxPayload)
	off := int64(headerSize)
	for off < size {
		var reason string
		var n uint32
		frameEnd := size
		switch {
		case size-off < frameHeader:
			reason = "short frame header"
		default:
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return records, bad, err
			}
			n = binary.BigEndian.Uint32(hdr[:4])
			end := off + frameHeader + int64(n)
			frameEnd = min(end, size)
			switch {
			case n == 0 || n > MaxPayload:
				reason = fmt.Sprintf("record length %d outside 1..%d", n, MaxPayload)
			case end > size:
				reason = fmt.Sprintf("record of %d bytes runs past the end of the file", n)
			default:
				p := buf[:n]
				if _, err := io.ReadFull(br, p); err != nil {
					return records, bad, err
				}
				if frameCRC(hdr[:4], p) != binary.BigEndian.Uint32(hdr[4:]) {
					reason = "CRC32C mismatch"
				} else if err := fn(p); err != nil {
					// The CRC vouches for the length: the span is
					// this frame alone.
					bad = append(bad, span{off: off, end: end, records: 1, reason: err.Error(), frameEnd: end})
					off = end
					continue
				} else {
					records++
					off = end
					continue
				}
			}
		}
		next, err := resync(f, off, n, size)
		if err != nil {
			return records, bad, err
		}
		s := span{off: off, end: next, reason: reason, frameEnd: frameEnd}
		if s.records, err = countFrames(f, off, next); err != nil {
			return records, bad, err
		}
		bad = append(bad, s)
		if next >= size {
			break
		}
		if _, err := f.Seek(next, io.SeekStart); err != nil {
			return records, bad, err
		}
		br.Reset(f)
		off = next
	}
	return records, bad, nil
}

// resync returns where the next valid record after the bad one at off
// starts, or size when none does. A valid record is a frame whose CRC
// checks and that is followed by another such frame, by the end of the
// file, or by less than one frame (a torn tail): two in a row make a
// random match (one in 2^32 per offset) negligible. The bad frame's own
// length n is tried first, so that a record embedded in a damaged
// record's payload (a hostname is the client's to choose) is not taken
// for the next one when only the payload was damaged; otherwise every
// offset after off is tried.
func resync(f *os.File, off int64, n uint32, size int64) (int64, error) {
	const step = 1 << 20
	if n >= 1 && n <= MaxPayload {
		at := off + frameHeader + int64(n)
		if at == size {
			return size, nil
		}
		if at < size {
			w := make([]byte, min(int64(2*maxFrame), size-at))
			if _, err := f.ReadAt(w, at); err != nil {
				return 0, err
			}
			if chainAt(w, 0, at, size) {
				return at, nil
			}
		}
	}
	w := make([]byte, 0, min(step+2*maxFrame, size-off))
	for start := off + 1; start < size; start += step {
		w = w[:min(int64(cap(w)), size-start)]
		if _, err := f.ReadAt(w, start); err != nil {
			return 0, err
		}
		for p := 0; p < step && p < len(w); p++ {
			if chainAt(w, p, start, size) {
				return start + int64(p), nil
			}
		}
	}
	return size, nil
}

// chainAt reports whether a valid record starts at w[p] (w holds the file
// from offset base, and at least two maximal frames after p unless the
// file ends sooner).
func chainAt(w []byte, p int, base, size int64) bool {
	e := frameAt(w, p)
	if e < 0 {
		return false
	}
	if base+int64(e) == size || frameAt(w, e) >= 0 {
		return true
	}
	// What follows may be a torn tail: less than a frame, or zeros to the
	// end.
	if base+int64(len(w)) < size {
		return false
	}
	return len(w)-e < maxFrame || !slices.ContainsFunc(w[e:], func(c byte) bool { return c != 0 })
}

// frameAt returns the end of the valid frame at w[p], or -1.
func frameAt(w []byte, p int) int {
	if p+frameHeader > len(w) {
		return -1
	}
	n := int(binary.BigEndian.Uint32(w[p:]))
	if n == 0 || n > MaxPayload || p+frameHeader+n > len(w) {
		return -1
	}
	if frameCRC(w[p:p+4], w[p+frameHeader:p+frameHeader+n]) != binary.BigEndian.Uint32(w[p+4:]) {
		return -1
	}
	return p + frameHeader + n
}

// countFrames is span.records for the span [off, end).
func countFrames(f *os.File, off, end int64) (int, error) {
	if end-off > 64*maxFrame {
		return 0, nil // far more than a few damaged records: a run, not a count
	}
	b := make([]byte, end-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return 0, err
	}
	// The length fields lead exactly to the end: each frame is one record.
	count := 0
	for p := 0; p < len(b); count++ {
		if p+frameHeader > len(b) {
			count = -1
			break
		}
		n := int(binary.BigEndian.Uint32(b[p:]))
		if n == 0 || n > MaxPayload || p+frameHeader+n > len(b) {
			count = -1
			break
		}
		p += frameHeader + n
	}
	if count > 0 {
		return count, nil
	}
	// Only the length is damaged: the CRC checks with the length the span
	// implies.
	if n := len(b) - frameHeader; n >= 1 && n <= MaxPayload {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(n))
		if frameCRC(l[:], b[frameHeader:]) == binary.BigEndian.Uint32(b[4:]) {
			return 1, nil
		}
	}
	return 0, nil
}

// tornTail reports whether the span s, which reaches the end of the
// newest journal, may be a write that was never fsync'd (and so never
// acknowledged: Commit waits for the fdatasync) rather than damage.
//
// Only bytes written after the last completed fdatasync can be torn. The
// journal header's durable length (doc.go "File header") is the size
// after an fdatasync that had completed before the header was written
// with it, so it is never beyond what is on stable storage: a bad record
// before it is damage, however it looks (a file system in writeback mode
// can zero or lose blocks that were fsync'd), and one at or after it, with
// nothing valid following, is torn. Journals written before the durable
// length was kept (0 in the header) fall back to the shape of the tail:
// nothing valid after it, and the rest all zero after the bad frame (ext4
// after a power loss) or shorter than one maximal frame.
func tornTail(f *os.File, s span, durable, size int64) bool {
	if durable >= headerSize {
		return s.off >= durable
	}
	return size-s.off <= maxFrame || allZero(f, s.frameEnd, size)
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
