package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"crypto/subtle"
	"hash"
	"io"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Open decrypts the message itself, so that the decrypted stream passes
// through the inner framer before go-crypto parses it. For SEIPDv1, the
// format GnuPG 2.2 writes, go-crypto decrypts with its own OCFB mode a
// byte at a time (about 150 MB/s); this path uses crypto/cipher's CFB and
// checks the MDC with SHA-1 hashed beside the decryption. Other
// integrity-protected packets are decrypted by go-crypto's packet layer.
// When no session key packet for our key opens the message, it is handed
// back to go-crypto, which reads it again from its first octet (the bytes
// read so far are replayed) only to say why it cannot be opened.

// recorder keeps what is read through it until stop, for a replay.
type recorder struct {
	r    io.Reader
	buf  bytes.Buffer
	stop bool
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	if !rc.stop {
		rc.buf.Write(p[:n])
	}
	return n, err
}

// replay returns a reader of the whole message: what was recorded, then
// the rest.
func (rc *recorder) replay() io.Reader {
	rc.stop = true
	return io.MultiReader(bytes.NewReader(rc.buf.Bytes()), rc.r)
}

// openSEIPD1 reads the session key packets and the encrypted packet's
// header from rec and returns the decrypted inner packet stream, with the
// key and cipher that opened it, or nil when it cannot open it with our
// key (then nothing is decided: replay it; ring.openedSession says whether
// our key opened a session key that does not fit). A SEIPDv1 packet with an AES
// key is decrypted by mdcReader, any other integrity-protected packet by
// go-crypto's packet layer.
func openSEIPD1(rec *recorder, ring *keyRing, self *Self, cfg *packet.Config) (io.Reader, openpgp.Key, packet.CipherFunction) {
	packets := packet.NewReader(rec)
	var keys []*packet.EncryptedKey
	var edp packet.EncryptedDataPacket
	for edp == nil {
		p, err := packets.Next()
		if err != nil {
			return nil, openpgp.Key{}, 0
		}
		switch p := p.(type) {
		case *packet.EncryptedKey:
			keys = append(keys, p)
		case *packet.SymmetricKeyEncrypted:
			// For a passphrase we do not have: the message may also be
			// encrypted to us.
		case *packet.SymmetricallyEncrypted:
			if !p.IntegrityProtected {
				return nil, openpgp.Key{}, 0
			}
			edp = p
		case *packet.AEADEncrypted:
			edp = p
		default:
			return nil, openpgp.Key{}, 0
		}
	}
	d := &decrypter{edp: edp}
	if se, ok := edp.(*packet.SymmetricallyEncrypted); ok && se.Version == 1 {
		d.v1, d.body = se, se.Contents
		if _, err := io.ReadFull(se.Contents, d.prefix[:]); err != nil {
			return nil, openpgp.Key{}, 0
		}
	}
	for _, ek := range keys {
		for _, e := range ring.EntitiesById(ek.KeyId) {
			if e != self.entity {
				continue // only our own key decrypts
			}
			// As go-crypto: key expiry does not stop decryption of old messages.
			for _, k := range e.DecryptionKeys(ek.KeyId, time.Time{}, cfg) {
				if k.PrivateKey == nil || k.PrivateKey.Encrypted {
					continue
				}
				if ek.Decrypt(k.PrivateKey, cfg) != nil {
					continue
				}
				ring.openedSession = true
				if r, c := d.decrypt(ek); r != nil {
					rec.stop = true
					rec.buf = bytes.Buffer{}
					return r, k, c
				}
			}
		}
	}
	return nil, openpgp.Key{}, 0
}

// decrypter tries session keys on one encrypted packet.
type decrypter struct {
	edp    packet.EncryptedDataPacket
	v1     *packet.SymmetricallyEncrypted // set for SEIPDv1
	body   io.Reader                      // v1: the ciphertext after the prefix
	prefix [aes.BlockSize + 2]byte        // v1: the first octets of the ciphertext
}

// decrypt returns the plaintext reader for the session key in ek and the
// cipher, or nil if the key does not open the packet.
func (d *decrypter) decrypt(ek *packet.EncryptedKey) (io.Reader, packet.CipherFunction) {
	if d.v1 == nil {
		r, err := d.edp.Decrypt(ek.CipherFunc, ek.Key)
		if err != nil {
			return nil, 0
		}
		if se, ok := d.edp.(*packet.SymmetricallyEncrypted); ok {
			return &checkAtEOF{r}, se.Cipher
		}
		return &checkAtEOF{r}, ek.CipherFunc
	}
	if r := newMDCReader(d.body, ek.CipherFunc, ek.Key, d.prefix); r != nil {
		return r, ek.CipherFunc
	}
	if isAES(ek.CipherFunc) {
		return nil, 0
	}
	// Another cipher: go-crypto reads the prefix again (blocks are at most
	// 16 octets, so the prefix read holds all of it).
	d.v1.Contents = io.MultiReader(bytes.NewReader(d.prefix[:]), d.body)
	r, err := d.v1.Decrypt(ek.CipherFunc, ek.Key)
	if err != nil {
		return nil, 0
	}
	return &checkAtEOF{r}, ek.CipherFunc
}

