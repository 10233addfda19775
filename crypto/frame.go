package crypto

import (
	"bytes"
	"compress/bzip2"
	"compress/flate"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Open reads a stranger's bytes before any of them is authenticated, and
// go-crypto buffers some packets whole when it parses them (unknown,
// user id, key and signature packets). A framer stands in front of
// go-crypto on each layer of the message: it checks each packet's type and
// size against what a sealed message may hold, passes on the small packets
// (at most one in memory at a time) and streams the data packets, drops
// the packets a reader ignores (within a budget), and, inside the
// encryption, decompresses compressed data itself so that go-crypto sees
// only one-pass signatures, the literal data and signatures. So the memory
// Open uses is bounded whatever the input, and its work is linear in it.

// Packet tags (RFC 9580 §5); tagLiteral and tagSEIPD are in seipd.go.
const (
	tagPKESK      = 1
	tagSignature  = 2
	tagSKESK      = 3
	tagOPS        = 4
	tagCompressed = 8
	tagSED        = 9
	tagMarker     = 10
	tagAEAD       = 20
	tagPadding    = 21
	tagFirstSoft  = 40 // tags from 40 on may be ignored
)

// Bounds on what Open reads before the signature is verified.
const (
	// maxKeyPacket bounds one session key packet (an ML-KEM-1024+X448 one
	// is under 2 KiB), maxKeyPackets their number.
	maxKeyPacket  = 16 << 10
	maxKeyPackets = 64
	// maxSigPacket bounds one signature or one-pass signature packet,
	// maxSignatures the number of each.
	maxSigPacket  = 64 << 10
	maxSignatures = 8
	// maxIgnored bounds the packets dropped unread (padding, markers,
	// unknown non-critical packets) on each layer.
	maxIgnored = 1 << 20
	// MaxExpansion bounds compressed data before it is authenticated: at
	// most MaxExpansion decompressed bytes per compressed byte, plus
	// expansionSlack. Beyond it the message is refused (ErrLimits).
	MaxExpansion   = 100
	expansionSlack = 1 << 20
)

// errNested refuses a decrypted stream that holds more encryption.
var errNested = errors.New("encrypted data inside the encrypted data")

// pktHeader is a packet header as read.
type pktHeader struct {
	raw     []byte // the octets read: tag and length
	tag     int
	length  int64 // of the packet, or its first chunk; -1: to the end of the stream
	partial bool
}

// readPktHeader reads a packet header; io.EOF means a clean end.
func readPktHeader(r io.Reader) (pktHeader, error) {
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return pktHeader{}, err
	}
	h := pktHeader{raw: []byte{b[0]}}
	switch {
	case b[0]&0x80 == 0:
		return h, fmt.Errorf("octet %#02x is not a packet tag", b[0])
	case b[0]&0x40 != 0:
		h.tag = int(b[0] & 0x3f)
		return h, h.readLength(r)
	}
	h.tag = int(b[0]>>2) & 0x0f
	if b[0]&3 == 3 {
		h.length = -1
		return h, nil
	}
	n := 1 << (b[0] & 3)
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, unexpected(err)
	}
	h.raw = append(h.raw, buf...)
	for _, c := range buf {
		h.length = h.length<<8 | int64(c)
	}
	return h, nil
}

// readLength reads a new-format length (RFC 9580 §4.2.1) after the tag.
func (h *pktHeader) readLength(r io.Reader) error {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:1]); err != nil {
		return unexpected(err)
	}
	h.raw = append(h.raw, b[0])
	h.partial = false
	switch {
	case b[0] < 192:
		h.length = int64(b[0])
	case b[0] < 224:
		first := int64(b[0]-192) << 8
		if _, err := io.ReadFull(r, b[:1]); err != nil {
			return unexpected(err)
		}
		h.raw = append(h.raw, b[0])
		h.length = first + int64(b[0]) + 192
	case b[0] < 255:
		h.length, h.partial = int64(1)<<(b[0]&0x1f), true
	default:
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return unexpected(err)
		}
		h.raw = append(h.raw, b[:]...)
		h.length = int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// body reads one packet's body across its partial-length chunks. With raw
