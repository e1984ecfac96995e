package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3/raftpb"
)

// Record types, numbered as in etcd's walpb.
const (
	metadataType byte = 1
	entryType    byte = 2
	stateType    byte = 3
	crcType      byte = 4
	snapshotType byte = 5
)

// Framing. A record on disk is
//
//	length word (8 bytes, little endian): low 56 bits = record length;
//	    if padded, top byte = 0x80 | number of pad bytes
//	type (1 byte) | crc (4 bytes, little endian) | payload | zero padding
//
// so every record, and thus every length word, starts 8-byte aligned and a
// length word can never straddle a sector. The crc is CRC32-Castagnoli
// running over type+payload of every record since the start of the log;
// crc records carry the running value instead of extending it, which is how
// the chain continues across segments.
const (
	frameSizeBytes = 8
	recHeaderBytes = 5
	// maxRecordBytes bounds one record, as etcd's maxWALEntrySizeLimit: a
	// length word above it is corruption, and Save refuses to write one.
	maxRecordBytes = 10 * 1024 * 1024
	// minSectorSize is the unit a torn write leaves zeroed.
	minSectorSize = 512
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// encodeFrameSize returns the length word and pad bytes for a record of
// dataBytes (header + payload).
func encodeFrameSize(dataBytes int) (lenField uint64, padBytes int) {
	lenField = uint64(dataBytes)
	padBytes = (8 - dataBytes%8) % 8
	if padBytes != 0 {
		lenField |= uint64(0x80|padBytes) << 56
	}
	return lenField, padBytes
}

// decodeFrameSize reverses encodeFrameSize; ok is false for a length word
// no encoder writes.
func decodeFrameSize(lenField uint64) (recBytes int64, padBytes int64, ok bool) {
	top := byte(lenField >> 56)
	recBytes = int64(lenField & 0x00ffffffffffffff)
	if top != 0 {
		if top&0x80 == 0 || top&0x7f > 7 || top&0x7f == 0 {
			return 0, 0, false
		}
		padBytes = int64(top & 0x7)
	}
	if (recBytes+padBytes)%8 != 0 {
		return 0, 0, false
	}
	return recBytes, padBytes, true
}

// encoder appends framed records to a pageWriter, keeping the running crc.
type encoder struct {
	pw  *pageWriter
	crc uint32
}

// frame reserves space for a record with payload size n and returns the
// payload slice to fill; finish must be called after filling it.
func (e *encoder) frame(typ byte, n int) (rec []byte, payload []byte, err error) {
	dataBytes := recHeaderBytes + n
	if dataBytes > maxRecordBytes {
		return nil, nil, ErrRecordTooLarge
	}
	lenField, pad := encodeFrameSize(dataBytes)
	buf := e.pw.reserve(frameSizeBytes + dataBytes + pad)
	binary.LittleEndian.PutUint64(buf, lenField)
	rec = buf[frameSizeBytes:]
	rec[0] = typ
	for i := dataBytes; i < len(rec); i++ {
		rec[i] = 0
	}
	return rec[:dataBytes], rec[recHeaderBytes:dataBytes], nil
}

// finish computes the crc of a filled record.
func (e *encoder) finish(rec []byte) {
	if rec[0] == crcType {
		binary.LittleEndian.PutUint32(rec[1:], e.crc)
		return
	}
	e.crc = crc32.Update(e.crc, crcTable, rec[:1])
	e.crc = crc32.Update(e.crc, crcTable, rec[recHeaderBytes:])
	binary.LittleEndian.PutUint32(rec[1:], e.crc)
}

func (e *encoder) encodeBytes(typ byte, data []byte) error {
	rec, payload, err := e.frame(typ, len(data))
	if err != nil {
		return err
	}
	copy(payload, data)
	e.finish(rec)
	return nil
}

// encodeCRC writes a crc record carrying the running crc (the chain link).
func (e *encoder) encodeCRC() error { return e.encodeBytes(crcType, nil) }

func (e *encoder) encodeEntry(ent *raftpb.Entry) error {
	rec, payload, err := e.frame(entryType, ent.Size())
	if err != nil {
		return err
	}
	if _, err := ent.MarshalToSizedBuffer(payload); err != nil {
		return err
	}
	e.finish(rec)
	return nil
}

func (e *encoder) encodeState(st *raftpb.HardState) error {
	rec, payload, err := e.frame(stateType, st.Size())
	if err != nil {
		return err
	}
	if _, err := st.MarshalToSizedBuffer(payload); err != nil {
		return err
	}
	e.finish(rec)
	return nil
}

func (e *encoder) encodeSnapshot(s Snapshot) error {
	return e.encodeBytes(snapshotType, s.marshal())
}

// record is one decoded record; payload aliases the decoder's buffer and is
// valid until the next decode.
type record struct {
	typ     byte
	crc     uint32
	payload []byte
}

// segReader is one segment being decoded.
type segReader struct {
	name string
	r    *bufio.Reader
	size int64
}

func newSegReader(name string, r io.Reader, size int64) segReader {
	return segReader{name: name, r: bufio.NewReaderSize(r, 1<<20), size: size}
}

// decoder reads records across consecutive segments, checking the crc
// chain within and across them and telling a torn tail (only possible in
// the last segment) from corruption.
type decoder struct {
	segs []segReader
	i    int
	crc  uint32
	off  int64 // offset of the next record in segs[i]: the end of the last valid one
	// recOff is the offset of the record decode last returned.
	recOff int64
	buf    []byte
}

func newDecoder(segs ...segReader) *decoder { return &decoder{segs: segs} }

// lastOffset is the end of the last valid record in the current segment.
func (d *decoder) lastOffset() int64 { return d.off }

// lastCRC is the running crc after the last valid record.
func (d *decoder) lastCRC() uint32 { return d.crc }

func (d *decoder) isLast() bool { return d.i == len(d.segs)-1 }

func (d *decoder) nextSegment() bool {
	if d.i+1 >= len(d.segs) {
		return false
	}
	d.i++
	d.off = 0
	return true
}

// decode reads the next record. It returns io.EOF at the end of the last
// segment (a zero length word marks the preallocated, never-written tail),
// *tornError for a torn last record of the last segment, and *CorruptError
// for anything else that does not decode.
func (d *decoder) decode(rec *record) error {
	for {
		if d.i >= len(d.segs) {
			return io.EOF
		}
		s := &d.segs[d.i]
		var word [frameSizeBytes]byte
		n, err := io.ReadFull(s.r, word[:])
		if err == io.EOF || (err == nil && binary.LittleEndian.Uint64(word[:]) == 0) {
			if d.off == 0 {
				// A segment is renamed into place only after its header
				// was synced, so an empty one was damaged afterwards.
				return corruptf(s.name, 0, ErrCorrupt, "empty segment")
			}
			if !d.nextSegment() {
				return io.EOF
			}
			continue
		}
		if err == io.ErrUnexpectedEOF {
			return d.bad(s, "partial length word (%d bytes)", n)
		}
		if err != nil {
			return err
		}
		recBytes, padBytes, ok := decodeFrameSize(binary.LittleEndian.Uint64(word[:]))
		if !ok {
			return corruptf(s.name, d.off, ErrCorrupt, "invalid length word %#016x", binary.LittleEndian.Uint64(word[:]))
		}
		if recBytes < recHeaderBytes || recBytes > maxRecordBytes {
			return corruptf(s.name, d.off, ErrCorrupt, "record length %d out of range", recBytes)
		}
		total := int(recBytes + padBytes)
		if d.off+frameSizeBytes+int64(total) > s.size {
			// The file ends inside this record: only a crash mid-write of
			// the last segment can leave that.
			return d.bad(s, "record of %d bytes runs past end of file (%d)", total, s.size)
		}
		if cap(d.buf) < total {
			d.buf = make([]byte, total)
		}
		data := d.buf[:total]
		if _, err := io.ReadFull(s.r, data); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return d.bad(s, "short record")
			}
			return err
		}
		typ := data[0]
		stored := binary.LittleEndian.Uint32(data[1:5])
		payload := data[recHeaderBytes:recBytes]
		switch typ {
		case crcType:
			if len(payload) != 0 {
				return d.badData(s, data, ErrCorrupt, "crc record with %d payload bytes", len(payload))
			}
		case metadataType, entryType, stateType, snapshotType:
			c := crc32.Update(d.crc, crcTable, data[:1])
			c = crc32.Update(c, crcTable, payload)
			if c != stored {
				return d.badData(s, data, ErrCRCMismatch, "crc %#08x, want %#08x", stored, c)
			}
			d.crc = c
		default:
			return d.badData(s, data, ErrCorrupt, "unknown record type %d", typ)
		}
		for _, b := range data[recBytes:] {
			if b != 0 {
				return d.badData(s, data, ErrCorrupt, "non-zero padding")
			}
		}
		if d.off == 0 && typ != crcType {
			return corruptf(s.name, 0, ErrCorrupt, "segment starts with record type %d, not a crc record", typ)
		}
		rec.typ, rec.crc, rec.payload = typ, stored, payload
		d.recOff = d.off
		d.off += frameSizeBytes + int64(total)
		return nil
	}
}

