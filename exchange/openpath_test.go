package exchange_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	sealcrypto "github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/bundle"
)

// dropAndRun leaves data on the drop from us to uk under a bundle name,
// runs uk's pull, and returns the name.
func dropAndRun(t *testing.T, w *world, data []byte) string {
	t.Helper()
	name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	must(t, os.WriteFile(filepath.Join(w.srv.root, us+"-to-"+uk, name), data, 0o644))
	w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
	return name
}

// wantQuarantined checks that uk refused the file name with code.
func wantQuarantined(t *testing.T, w *world, what, name, code string) {
	t.Helper()
	var rj struct{ Code, Reason string }
	data, err := os.ReadFile(filepath.Join(w.sides[uk].state("quarantine", us), name+".reason.json"))
	if err != nil {
		t.Errorf("%s: not refused: %v", what, err)
		return
	}
	must(t, json.Unmarshal(data, &rj))
	if rj.Code != code {
		t.Errorf("%s: refused with code %q (%s), want %q", what, rj.Code, rj.Reason, code)
	}
}

// TestOpenPathRefusals drops bundles that break the open path's rules and
// checks each is refused with its own code through the engine: data after
// the encrypted packet (SEIPDv1 and v2, streamed during the download and
// read from the file after a crash), and a failed verification whose last
// read also brings data the archive refuses.
func TestOpenPathRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "limits:\n  max_bytes: 1MiB\n  max_files: 8", us, uk)
	ours, theirs := w.sides[us], w.sides[uk]
	ukE := theirs.secretEntity(t)
	usKey := signingKey(t, ours.secretEntity(t))
	self, toUK := exchange.EngineKeys(ours.eng).Self(), exchange.EngineKeys(ours.eng).Peer(uk)
	a := regEntry("payload/a.txt", "alpha")
	goodTar := tarOf(t, a, manifestEntry(t, manifestFor(us, uk, a)))
	junkTar := append(bytes.Clone(goodTar), "JUNK"...) // refused by the archive reader, after the tar
	v1 := sealPlain(t, self, toUK, sealcrypto.SealOptions{Profile: sealcrypto.ProfileRFC4880}, goodTar)
	v2 := sealPlain(t, self, toUK, sealcrypto.SealOptions{Profile: sealcrypto.ProfileRFC9580}, goodTar)
	junk := sealPlain(t, self, toUK, sealcrypto.SealOptions{}, junkTar)
	armoured := sealPlain(t, self, toUK, sealcrypto.SealOptions{Armor: true}, goodTar)
	noManifest := tarOf(t, a)
	bigNoManifest := tarOf(t, regEntry("payload/big", strings.Repeat("\x00", 900<<10)))
	// opsLit is plain behind our one-pass signature, encrypted to uk, and
	// whatever follows it in the encrypted data.
	opsLit := func(plain []byte, after ...byte) []byte {
		return encryptRaw(t, append(newSigned(t, usKey, crypto.SHA256).ops().lit(plain).bytes(), after...), true, ukE)
	}

	cases := []hostileCase{
		{"bytes appended to a SEIPDv1 bundle", append(bytes.Clone(v1), "appended"...), "integrity"},
		{"bytes appended to a SEIPDv2 bundle", append(bytes.Clone(v2), "appended"...), "integrity"},
		{"a zero octet appended to a SEIPDv1 bundle", append(bytes.Clone(v1), 0), "integrity"},
		{"a whole second bundle appended", append(bytes.Clone(v1), v1...), "integrity"},
		{"text appended after an armoured bundle", append(armoured, "appended\n"...), "integrity"},
		{"archive junk, signature an hour in the future", byUsHash(t, usKey, crypto.SHA256, time.Now().Add(time.Hour), junkTar, ukE), "unsigned"},
		{"archive junk, SHA-1 signature", byUsHash(t, usKey, crypto.SHA1, time.Now(), junkTar, ukE), "unsigned"},
		{"archive junk, MDC modified", flipByte(junk, len(junk)-5), "integrity"},
		{"archive junk, well signed", junk, "archive"},
		// go-crypto returns the last literal octets with the error it
		// meets after them: the archive's refusal must not hide it.
		{"archive junk, no signature after the data", opsLit(junkTar), "integrity"},
		{"no manifest, no signature after the data", opsLit(noManifest), "integrity"},
		{"a large file, no manifest, no signature after the data", opsLit(bigNoManifest), "integrity"},
		{"archive junk, a user id packet after the data", opsLit(junkTar, 0xCD, 1, 'x'), "integrity"},
	}
	for _, c := range cases {
		name := dropAndRun(t, w, c.data)
		wantQuarantined(t, w, c.name, name, c.code)
	}

	// The same files read from work/<p>/in, as after a crash during the pull.
	in := theirs.state("work", us, "in")
	byName := map[string]hostileCase{}
	for _, c := range cases {
		name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
		must(t, os.WriteFile(filepath.Join(in, name), c.data, 0o600))
		byName[name] = c
	}
	theirs.eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
	for name, c := range byName {
		wantQuarantined(t, w, c.name+" (from the file)", name, c.code)
	}
	if n := len(w.inbox(uk, us)); n != 0 {
		t.Errorf("inbox holds %d bundles, want none", n)
	}
}