// set it also returns the chunks' length octets, so that the packet can be
// passed on as it was.
type body struct {
	r         io.Reader
	remaining int64 // in the current chunk; -1: to the end of r
	partial   bool  // more chunks follow this one
	raw       bool
	pending   []byte // length octets still to return (raw)
	n         int64  // body octets read
}

func newBody(r io.Reader, h pktHeader, raw bool) *body {
	return &body{r: r, remaining: h.length, partial: h.partial, raw: raw}
}

// done reports whether the whole body has been returned.
func (b *body) done() bool { return b.remaining == 0 && !b.partial && len(b.pending) == 0 }

func (b *body) Read(p []byte) (int, error) {
	for len(b.pending) == 0 && b.remaining == 0 {
		if !b.partial {
			return 0, io.EOF
		}
		h := pktHeader{}
		if err := h.readLength(b.r); err != nil {
			return 0, err
		}
		b.remaining, b.partial = h.length, h.partial
		if b.raw {
			b.pending = h.raw
		}
	}
	if len(b.pending) > 0 {
		n := copy(p, b.pending)
		b.pending = b.pending[n:]
		return n, nil
	}
	if b.remaining > 0 && int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.remaining > 0 {
		b.remaining -= int64(n)
	}
	switch {
	case err == io.EOF && b.remaining < 0:
		b.remaining = 0
	case err == io.EOF && (b.remaining > 0 || b.partial):
		return n, io.ErrUnexpectedEOF
	case err == io.EOF:
		err = nil
	}
	return n, err
}

// framer passes a packet stream on after checking it (see the top of this
// file). The outer framer reads the message as sent; the inner framer the
// decrypted stream. A refusal is sticky and kept in err, so that Open
// reports it whatever go-crypto makes of it.
type framer struct {
	src     io.Reader // the layer being read
	parent  io.Reader // the decrypted stream, while src is compressed data in it
	zbody   *body     // the compressed packet's body, while src decompresses it
	zout    int64     // octets decompressed
	out     []byte    // octets ready to pass on
	cur     *body     // the data packet being streamed
	last    bool      // cur is the encrypted data: nothing may follow it
	opened  bool      // outer: our key opened the encrypted data
	end     bool      // the stream ended where it may
	ignored int64
	err     error // the refusal
	inner   bool
	from    *Peer // inner: the partner whose keys a signature must name

	keys, ops, sigs int
	named, pinned   bool // a signature ahead of the literal data names a key, a partner's key
	literal         bool
}

func newOuterFramer(src io.Reader) *framer { return &framer{src: src} }

func newInnerFramer(src io.Reader, from *Peer) *framer {
	return &framer{src: src, inner: true, from: from}
}

// refusal returns the framer's refusal, or nil.
func (f *framer) refusal() error {
	if f == nil {
		return nil
	}
	var r *refusal
	if errors.As(f.err, &r) {
		return f.err
	}
	return nil
}

func (f *framer) Read(p []byte) (int, error) {
	for len(f.out) == 0 {
		switch {
		case f.err != nil:
			return 0, f.err
		case f.end:
			return 0, io.EOF
		case f.cur != nil:
			if n, err := f.stream(p); n > 0 || err != nil {
				return n, err
			}
		default:
			f.err = f.next()
		}
	}
	n := copy(p, f.out)
	f.out = f.out[n:]
	return n, nil
}

// stream passes on the data packet being read. At the end of the
// encrypted data it first makes sure that nothing follows.
func (f *framer) stream(p []byte) (int, error) {
	n, err := f.cur.Read(p)
	if err == io.EOF {
		f.cur, err = nil, nil
		f.end = f.last
	}
	if err != nil {
		f.err = err
		return 0, err
	}
	if f.last && f.cur != nil && f.cur.done() {
		if err := f.checkEnd(); err != nil {
			f.err = err
			return 0, err
		}
	}
	return n, nil
}

// checkEnd refuses data after the encrypted packet: an integrity failure
// once our key opened it, else not a message for us.
func (f *framer) checkEnd() error {
	var b [1]byte
	n, err := io.ReadFull(f.src, b[:])
	switch {
	case n > 0 && f.opened:
		return refuse(ErrIntegrity, errors.New("data follows the encrypted packet"))
	case n > 0:
		return refuse(ErrDecrypt, errors.New("data follows the encrypted packet"))
	case err != io.EOF:
		return err
	}
	return nil
}

