package exchange_test

import (
	"archive/tar"
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/config"
	sealcrypto "github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/exchange/bundle"
	"github.com/sealpost/sealpost/internal/sftpd"
)

const fr = "fr-dgddi"

// hostileCase is one file a partner leaves on the drop, and the code it
// must be refused with ("" for the control case, which must be filed).
type hostileCase struct {
	name string
	data []byte
	code string
}

// hostileBundles crafts every refusal of SPEC §2 that a file from us to uk
// can carry, beside a hand-made well-formed control bundle.
func hostileBundles(t *testing.T, w *world) []hostileCase {
	ours, theirs, third := w.sides[us], w.sides[uk], w.sides[fr]
	usE, ukE, frE := ours.secretEntity(t), theirs.secretEntity(t), third.secretEntity(t)
	usKey := signingKey(t, usE)
	now := time.Now()
	keys := exchange.EngineKeys(ours.eng)
	self, toUK, toFR := keys.Self(), keys.Peer(uk), keys.Peer(fr)

	a := regEntry("payload/a.txt", "alpha")
	b := regEntry("payload/b.txt", "bravo")
	goodTar := func(entries ...tarEntry) []byte {
		return tarOf(t, append(entries, manifestEntry(t, manifestFor(us, uk, entries...)))...)
	}
	// byUs signs plain by our key with SHA-256 and encrypts it to uk with an MDC.
	byUs := func(plain []byte) []byte {
		return encryptRaw(t, newSigned(t, usKey, crypto.SHA256).ops().lit(plain).sig(now).bytes(), true, ukE, usE)
	}
	// sealed is a tar sealed by our real sealer: only the archive is hostile.
	sealed := func(plain []byte) []byte { return sealPlain(t, self, toUK, sealcrypto.SealOptions{}, plain) }

	stranger, err := openpgp.NewEntity("stranger", "", "stranger@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519})
	must(t, err)
	good := sealed(goodTar(regEntry("payload/big.txt", strings.Repeat("evidence ", 4000))))
	random := make([]byte, 8192)
	rand.Read(random)
	md5 := newSigned(t, usKey, crypto.SHA1)
	md5.md5 = true

	// Tar entries that are refused inside a well-signed bundle.
	withManifest := func(m func(*bundle.Manifest), entries ...tarEntry) []byte {
		man := manifestFor(us, uk, entries...)
		m(man)
		return tarOf(t, append(entries, manifestEntry(t, man))...)
	}
	// A NUL in a ustar name field ends the name, in Go's reader as in GNU
	// tar: what hides behind it is never a path, and the file it names is
	// not the one the manifest lists. A NUL in a pax path record is refused.
	nulName := patchTar(t, goodTar(a, regEntry("payload/xNy", "n")), "payload/xNy", "payload/x\x00y")
	nulPax := patchBytes(t, goodTar(a, regEntry("payload/x\u00e9y", "n")), "x\u00e9y", "x\x00zy")
	short := regEntry("payload/short.txt", "only a few bytes")
	short.hdr.Size = 4096 // the header promises more than the stream holds
	shortTar := tarOf(t, a, short)
	bigManifestSize := func(m *bundle.Manifest) { m.Files[0].Size = 6 }
	badHash := func(m *bundle.Manifest) { m.Files[0].SHA256 = strings.Repeat("0", 64) }
	wrongSender := func(m *bundle.Manifest) { m.Sender = fr }
	wrongRecipient := func(m *bundle.Manifest) { m.Recipient = fr }
	missing := func(m *bundle.Manifest) { m.Files = append(m.Files, manifestFor(us, uk, b).Files...) }
	extra := func(m *bundle.Manifest) { m.Files = m.Files[:1] }
	twice := tarOf(t, a, manifestEntry(t, manifestFor(us, uk, a)), manifestEntry(t, manifestFor(us, uk, a)))
	notLast := tarOf(t, a, manifestEntry(t, manifestFor(us, uk, a)), b)
	tooMany := make([]tarEntry, 0, 12)
	for i := range 12 {
		tooMany = append(tooMany, regEntry("payload/f"+string(rune('a'+i)), "x"))
	}
	var bomb bytes.Buffer
	bw, err := sealcrypto.Seal(&bomb, self, toUK, sealcrypto.SealOptions{Compress: true})
	must(t, err)
	tw := tar.NewWriter(bw)
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "payload/zeros", Size: 64 << 20, Mode: 0o644}))
	_, err = io.CopyN(tw, zeroReader{}, 64<<20)
	must(t, err)
	must(t, tw.Close())
	must(t, bw.Close())
	if bomb.Len() > 1<<20 {
		t.Fatalf("the compression bomb is %d bytes", bomb.Len())
	}

	return []hostileCase{
		{"control: crafted by hand, well formed", byUs(goodTar(a)), ""},
		// OpenPGP layer.
		{"empty file", nil, "decrypt"},
		{"garbage", random, "decrypt"},
		{"text", []byte("this is not an OpenPGP message\n"), "decrypt"},
		{"signed, not encrypted", newSigned(t, usKey, crypto.SHA256).ops().lit(goodTar(a)).sig(now).bytes(), "decrypt"},
		{"encrypted to someone else", sealPlain(t, self, toFR, sealcrypto.SealOptions{NoSelfCopy: true}, goodTar(a)), "decrypt"},
		{"no integrity protection (SED, no MDC)", encryptRaw(t, newSigned(t, usKey, crypto.SHA256).ops().lit(goodTar(a)).sig(now).bytes(), false, ukE), "integrity"},
		{"modified in the middle", flipByte(good, len(good)/2), "integrity"},
		{"modified in the MDC", flipByte(good, len(good)-5), "integrity"},
		{"truncated in half", good[:len(good)/2], "integrity"},
		{"truncated before the MDC", good[:len(good)-22], "integrity"},
		{"truncated in the session key", good[:40], "decrypt"},
		{"unsigned", encryptRaw(t, newSigned(t, usKey, crypto.SHA256).lit(goodTar(a)).bytes(), true, ukE), "unsigned"},
		{"signed by the receiver's own key", sealPlain(t, exchange.EngineKeys(theirs.eng).Self(), exchange.EngineKeys(theirs.eng).Self().Public(), sealcrypto.SealOptions{}, goodTar(a)), "unknown_signer"},
		{"signed by another partner", sealPlain(t, exchange.EngineKeys(third.eng).Self(), exchange.EngineKeys(third.eng).Peer(uk), sealcrypto.SealOptions{}, goodTar(a)), "unknown_signer"},
		{"signed by a stranger", encryptRaw(t, newSigned(t, signingKey(t, stranger), crypto.SHA256).ops().lit(goodTar(a)).sig(now).bytes(), true, ukE), "unknown_signer"},
		{"another partner's signature, our sender name", encryptRaw(t, newSigned(t, signingKey(t, frE), crypto.SHA256).ops().lit(goodTar(a)).sig(now).bytes(), true, ukE), "unknown_signer"},
		{"SHA-1 signature", byUsHash(t, usKey, crypto.SHA1, now, goodTar(a), ukE), "unsigned"},
		{"MD5 signature", encryptRaw(t, md5.ops().lit(goodTar(a)).sig(now).bytes(), true, ukE), "unsigned"},
		{"signature a year in the future", byUsHash(t, usKey, crypto.SHA256, now.Add(365*24*time.Hour), goodTar(a), ukE), "unsigned"},
		{"signature an hour in the future", byUsHash(t, usKey, crypto.SHA256, now.Add(time.Hour), goodTar(a), ukE), "unsigned"},
		{"two literal packets, both signed", encryptRaw(t, newSigned(t, usKey, crypto.SHA256).ops().lit(goodTar(a)).lit(goodTar(b)).sig(now).bytes(), true, ukE), "integrity"},
		{"literal data before the signed part", encryptRaw(t, newSigned(t, usKey, crypto.SHA256).lit(goodTar(b)).ops().lit(goodTar(a)).sig(now).bytes(), true, ukE), "unsigned"},
		{"literal data after the signature", encryptRaw(t, newSigned(t, usKey, crypto.SHA256).ops().lit(goodTar(a)).sig(now).lit(goodTar(b)).bytes(), true, ukE), "integrity"},
		{"signature without a one-pass header", encryptRaw(t, unhashedSig(t, usKey, now, goodTar(a)), true, ukE), "unsigned"},
		{"compression bomb (64 MiB of zeros)", bomb.Bytes(), "limits"},
		// Tar layer, well signed.
		{"sealed garbage", sealed(random), "archive"},
		{"tar entry with ..", sealed(goodTar(a, regEntry("payload/../../etc/x", "x"))), "archive"},
		{"tar entry with an absolute path", sealed(goodTar(a, regEntry("/etc/x", "x"))), "archive"},
		{"tar entry with a backslash", sealed(goodTar(a, regEntry(`payload\..\x`, "x"))), "archive"},
		{"tar entry with a NUL in its ustar name", sealed(nulName), "manifest"},
		{"tar entry with a NUL in its pax path", sealed(nulPax), "archive"},
		{"tar symbolic link", sealed(goodTar(a, specialEntry(tar.TypeSymlink, "payload/l", "/etc/passwd"))), "archive"},
		{"tar hard link", sealed(goodTar(a, specialEntry(tar.TypeLink, "payload/h", "payload/a.txt"))), "archive"},
		{"tar character device", sealed(goodTar(a, specialEntry(tar.TypeChar, "payload/c", ""))), "archive"},
		{"tar block device", sealed(goodTar(a, specialEntry(tar.TypeBlock, "payload/b", ""))), "archive"},
		{"tar named pipe", sealed(goodTar(a, specialEntry(tar.TypeFifo, "payload/f", ""))), "archive"},
		{"tar duplicate entry", sealed(tarOf(t, a, a, manifestEntry(t, manifestFor(us, uk, a)))), "archive"},
		{"tar duplicate after case folding", sealed(goodTar(a, regEntry("payload/A.TXT", "x"))), "archive"},
		{"tar duplicate after Unicode normalisation", sealed(goodTar(regEntry("payload/caf\u00e9", "x"), regEntry("payload/cafe\u0301", "y"))), "archive"},
		{"tar entry longer than the stream", sealed(shortTar), "archive"},
		{"tar without manifest", sealed(tarOf(t, a)), "archive"},
		{"manifest twice", sealed(twice), "archive"},
		{"a file after the manifest that it does not list", sealed(notLast), "manifest"},
		{"manifest size disagrees with the data", sealed(withManifest(bigManifestSize, a)), "manifest"},
		{"manifest hash wrong", sealed(withManifest(badHash, a)), "manifest"},
		{"manifest names a missing file", sealed(withManifest(missing, a)), "manifest"},
		{"archive holds a file not in the manifest", sealed(withManifest(extra, a, b)), "manifest"},
		{"manifest sender is another partner", sealed(withManifest(wrongSender, a)), "manifest"},
		{"manifest recipient is another partner", sealed(withManifest(wrongRecipient, a)), "manifest"},
		{"manifest not JSON", sealed(tarOf(t, a, regEntry("manifest.json", `{"format":`))), "manifest"},
		{"more files than limits.max_files", sealed(goodTar(tooMany...)), "limits"},
		{"tar path 2,000 folders deep", sealed(goodTar(a, regEntry("payload/"+strings.Repeat("a/", 2000)+"f", "x"))), "archive"},
		{"tar name with a zero-width space", sealed(goodTar(a, regEntry("payload/a\u200bb.txt", "x"))), "archive"},
		{"tar name with a soft hyphen", sealed(goodTar(a, regEntry("payload/in\u00advoice.pdf", "x"))), "archive"},
	}
}