// compressedBomb is a stranger's message to `to`: compressed data holding a
// one-pass signature that names opsKey, then a tar of zeros bytes of zeros
// in literal data. It carries no signature: it is refused in any case; what
// counts is how much the receiver writes before refusing it.
func compressedBomb(t *testing.T, opsKey *packet.PrivateKey, zeros int64, to *openpgp.Entity) []byte {
	var plain bytes.Buffer
	z, err := packet.SerializeCompressed(nopWriteCloser{&plain}, packet.CompressionZLIB, nil)
	must(t, err)
	ops := &packet.OnePassSignature{Version: 3, SigType: packet.SigTypeBinary, Hash: crypto.SHA256,
		PubKeyAlgo: opsKey.PubKeyAlgo, KeyId: opsKey.KeyId, IsLast: true}
	must(t, ops.Serialize(z))
	lit, err := packet.SerializeLiteral(z, true, "", 0)
	must(t, err)
	tw := tar.NewWriter(lit)
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "payload/zeros", Size: zeros, Mode: 0o644}))
	_, err = io.CopyN(tw, zeroReader{}, zeros)
	must(t, err)
	must(t, tw.Close())
	must(t, lit.Close())
	must(t, z.Close())
	return encryptRaw(t, plain.Bytes(), true, to)
}

// written is the number of octets this process has passed to write(2)
// so far (/proc/self/io wchar): it includes all that pull writes to stage/.
func written(t *testing.T) int64 {
	f, err := os.Open("/proc/self/io")
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "wchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			must(t, err)
			return n
		}
	}
	t.Fatal("no wchar in /proc/self/io")
	return 0
}

// TestStrangerCompressionBombWritesLittle drops a stranger's compression
// bomb (32 MiB of zeros in about 32 KiB), with limits.max_bytes far above
// it, and counts what the pull writes: nothing reaches stage/ when no
// one-pass signature names a pinned key, and with a forged one that does,
// no more than crypto.MaxExpansion times the file (per open: the file is
// opened during the download and, refused, again from disk).
func TestStrangerCompressionBombWritesLittle(t *testing.T) {
	w := newWorld(t, loopbackServer(t), "limits:\n  max_bytes: 1GiB\n  max_files: 8", us, uk)
	ukE := w.sides[uk].secretEntity(t)
	stranger, err := openpgp.NewEntity("stranger", "", "stranger@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519})
	must(t, err)
	const zeros = 32 << 20
	const overhead = 4 << 20 // the download, the logs, the receipt
	cases := []struct {
		name  string
		key   *packet.PrivateKey
		code  string
		bound func(size int64) int64
	}{
		{"one-pass signature by the stranger", signingKey(t, stranger), "unknown_signer",
			func(int64) int64 { return overhead }},
		{"one-pass signature forged to name the partner", signingKey(t, w.sides[us].secretEntity(t)), "limits",
			func(size int64) int64 { return overhead + 2*(sealcrypto.MaxExpansion*size+1<<20) }},
	}
	for _, c := range cases {
		bomb := compressedBomb(t, c.key, zeros, ukE)
		before := written(t)
		name := dropAndRun(t, w, bomb)
		n := written(t) - before
		wantQuarantined(t, w, c.name, name, c.code)
		t.Logf("%s: a %d-byte file expanding to %d MiB made the pull write %d bytes", c.name, len(bomb), zeros>>20, n)
		if max := c.bound(int64(len(bomb))); n > max {
			t.Errorf("%s: the pull wrote %d bytes, want at most %d", c.name, n, max)
		}
	}
}