// finish reads the decrypted stream to its end, which checks its MDC or
// final tag, and refuses any data left after the signatures.
func (f *framer) finish() error {
	var b [1]byte
	n, err := io.ReadFull(f, b[:])
	switch {
	case n > 0:
		f.err = refuse(ErrIntegrity, errors.New("data follows the signatures"))
		return f.err
	case err != io.EOF:
		return err
	}
	return nil
}

// next reads the next packet header and acts on it.
func (f *framer) next() error {
	h, err := readPktHeader(f.src)
	if err == io.EOF {
		return f.layerEnd()
	}
	if err != nil {
		return f.keep(err)
	}
	if f.inner {
		return f.innerPacket(h)
	}
	return f.outerPacket(h)
}

// malformed classifies a broken packet stream: inside the encryption it
// is an integrity failure, outside it is not a message for us.
func (f *framer) malformed(err error) error {
	if err == io.ErrUnexpectedEOF {
		return err // the reader above decides what a truncation means
	}
	if f.inner {
		return refuse(ErrIntegrity, err)
	}
	return refuse(ErrDecrypt, err)
}

// layerEnd ends the stream, or the compressed data within it.
func (f *framer) layerEnd() error {
	if f.zbody == nil {
		f.end = true
		return nil
	}
	if _, err := io.Copy(io.Discard, f.zbody); err != nil {
		return f.keep(err)
	}
	f.src, f.parent, f.zbody = f.parent, nil, nil
	return nil
}

// outerPacket handles a packet of the message as sent.
func (f *framer) outerPacket(h pktHeader) error {
	switch {
	case h.tag == tagPKESK || h.tag == tagSKESK:
		if f.keys++; f.keys > maxKeyPackets {
			return refuse(ErrDecrypt, fmt.Errorf("more than %d session key packets", maxKeyPackets))
		}
		return f.pass(h, maxKeyPacket)
	case h.tag == tagSEIPD || h.tag == tagSED || h.tag == tagAEAD:
		f.out, f.cur, f.last = h.raw, newBody(f.src, h, true), true
		return nil
	case ignorable(h.tag):
		return f.skip(h)
	}
	return refuse(ErrDecrypt, fmt.Errorf("the message is not encrypted: a packet of type %d comes before any encrypted data", h.tag))
}

// innerPacket handles a packet of the decrypted (or decompressed) stream.
func (f *framer) innerPacket(h pktHeader) error {
	switch h.tag {
	case tagOPS, tagSignature:
		return f.signature(h)
	case tagLiteral:
		return f.literalData(h)
	case tagCompressed:
		return f.decompress(h)
	case tagPKESK, tagSKESK, tagSEIPD, tagSED, tagAEAD:
		return refuse(ErrIntegrity, errNested)
	}
	if ignorable(h.tag) {
		return f.skip(h)
	}
	return refuse(ErrIntegrity, fmt.Errorf("a packet of type %d inside the encrypted data", h.tag))
}

// ignorable reports whether a reader drops a packet of that type.
func ignorable(tag int) bool {
	return tag == tagMarker || tag == tagPadding || tag >= tagFirstSoft
}

// signature passes on a one-pass signature or signature packet and, ahead
// of the literal data, notes whether it names one of the partner's keys.
// A signature without an issuer names none: go-crypto refuses it.
func (f *framer) signature(h pktHeader) error {
	count := &f.sigs
	if h.tag == tagOPS {
		count = &f.ops
	}
	if *count++; *count > maxSignatures {
		return refuse(ErrIntegrity, fmt.Errorf("more than %d signature packets of type %d", maxSignatures, h.tag))
	}
	if h.tag == tagOPS && f.literal {
		return refuse(ErrIntegrity, errors.New("a one-pass signature follows the literal data"))
	}
	if err := f.pass(h, maxSigPacket); err != nil {
		return err
	}
	if id, ok := issuer(f.out); ok && !f.literal {
		f.named = true
		f.pinned = f.pinned || f.from.hasKeyID(id)
	}
	return nil
}