// bad handles a record cut short by the end of the file.
func (d *decoder) bad(s *segReader, format string, args ...any) error {
	if d.isLast() {
		return &tornError{file: s.name, off: d.off}
	}
	return corruptf(s.name, d.off, ErrCorrupt, format, args...)
}

// badData handles a record whose bytes are wrong: a torn write if, in the
// last segment, some sector-sized chunk of it is all zero (the sector never
// reached the disk); corruption otherwise.
func (d *decoder) badData(s *segReader, data []byte, sentinel error, format string, args ...any) error {
	if d.isLast() && isTornEntry(d.off+frameSizeBytes, data) {
		return &tornError{file: s.name, off: d.off}
	}
	return corruptf(s.name, d.off, sentinel, format, args...)
}

// isTornEntry splits data (which starts at file offset fileOff) on sector
// boundaries and reports whether any chunk is entirely zero.
func isTornEntry(fileOff int64, data []byte) bool {
	for cur := 0; cur < len(data); {
		chunk := int(minSectorSize - fileOff%minSectorSize)
		if chunk > len(data)-cur {
			chunk = len(data) - cur
		}
		zero := true
		for _, b := range data[cur : cur+chunk] {
			if b != 0 {
				zero = false
				break
			}
		}
		if zero {
			return true
		}
		cur += chunk
		fileOff += int64(chunk)
	}
	return false
}