// byUsHash signs plain with hash h at `at` and encrypts it to `to`.
func byUsHash(t *testing.T, key *packet.PrivateKey, h crypto.Hash, at time.Time, plain []byte, to *openpgp.Entity) []byte {
	return encryptRaw(t, newSigned(t, key, h).ops().lit(plain).sig(at).bytes(), true, to)
}

// unhashedSig is a literal packet followed by a signature with no one-pass
// signature packet before it: the old "signature after the data" form.
func unhashedSig(t *testing.T, key *packet.PrivateKey, at time.Time, plain []byte) []byte {
	s := newSigned(t, key, crypto.SHA256)
	s.h = crypto.SHA256.New()
	return s.lit(plain).sig(at).bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func flipByte(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

// TestHostileBundles puts every crafted refusal on the drop at once, then
// runs the receiver: only the control bundle is filed; each other file is
// quarantined with its reason code, logged as bundle.rejected with that
// code, and answered with a rejected receipt carrying it, which the
// sender receives; over SFTP and with the receiver hosting the drop.
func TestHostileBundles(t *testing.T) {
	t.Parallel()
	onEachTransport(t, uk, checkHostileBundles)
}

// checkHostileBundles is TestHostileBundles with the receiver reaching the
// drop by tr.
func checkHostileBundles(t *testing.T, tr transport) {
	w := newWorldOn(t, loopbackServer(t), tr, "limits:\n  max_bytes: 1MiB\n  max_files: 8", us, uk, fr)
	cases := hostileBundles(t, w)
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	byFile := map[string]hostileCase{}
	for _, c := range cases {
		name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
		must(t, os.WriteFile(filepath.Join(drop, name), c.data, 0o644))
		byFile[name] = c
	}
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
	if res.Filed != 1 || res.Refused != len(cases)-1 || res.Pushed != len(cases) {
		t.Errorf("filed %d, refused %d, receipts %d (err %v); want 1, %d, %d",
			res.Filed, res.Refused, res.Pushed, res.Err, len(cases)-1, len(cases))
	}
	rejected := map[string]audit.Record{}
	for _, r := range w.records(uk, audit.EvRejected) {
		rejected[r.File] = r
	}
	q := w.sides[uk].state("quarantine", us)
	for name, c := range byFile {
		if c.code == "" {
			if _, ok := rejected[name]; ok {
				t.Errorf("%s: the control bundle was refused: %+v", c.name, rejected[name])
			}
			continue
		}
		var rj struct{ Code, Reason, SHA256 string }
		readJSONFile(t, filepath.Join(q, name+".reason.json"), &rj)
		if rj.Code != c.code {
			t.Errorf("%s: quarantined with code %q (%s), want %q", c.name, rj.Code, rj.Reason, c.code)
		}
		if _, err := os.Stat(filepath.Join(q, name)); err != nil {
			t.Errorf("%s: not kept in quarantine: %v", c.name, err)
		}
		if r := rejected[name]; r.Code != c.code || r.Outcome != "rejected" || r.Error == "" {
			t.Errorf("%s: log record %+v, want bundle.rejected with code %q", c.name, r, c.code)
		}
	}
	if n := len(w.inbox(uk, us)); n != 1 {
		t.Errorf("inbox holds %d bundles, want the control one", n)
	}
	if left := w.drop(us, uk); len(left) != 0 {
		t.Errorf("drop still holds %v", left)
	}

	// The sender receives one receipt per file, with the code.
	w.run(us, uk)
	got := map[string]audit.Record{}
	for _, r := range w.records(us, audit.EvReceipt) {
		got[r.InReplyTo] = r
	}
	for name, c := range byFile {
		n, _ := bundle.ParseFileName(name)
		r, ok := got[n.ID]
		if c.code == "" {
			continue // the control bundle's receipt names the id in its manifest
		}
		if !ok || r.Code != c.code || r.Detail != bundle.StatusRejected {
			t.Errorf("%s: sender's receipt record %+v, want rejected with code %q", c.name, r, c.code)
		}
	}
	if len(got) != len(cases) {
		t.Errorf("sender got %d receipts, want %d", len(got), len(cases))
	}
	t.Logf("%d hostile files refused, 1 control filed", len(cases)-1)
}

// publish writes e's public key as side s's published key file, which its
// partners' configurations name.
func publish(t *testing.T, s *side, e *openpgp.Entity) {
	t.Helper()
	var buf bytes.Buffer
	aw, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	must(t, err)
	must(t, e.Serialize(aw))
	must(t, aw.Close())
	must(t, os.WriteFile(s.publicKeyPath(), buf.Bytes(), 0o644))
}

// TestPartnerKeyExpiredOrRevoked: once the partner's pinned key has
// expired or is revoked, a bundle signed after that is refused (code
// unsigned), though the signature is otherwise good; the engine still
// starts, so the other partners keep working.
func TestPartnerKeyExpiredOrRevoked(t *testing.T) {
	t.Parallel()
	cfg := &packet.Config{}
	cases := []struct {
		name string
		edit func(t *testing.T, e *openpgp.Entity)
	}{
		{"expired", func(t *testing.T, e *openpgp.Entity) {
			for _, id := range e.Identities {
				sig, err := id.LatestValidSelfCertification(time.Time{}, cfg)
				must(t, err)
				life := uint32(1)
				sig.KeyLifetimeSecs = &life
				must(t, id.ReSign(cfg))
			}
		}},
		{"revoked", func(t *testing.T, e *openpgp.Entity) {
			must(t, e.Revoke(packet.KeyCompromised, "lost laptop", cfg))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, loopbackServer(t), "", us, uk)
			ours, theirs := w.sides[us], w.sides[uk]
			usE := ours.secretEntity(t)
			key := signingKey(t, usE) // before the edit: our own copy stays valid
			c.edit(t, usE)
			publish(t, ours, usE)
			w.start(theirs)
			tarball := tarOf(t, regEntry("payload/a.txt", "a"), manifestEntry(t, manifestFor(us, uk, regEntry("payload/a.txt", "a"))))
			msg := byUsHash(t, key, crypto.SHA256, time.Now().Add(2*time.Minute), tarball, theirs.secretEntity(t))
			name := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
			must(t, os.WriteFile(filepath.Join(w.srv.root, us+"-to-"+uk, name), msg, 0o644))
			res := theirs.eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us, PullOnly: true})
			var rj struct{ Code, Reason string }
			readJSONFile(t, theirs.state("quarantine", us, name+".reason.json"), &rj)
			if res.Refused != 1 || rj.Code != "unsigned" {
				t.Fatalf("refused %d, code %q (%s); want the bundle refused as unsigned", res.Refused, rj.Code, rj.Reason)
			}
			t.Log(rj.Reason)
		})
	}
}