// checkAtEOF turns go-crypto's decrypting reader, which checks the MDC or
// the final AEAD tag in Close, into one that checks it before io.EOF.
type checkAtEOF struct{ rc io.ReadCloser }

func (c *checkAtEOF) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	if err == io.EOF {
		if cerr := c.rc.Close(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func isAES(c packet.CipherFunction) bool {
	return c == packet.CipherAES128 || c == packet.CipherAES192 || c == packet.CipherAES256
}

// mdcBuf is the plaintext decrypted per read of the ciphertext.
const mdcBuf = 256 << 10

// mdcReader decrypts a SEIPDv1 body after its prefix, holding back the
// last 22 octets (the MDC packet); it returns io.EOF only once the MDC
// matches the SHA-1 of prefix and plaintext. The SHA-1 of each buffer runs
// in a goroutine while the reader's caller consumes it.
type mdcReader struct {
	src     io.Reader
	cfb     cipher.Stream
	h       hash.Hash
	buf     []byte // [carry][decrypted ciphertext]
	out     []byte // plaintext ready for the caller, a part of buf
	carry   int    // held-back octets at buf's start
	hashing chan struct{}
	eof     bool
	err     error
}

// newMDCReader checks the prefix against key (the "quick check" of
// RFC 4880 §5.7) and returns the reader, or nil if the key does not fit.
func newMDCReader(src io.Reader, c packet.CipherFunction, key []byte, prefix [aes.BlockSize + 2]byte) *mdcReader {
	if !isAES(c) {
		return nil
	}
	if len(key) != c.KeySize() {
		return nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil
	}
	// SEIPDv1 is CFB by definition (RFC 9580 §5.13.1); nothing decrypted
	// here is trusted before the MDC and the signature are checked.
	//lint:ignore SA1019 the OpenPGP format, not a choice: see above.
	cfb := cipher.NewCFBDecrypter(block, make([]byte, aes.BlockSize))
	var plain [aes.BlockSize + 2]byte
	cfb.XORKeyStream(plain[:], prefix[:])
	if plain[aes.BlockSize-2] != plain[aes.BlockSize] || plain[aes.BlockSize-1] != plain[aes.BlockSize+1] {
		return nil
	}
	r := &mdcReader{src: src, cfb: cfb, h: sha1.New(), buf: make([]byte, mdcTrailerSize+mdcBuf)}
	r.h.Write(plain[:])
	return r
}

const mdcTrailerSize = 2 + sha1.Size

var errMDC = pgperrors.ErrMDCHashMismatch

func (r *mdcReader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.fill()
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// fill decrypts the next buffer and starts hashing the part of it that
// is not held back; at the end of the ciphertext it checks the MDC.
func (r *mdcReader) fill() {
	if r.eof {
		r.finish()
		return
	}
	r.wait() // the buffer is about to be reused
	copy(r.buf, r.buf[len(r.buf)-r.carry:])
	n, err := io.ReadFull(r.src, r.buf[r.carry:cap(r.buf)])
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		r.eof = true
	case err != nil:
		r.err = err
		return
	}
	r.cfb.XORKeyStream(r.buf[r.carry:r.carry+n], r.buf[r.carry:r.carry+n])
	r.buf = r.buf[:r.carry+n]
	ready := max(len(r.buf)-mdcTrailerSize, 0)
	r.carry = len(r.buf) - ready
	r.out = r.buf[:ready]
	if ready > 0 {
		done := make(chan struct{})
		r.hashing = done
		go func(b []byte) {
			r.h.Write(b)
			close(done)
		}(r.out)
	}
	if r.eof && ready == 0 {
		r.finish()
	}
}

// wait waits for the hashing of the previous buffer.
func (r *mdcReader) wait() {
	if r.hashing != nil {
		<-r.hashing
		r.hashing = nil
	}
}

// finish checks the MDC packet held back at the end.
func (r *mdcReader) finish() {
	r.wait()
	if r.carry != mdcTrailerSize {
		r.err = io.ErrUnexpectedEOF
		return
	}
	trailer := r.buf[len(r.buf)-mdcTrailerSize:]
	r.h.Write(trailer[:2])
	sum := r.h.Sum(nil)
	if subtle.ConstantTimeCompare(sum, trailer[2:]) != 1 || trailer[0] != 0xD3 || trailer[1] != sha1.Size {
		r.err = errMDC
		return
	}
	r.err = io.EOF
}