// issuer returns the key id a one-pass signature or signature packet
// names; false for a packet go-crypto cannot parse (it skips or refuses
// those) or a signature without an issuer.
func issuer(pkt []byte) (uint64, bool) {
	p, err := packet.Read(bytes.NewReader(pkt))
	if err != nil {
		return 0, false
	}
	switch p := p.(type) {
	case *packet.OnePassSignature:
		return p.KeyId, true
	case *packet.Signature:
		if p.IssuerKeyId != nil {
			return *p.IssuerKeyId, true
		}
	}
	return 0, false
}

// hasKeyID reports whether id names a key the partner may sign with: any
// key of a primary-pinned entity, or a pinned signing subkey (peerRing).
func (p *Peer) hasKeyID(id uint64) bool {
	return len(peerRing{p}.EntitiesById(id)) > 0
}

// literalData streams the literal data packet once a signature ahead of it
// names one of the partner's keys: no data of anyone else is passed on.
func (f *framer) literalData(h pktHeader) error {
	switch {
	case f.literal:
		return refuse(ErrIntegrity, errors.New("a second literal data packet"))
	case !f.named:
		return refuse(ErrUnsigned, errors.New("no signature precedes the literal data"))
	case !f.pinned:
		return refuse(ErrUnknownSigner, errors.New("no one-pass signature names a key pinned for the partner"))
	}
	f.literal = true
	f.out, f.cur = h.raw, newBody(f.src, h, true)
	return nil
}

// decompress reads the packets inside compressed data in its place, within
// MaxExpansion. Compressed data inside compressed data is refused.
func (f *framer) decompress(h pktHeader) error {
	if f.zbody != nil || f.literal {
		return refuse(ErrIntegrity, errors.New("compressed data where only signed data may be"))
	}
	zb := newBody(f.src, h, false)
	var algo [1]byte
	if _, err := io.ReadFull(zb, algo[:]); err != nil {
		return f.keep(unexpected(err))
	}
	var z io.Reader
	var err error
	switch packet.CompressionAlgo(algo[0]) {
	case packet.CompressionNone:
		z = zb
	case packet.CompressionZIP:
		z = flate.NewReader(zb)
	case packet.CompressionZLIB:
		z, err = zlib.NewReader(zb)
	case 3: // BZip2
		z = bzip2.NewReader(zb)
	default:
		err = fmt.Errorf("unknown compression algorithm %d", algo[0])
	}
	if err != nil {
		return f.malformed(err)
	}
	f.parent, f.zbody, f.src = f.src, zb, &expander{r: z, f: f}
	return nil
}

// expander counts decompressed octets against MaxExpansion.
type expander struct {
	r io.Reader
	f *framer
}

func (x *expander) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	x.f.zout += int64(n)
	if x.f.zout > MaxExpansion*x.f.zbody.n+expansionSlack {
		return 0, refuse(ErrLimits, fmt.Errorf("compressed data expands more than %d times", MaxExpansion))
	}
	if err != nil && err != io.EOF {
		err = refuse(ErrIntegrity, fmt.Errorf("decompressing: %w", err))
	}
	return n, err
}

// pass reads a small packet whole, up to max octets, and queues it.
func (f *framer) pass(h pktHeader, max int64) error {
	if h.partial || h.length < 0 || h.length > max {
		return f.malformed(fmt.Errorf("a packet of type %d is larger than %d octets", h.tag, max))
	}
	buf := make([]byte, len(h.raw)+int(h.length))
	copy(buf, h.raw)
	if _, err := io.ReadFull(f.src, buf[len(h.raw):]); err != nil {
		return f.keep(unexpected(err))
	}
	f.out = buf
	return nil
}

// skip drops a packet unread, within maxIgnored for the stream.
func (f *framer) skip(h pktHeader) error {
	budget := maxIgnored - f.ignored
	n, err := io.CopyN(io.Discard, newBody(f.src, h, false), budget+1)
	f.ignored += n
	switch {
	case n > budget:
		return f.malformed(fmt.Errorf("more than %d octets of packets to ignore", maxIgnored))
	case err != nil && err != io.EOF:
		return f.keep(err)
	}
	return nil
}

// keep passes on a refusal from below (the expander's) or a read error.
func (f *framer) keep(err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return err
	}
	return f.malformed(err)
}