// TestPartnerKeyTooWeak: a partner key sealpost could never verify nor
// encrypt to (RSA-1024) is a configuration error: the engine does not
// start, and the command line exits 2 naming the key.
func TestPartnerKeyTooWeak(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	ours, theirs := w.sides[us], w.sides[uk]
	weak, err := openpgp.NewEntity("weak", "", "weak@example.org",
		&packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024, MinRSABits: 1024})
	must(t, err)
	publish(t, ours, weak)
	fp := hex.EncodeToString(weak.PrimaryKey.Fingerprint)
	yaml, err := os.ReadFile(theirs.cfgPath)
	must(t, err)
	must(t, os.WriteFile(theirs.cfgPath, []byte(strings.Replace(string(yaml), ours.fp, fp, 1)), 0o600))
	cfg, err := config.Load(theirs.cfgPath)
	must(t, err)
	_, err = exchange.New(cfg, nil)
	var ce *exchange.ConfigError
	if !errors.As(err, &ce) || !errors.Is(err, sealcrypto.ErrWeakKey) || !strings.Contains(err.Error(), fp) {
		t.Fatalf("New with an RSA-1024 partner key = %v, want a ConfigError naming %s", err, fp)
	}
	cmd := exec.Command(crashBinary(t), "--config", theirs.cfgPath, "run")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), fp) {
		t.Fatalf("sealpost run: %v\n%s\nwant exit 2 naming the key", err, out)
	}
}