// pageWriter buffers records and writes them with WriteAt so that every
// write but the last of a flush ends on a page boundary, as etcd's
// PageWriter: a torn write then never rewrites a page already holding
// synced data more than once per flush.
type pageWriter struct {
	f         vfs.File
	off       int64 // file offset of buf[0]
	buf       []byte
	pageBytes int
	watermark int
	written   int64 // total bytes handed to the file
}

const (
	pageBytes       = 4096
	bufferWatermark = 1 << 20
)

func newPageWriter(f vfs.File, off int64) *pageWriter {
	return &pageWriter{f: f, off: off, buf: make([]byte, 0, bufferWatermark+pageBytes), pageBytes: pageBytes, watermark: bufferWatermark}
}

// offset is the logical end of the data, buffered bytes included.
func (pw *pageWriter) offset() int64 { return pw.off + int64(len(pw.buf)) }

// reserve returns n bytes at the end of the buffer. It may flush a
// page-aligned prefix first; a flush error is kept and returned by the next
// flush, so reserve itself never fails.
func (pw *pageWriter) reserve(n int) []byte {
	l := len(pw.buf)
	if cap(pw.buf)-l < n {
		nb := make([]byte, l, 2*cap(pw.buf)+n)
		copy(nb, pw.buf)
		pw.buf = nb
	}
	pw.buf = pw.buf[:l+n]
	return pw.buf[l : l+n]
}

// maybeFlush writes the page-aligned prefix of the buffer once it passes
// the watermark.
func (pw *pageWriter) maybeFlush() error {
	if len(pw.buf) < pw.watermark {
		return nil
	}
	end := pw.offset() - pw.offset()%int64(pw.pageBytes)
	n := int(end - pw.off)
	if n <= 0 {
		return nil
	}
	if err := pw.write(pw.buf[:n]); err != nil {
		return err
	}
	rest := copy(pw.buf, pw.buf[n:])
	pw.buf = pw.buf[:rest]
	return nil
}

func (pw *pageWriter) write(p []byte) error {
	m, err := pw.f.WriteAt(p, pw.off)
	if err == nil && m != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return err
	}
	pw.off += int64(m)
	pw.written += int64(m)
	return nil
}

// flush writes everything buffered.
func (pw *pageWriter) flush() error {
	if len(pw.buf) == 0 {
		return nil
	}
	if err := pw.write(pw.buf); err != nil {
		return err
	}
	pw.buf = pw.buf[:0]
	return nil
}
