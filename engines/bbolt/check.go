package bbolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"etcdlab/engines/engine"
)

// bbolt's on-disk format (go.etcd.io/bbolt internal/common, format version 2),
// read here so that damaged or foreign files are rejected with an error before
// bbolt maps them: bbolt trusts its meta pages and can fault or panic (some
// panics in goroutines of its own, beyond any recover) on a file whose meta
// points past its end. Integers are in the machine's byte order, as bbolt
// writes them.
const (
	boltMagic   uint32 = 0xED0CDAED
	boltVersion uint32 = 2

	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	// meta, right after the page header: magic u32, version u32, pageSize u32,
	// flags u32, root bucket {root pgid u64, sequence u64}, freelist pgid u64,
	// pgid (high-water mark) u64, txid u64, checksum u64 (FNV-64a of the 56
	// bytes before it).
	metaSize         = 64
	metaChecksummed  = 56
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	noFreelist       = ^uint64(0)

	minPageSize = 1024
	maxPageSize = 65536
)

type meta struct {
	magic, version, pageSize uint32
	root, freelist, pgid     uint64
	txid                     uint64
	err                      error // nil when the meta page is valid
}

// parseMeta decodes the meta page whose page header starts at b[0].
func parseMeta(b []byte) meta {
	if len(b) < pageHeaderSize+metaSize {
		return meta{err: errors.New("too short")}
	}
	m := b[pageHeaderSize : pageHeaderSize+metaSize]
	ne := binary.NativeEndian
	mt := meta{
		magic:    ne.Uint32(m[0:]),
		version:  ne.Uint32(m[4:]),
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}
	h := fnv.New64a()
	h.Write(m[:metaChecksummed])
	switch {
	case mt.magic != boltMagic:
		mt.err = fmt.Errorf("magic %#x, want %#x", mt.magic, boltMagic)
	case mt.version != boltVersion:
		mt.err = fmt.Errorf("format version %d, want %d", mt.version, boltVersion)
	case ne.Uint64(m[56:]) != h.Sum64():
		mt.err = errors.New("checksum mismatch")
	case mt.pageSize < minPageSize || mt.pageSize > maxPageSize || mt.pageSize&(mt.pageSize-1) != 0:
		mt.err = fmt.Errorf("implausible page size %d", mt.pageSize)
	case mt.pgid < 2 || mt.root < 2 || mt.root >= mt.pgid || (mt.freelist != noFreelist && (mt.freelist < 2 || mt.freelist >= mt.pgid)):
		mt.err = fmt.Errorf("page ids out of range (root %d, freelist %d, high-water mark %d)", mt.root, mt.freelist, mt.pgid)
	}
	return mt
}

// checkFile validates the bbolt file at path before it is opened: at least one
// valid meta page (bbolt recovers from one torn meta page by using the other),
// a file long enough for the high-water mark of the meta bbolt will use, and
// sane root and freelist pages. A file with no bbolt magic at all is reported
// as ErrWrongEngine, any other damage as ErrCorrupt; both name the file.
// An empty file is fine: bbolt initialises it.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bbolt: opening %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("bbolt: stat %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: bbolt: %s is a directory, not a bbolt file", engine.ErrCorrupt, path)
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: bbolt file %s (%d bytes): %s; its data cannot be trusted: restore it from a backup or snapshot "+
			"(`etcdctl snapshot restore`), or remove the member from the cluster and add it back with an empty data dir",
			engine.ErrCorrupt, path, size, fmt.Sprintf(format, args...))
	}
	readPage := func(off int64, n int) []byte {
		buf := make([]byte, n)
		k, _ := f.ReadAt(buf, off)
		return buf[:k]
	}

	m0 := parseMeta(readPage(0, pageHeaderSize+metaSize))
	pageSize := int64(0)
	var m1 meta
	if m0.err == nil {
		pageSize = int64(m0.pageSize)
		m1 = parseMeta(readPage(pageSize, pageHeaderSize+metaSize))
	} else {
		// Meta 0 is damaged: find meta 1 at one of the possible page sizes.
		magicSeen := false
		for ps := int64(minPageSize); ps <= maxPageSize; ps *= 2 {
			c := parseMeta(readPage(ps, pageHeaderSize+metaSize))
			if c.magic == boltMagic {
				magicSeen = true
			}
			if c.err == nil && int64(c.pageSize) == ps {
				pageSize, m1 = ps, c
				break
			}
		}
		if pageSize == 0 {
			if m0.magic != boltMagic && !magicSeen {
				return fmt.Errorf("%w: %s is not a bbolt file: no bbolt magic %#x in either meta page (first meta: %v)",
					engine.ErrWrongEngine, path, boltMagic, m0.err)
			}
			return corrupt("both meta pages are invalid (meta 0: %v; meta 1 not found at any page size)", m0.err)
		}
	}
	if m0.err != nil && m1.err != nil {
		return corrupt("both meta pages are invalid (meta 0: %v; meta 1: %v)", m0.err, m1.err)
	}
	if size < 2*pageSize {
		return corrupt("truncated: shorter than its two %d-byte meta pages", pageSize)
	}
	// bbolt uses the valid meta with the higher transaction id.
	use := m0
	if m0.err != nil || (m1.err == nil && m1.txid > m0.txid) {
		use = m1
	}
	if need := int64(use.pgid) * pageSize; need > size || need/pageSize != int64(use.pgid) {
		return corrupt("truncated or damaged: its newest meta page (txid %d) says the data takes %d pages of %d bytes = %d bytes, past the end of the file: "+
			"the file was cut short (a partial copy, a full disk) or that meta page is damaged", use.txid, use.pgid, pageSize, need)
	}
	if err := checkPageHeader(readPage(int64(use.root)*pageSize, pageHeaderSize), use.root, branchPageFlag|leafPageFlag); err != nil {
		return corrupt("root page %d: %v", use.root, err)
	}
	if use.freelist != noFreelist {
		if err := checkPageHeader(readPage(int64(use.freelist)*pageSize, pageHeaderSize), use.freelist, freelistPageFlag); err != nil {
			return corrupt("freelist page %d: %v", use.freelist, err)
		}
	}
	return nil
}

// checkPageHeader checks that a page header carries its own id and one of the
// wanted flags.
func checkPageHeader(b []byte, id uint64, flags uint16) error {
	if len(b) < pageHeaderSize {
		return io.ErrUnexpectedEOF
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(b[0:]); got != id {
		return fmt.Errorf("header says page %d", got)
	}
	if got := ne.Uint16(b[8:]); got&flags == 0 {
		return fmt.Errorf("flags %#x, want one of %#x", got, flags)
	}
	return nil
}

// checkImageHeader checks that b, the first bytes of an image, starts with a
// bbolt meta page: tx.WriteTo writes meta 0 first.
func checkImageHeader(b []byte) error {
	if len(b) < pageHeaderSize+4 {
		return fmt.Errorf("%w: bbolt image is %d bytes, too short to hold a meta page", engine.ErrWrongEngine, len(b))
	}
	if got := binary.NativeEndian.Uint32(b[pageHeaderSize:]); got != boltMagic {
		return fmt.Errorf("%w: not a bbolt image: meta page magic is %#x, want %#x", engine.ErrWrongEngine, got, boltMagic)
	}
	return nil
}