// TestReplay delivers a bundle and a receipt again after they were taken:
// under the same name once the received/ copy is pruned, and under another
// name once the operator has moved the filed bundle out of the inbox. Each
// is recognised by its id: filed once, answered once, counted once.
func TestReplay(t *testing.T) {
	t.Parallel()
	w := newWorld(t, loopbackServer(t), "", us, uk)
	w.send(us, uk, "once", "", map[string]string{"a.txt": "only once"})
	w.run(us, uk)
	toUK := filepath.Join(w.srv.root, us+"-to-"+uk)
	toUS := filepath.Join(w.srv.root, uk+"-to-"+us)
	name := w.drop(us, uk)[0]
	data, err := os.ReadFile(filepath.Join(toUK, name))
	must(t, err)
	if res := w.run(uk, us); res.Filed != 1 || res.Pushed != 1 {
		t.Fatalf("first delivery: filed %d, receipts %d", res.Filed, res.Pushed)
	}
	receiptName := w.drop(uk, us)[0]
	receipt, err := os.ReadFile(filepath.Join(toUS, receiptName))
	must(t, err)
	if res := w.run(us, uk); res.Receipts != 1 {
		t.Fatalf("first receipt: %d", res.Receipts)
	}

	// The received/ copy is pruned, the same file comes again.
	theirs := w.sides[uk]
	must(t, os.Remove(theirs.state("received", us, name)))
	must(t, os.WriteFile(filepath.Join(toUK, name), data, 0o644))
	// The operator moved the filed bundle away; it comes under another name.
	ids := names(t, theirs.state("inbox", us))
	must(t, os.Rename(theirs.state("inbox", us, ids[0]), filepath.Join(t.TempDir(), "taken")))
	other := us + "_" + uk + "_request_" + bundle.NewID() + ".pgp"
	must(t, os.WriteFile(filepath.Join(toUK, other), data, 0o644))
	if res := w.run(uk, us); res.Filed != 0 || res.Pushed != 0 || res.Refused != 0 {
		t.Fatalf("replay: filed %d, receipts %d, refused %d; want nothing", res.Filed, res.Pushed, res.Refused)
	}
	if n := len(w.inbox(uk, us)); n != 0 {
		t.Fatalf("the replayed bundle was filed again (%d in the inbox)", n)
	}
	if dups := w.records(uk, "bundle.duplicate"); len(dups) != 2 {
		t.Fatalf("duplicate records %+v, want 2", dups)
	}
	if n := len(w.records(uk, audit.EvFiled)); n != 1 {
		t.Fatalf("%d bundle.filed records, want 1", n)
	}

	// The receipt comes again, under its name and under another.
	ours := w.sides[us]
	must(t, os.Remove(ours.state("received", uk, receiptName)))
	must(t, os.WriteFile(filepath.Join(toUS, receiptName), receipt, 0o644))
	must(t, os.WriteFile(filepath.Join(toUS, uk+"_"+us+"_receipt_"+bundle.NewID()+".pgp"), receipt, 0o644))
	if res := w.run(us, uk); res.Receipts != 0 || res.Refused != 0 {
		t.Fatalf("replayed receipt: counted %d, refused %d; want neither", res.Receipts, res.Refused)
	}
	if n := len(w.records(us, audit.EvReceipt)); n != 1 {
		t.Fatalf("%d receipt.received records, want 1", n)
	}
	for _, pair := range [][2]string{{us, uk}, {uk, us}} {
		if left := w.drop(pair[0], pair[1]); len(left) != 0 {
			t.Fatalf("drop %s-to-%s still holds %v", pair[0], pair[1], left)
		}
	}
}

