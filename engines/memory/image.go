package memory

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	"github.com/google/btree"

	"etcdlab/engines/engine"
)

// imageMagic opens every memory image; it names the format and its version so
// a foreign stream is recognised as such instead of being read as damaged data.
const imageMagic = "etcdlab-memory-image v1\n"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// countingWriter counts bytes and feeds the checksum of everything written.
type countingWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   int64
	err error
}

func (c *countingWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.crc.Write(p[:n])
	c.err = err
}

// writeImage writes t to w in the format described in the package doc and
// returns the number of bytes written.
func writeImage(w io.Writer, t *btree.BTreeG[item]) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	c := &countingWriter{w: bw, crc: crc32.New(castagnoli)}
	c.write([]byte(imageMagic))
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(t.Len()))
	c.write(hdr[:])
	var lenBuf [4]byte
	t.Ascend(func(it item) bool {
		c.write([]byte{it.bucket})
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(it.key)))
		c.write(lenBuf[:])
		c.write(it.key)
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(it.value)))
		c.write(lenBuf[:])
		c.write(it.value)
		return c.err == nil
	})
	if c.err != nil {
		return c.n, c.err
	}
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], c.crc.Sum32())
	n, err := bw.Write(sum[:])
	c.n += int64(n)
	if err != nil {
		return c.n, err
	}
	if err := bw.Flush(); err != nil {
		return c.n, err
	}
	return c.n, nil
}

// imageReader reads the image while feeding the checksum. Every short read is
// reported as corruption: a truncated image is a damaged image.
type imageReader struct {
	r   *bufio.Reader
	crc hash.Hash32
	off int64
}

func (ir *imageReader) full(p []byte, what string) error {
	n, err := io.ReadFull(ir.r, p)
	ir.crc.Write(p[:n])
	ir.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: image truncated in %s at byte %d", engine.ErrCorrupt, what, ir.off)
		}
		return fmt.Errorf("reading %s at byte %d: %w", what, ir.off, err)
	}
	return nil
}

// bytesN reads an n-byte field. Lengths come from untrusted input, so large
// fields grow with the data actually present instead of being allocated from
// the declared length: a damaged length cannot make us allocate gigabytes.
func (ir *imageReader) bytesN(n uint32, what string) ([]byte, error) {
	const chunk = 1 << 20
	if n <= chunk {
		p := make([]byte, n)
		return p, ir.full(p, what)
	}
	var buf bytes.Buffer
	got, err := io.Copy(&buf, io.LimitReader(ir.r, int64(n)))
	ir.crc.Write(buf.Bytes())
	ir.off += got
	if err != nil {
		return nil, fmt.Errorf("reading %s at byte %d: %w", what, ir.off, err)
	}
	if got < int64(n) {
		return nil, fmt.Errorf("%w: image truncated in %s at byte %d", engine.ErrCorrupt, what, ir.off)
	}
	return buf.Bytes(), nil
}

// readImage parses an image into a new tree and returns it with its key+value
// byte total. It verifies the magic, the record order, the count, the checksum
// and that nothing follows the checksum.
func readImage(r io.Reader, degree int) (*btree.BTreeG[item], int64, error) {
	ir := &imageReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	magic := make([]byte, len(imageMagic))
	n, err := io.ReadFull(ir.r, magic)
	ir.crc.Write(magic[:n])
	ir.off += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, 0, fmt.Errorf("reading image header: %w", err)
	}
	if string(magic[:n]) != imageMagic {
		if n < len(imageMagic) && imageMagic[:n] == string(magic[:n]) {
			return nil, 0, fmt.Errorf("%w: image truncated in its header after %d bytes", engine.ErrCorrupt, n)
		}
		return nil, 0, fmt.Errorf("%w: not a memory engine image (header %q, want %q)",
			engine.ErrWrongEngine, printable(magic[:n]), imageMagic)
	}
	var hdr [8]byte
	if err := ir.full(hdr[:], "record count"); err != nil {
		return nil, 0, err
	}
	count := binary.BigEndian.Uint64(hdr[:])
	t := btree.NewG(degree, less)
	var live int64
	var prev item
	var lenBuf [4]byte
	for i := uint64(0); i < count; i++ {
		var it item
		if err := ir.full(lenBuf[:1], "bucket id"); err != nil {
			return nil, 0, err
		}
		it.bucket = lenBuf[0]
		if err := ir.full(lenBuf[:], "key length"); err != nil {
			return nil, 0, err
		}
		if it.key, err = ir.bytesN(binary.BigEndian.Uint32(lenBuf[:]), "key"); err != nil {
			return nil, 0, err
		}
		if err := ir.full(lenBuf[:], "value length"); err != nil {
			return nil, 0, err
		}
		if it.value, err = ir.bytesN(binary.BigEndian.Uint32(lenBuf[:]), "value"); err != nil {
			return nil, 0, err
		}
		if i > 0 && !less(prev, it) {
			return nil, 0, fmt.Errorf("%w: image record %d (bucket %d key %q) is not after the previous one",
				engine.ErrCorrupt, i, it.bucket, it.key)
		}
		t.ReplaceOrInsert(it)
		live += int64(len(it.key) + len(it.value))
		prev = it
	}
	want := ir.crc.Sum32()
	var sum [4]byte
	if err := ir.full(sum[:], "checksum"); err != nil {
		return nil, 0, err
	}
	if got := binary.BigEndian.Uint32(sum[:]); got != want {
		return nil, 0, fmt.Errorf("%w: image checksum %08x, computed %08x", engine.ErrCorrupt, got, want)
	}
	if _, err := ir.r.ReadByte(); err == nil {
		return nil, 0, fmt.Errorf("%w: bytes after the image checksum at byte %d", engine.ErrCorrupt, ir.off)
	} else if !errors.Is(err, io.EOF) {
		return nil, 0, fmt.Errorf("reading image end: %w", err)
	}
	return t, live, nil
}

// printable shortens a foreign header for an error message.
func printable(p []byte) string {
	if len(p) > 16 {
		p = p[:16]
	}
	return string(p)
}