// lyingServer starts the in-process SFTP server with options.
func lyingServer(t testing.TB, opts ...sftpd.Option) server {
	t.Helper()
	srv, err := sftpd.Start(t.TempDir(), t.TempDir(), opts...)
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	return server{name: "sftpd", addr: srv.Addr, user: "sealpost", clientKey: srv.ClientKey,
		knownHosts: srv.KnownHosts, root: srv.Root}
}

// TestHostileRemoteNamesFromALyingServer: a server that lists names no
// file system holds ("..", absurd length, control characters, a NUL, bad
// UTF-8) has each skipped and logged, nothing fetched, and the run
// succeeds. Names with a slash reach the name checks whole (the listing
// decoder does not keep only their last element, as the SFTP library
// does), so "../../etc/passwd.pgp" is skipped as hostile: never fetched,
// neither outside the pull folder nor as passwd.pgp inside it.
func TestHostileRemoteNamesFromALyingServer(t *testing.T) {
	t.Parallel()
	// ("." and ".." never get through: the SFTP client drops them.)
	hostile := []string{"a..b.pgp", `..\x.pgp`, "evil\r\n.pgp", "nul\x00.pgp", strings.Repeat("x", 300) + ".pgp",
		"\xff\xfe.pgp", "esc\x1b[2J.pgp", "rtl\u202egpj.pgp"}
	t.Run("skipped", func(t *testing.T) {
		w := newWorld(t, lyingServer(t, sftpd.WithExtraNames(hostile...)), "", us, uk)
		res := w.run(uk, us)
		if res.Filed != 0 || res.Refused != 0 || res.Pushed != 0 {
			t.Fatalf("filed %d, refused %d, pushed %d: hostile names must be skipped", res.Filed, res.Refused, res.Pushed)
		}
		skipped := map[string]string{}
		for _, r := range w.records(uk, "remote.skipped") {
			skipped[r.File] = r.Error
		}
		for _, n := range hostile {
			if skipped[string([]rune(n))] == "" { // the log stores bad UTF-8 as U+FFFD
				t.Errorf("%q not logged as skipped (logged: %q)", n, skipped)
			}
		}
		checkNothingFetched(t, w)
	})
	t.Run("slashes", func(t *testing.T) {
		srv := lyingServer(t, sftpd.WithExtraNames("../../etc/passwd.pgp", "/abs.pgp"))
		w := newWorld(t, srv, "", us, uk)
		must(t, os.WriteFile(filepath.Join(srv.root, "passwd.pgp"), []byte("outside the pull folder"), 0o644))
		must(t, os.WriteFile(filepath.Join(srv.root, "us-cbp-to-uk-hmrc", "passwd.pgp"), []byte("not a bundle"), 0o644))
		res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
		if res.Err != nil {
			t.Errorf("run error %v: a name with a slash is skipped, not asked for", res.Err)
		}
		skipped := map[string]string{}
		for _, r := range w.records(uk, "remote.skipped") {
			skipped[r.File] = r.Error
		}
		for _, n := range []string{"../../etc/passwd.pgp", "/abs.pgp"} {
			if !strings.Contains(skipped[n], "slash") {
				t.Errorf("%q not logged as skipped for its slash (logged: %q)", n, skipped)
			}
		}
		if res.Refused != 1 {
			t.Errorf("refused %d: passwd.pgp in the pull folder is taken as itself, once", res.Refused)
		}
		for _, dir := range []string{"received", "inbox"} {
			if got := names(t, w.sides[uk].state(dir, us)); len(got) != 0 {
				t.Errorf("%s/ holds %v", dir, got)
			}
		}
	})
}

func checkNothingFetched(t *testing.T, w *world) {
	t.Helper()
	for _, dir := range []string{"received", "quarantine", "inbox"} {
		if got := names(t, w.sides[uk].state(dir, us)); len(got) != 0 {
			t.Errorf("%s/ holds %v", dir, got)
		}
	}
}

// TestHostileNamesOnALocalDrop: the names TestHostileRemoteNamesFromALyingServer
// makes a server invent are, but for the NUL, the slash and the length,
// names a file system holds, so on a drop we host they are real files;
// with them a FIFO and a link to a good file in the same folder under
// final names. Each is skipped and logged, nothing is fetched, the run
// neither hangs nor fails, and the files are left as they were.
func TestHostileNamesOnALocalDrop(t *testing.T) {
	t.Parallel()
	w := newWorldOn(t, loopbackServer(t), transports(uk)[1], "", us, uk)
	drop := filepath.Join(w.srv.root, us+"-to-"+uk)
	hostile := []string{"a..b.pgp", `..\x.pgp`, "evil\r\n.pgp", "\xff\xfe.pgp", "esc\x1b[2J.pgp", "rtl\u202egpj.pgp"}
	for _, n := range hostile {
		must(t, os.WriteFile(filepath.Join(drop, n), []byte("x"), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(drop, ".target"), []byte("x"), 0o644))
	must(t, os.Symlink(".target", filepath.Join(drop, "inside.pgp")))
	must(t, syscall.Mkfifo(filepath.Join(drop, "fifo.pgp"), 0o644))
	res := w.sides[uk].eng.RunPartner(t.Context(), exchange.RunOptions{Partner: us})
	if res.Err != nil || res.Filed != 0 || res.Refused != 0 || res.Pushed != 0 {
		t.Fatalf("filed %d, refused %d, pushed %d, err %v: hostile names must be skipped", res.Filed, res.Refused, res.Pushed, res.Err)
	}
	skipped := map[string]string{}
	for _, r := range w.records(uk, "remote.skipped") {
		skipped[r.File] = r.Error
	}
	for _, n := range append(hostile, "inside.pgp", "fifo.pgp") {
		if skipped[string([]rune(n))] == "" { // the log stores bad UTF-8 as U+FFFD
			t.Errorf("%q not logged as skipped (logged: %q)", n, skipped)
		}
	}
	checkNothingFetched(t, w)
	if got := w.drop(us, uk); len(got) != len(hostile)+3 {
		t.Errorf("the drop holds %d entries after the run, want the %d left there", len(got), len(hostile)+3)
	}
}
