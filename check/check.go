// Package check runs `sealpost check`: it looks at everything an exchange
// depends on (the configuration, our key and the partners' keys, file and
// folder permissions, the SFTP login with the pinned host key, the remote
// folders, or the folders on this machine of a drop we host) and reports
// each finding as one line with a mark, and a hint for each fault. It
// changes nothing, except a probe file it writes into each push_dir under
// a hidden .part name and removes again.
package check

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/drop"
	"github.com/sealpost/sealpost/exchange/sftpdrop"
)

// Mark grades one finding.
type Mark int

const (
	Pass Mark = iota // all is well
	Warn             // works, but needs attention soon (does not fail the check)
	Fail             // an exchange would fail or be unsafe
)

// String returns the mark drawn before the line: ✓, ! or ✗.
func (m Mark) String() string {
	switch m {
	case Pass:
		return "✓"
	case Warn:
		return "!"
	}
	return "✗"
}

// Item is one finding.
type Item struct {
	Mark Mark
	Text string // what was checked and what was found, one sentence
	Hint string // how to fix it; set for Warn and Fail
}

// Report is the findings of one check, in order.
type Report struct {
	Items []Item
}

// Count returns how many items have mark m.
func (r *Report) Count(m Mark) int {
	n := 0
	for _, it := range r.Items {
		if it.Mark == m {
			n++
		}
	}
	return n
}

func (r *Report) add(m Mark, hint, format string, args ...any) {
	r.Items = append(r.Items, Item{Mark: m, Text: fmt.Sprintf(format, args...), Hint: hint})
}

func (r *Report) pass(format string, args ...any) { r.add(Pass, "", format, args...) }

// Options select what Run checks.
type Options struct {
	Partner string           // only this partner; "" means every partner
	Now     func() time.Time // nil means time.Now
}

// Load loads the configuration at path and reports the result as an item.
// cfg is nil when it does not load: nothing else can be checked then.
func Load(path string) (*config.Config, Item) {
	cfg, err := config.Load(path)
	if err != nil {
		hint := "fix the line named, then run 'sealpost check' again; config.example.yaml explains every key"
		switch {
		case errors.Is(err, config.ErrTooOpen):
			hint = "secret files must be readable by their owner only: chmod 600 the file named"
		case errors.Is(err, config.ErrWritableByOthers):
			hint = "the configuration, the partners' public keys and known_hosts decide which keys and hosts are trusted: chmod go-w the file named"
		case errors.Is(err, config.ErrNotOurs):
			hint = "what sealpost trusts, and every folder above it, must belong to root or to the user sealpost runs as: chown the path named"
		}
		return nil, Item{Mark: Fail, Text: "configuration: " + err.Error(), Hint: hint}
	}
	return cfg, Item{Mark: Pass, Text: fmt.Sprintf("configuration %s is valid (%d partner(s))", cfg.File, len(cfg.Partners))}
}

// Run checks a loaded configuration. It returns an error only when
// opt.Partner is not configured.
func Run(ctx context.Context, cfg *config.Config, opt Options) (*Report, error) {
	ids := cfg.PartnerIDs()
	if opt.Partner != "" {
		if _, err := cfg.Partner(opt.Partner); err != nil {
			return nil, err
		}
		ids = []string{opt.Partner}
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	c := &checker{cfg: cfg, now: now(), r: &Report{}}
	c.metrics()
	c.permissions(ids)
	c.ourKey()
	for _, id := range ids {
		c.partnerKeys(cfg.Partners[id])
		c.drop(ctx, cfg.Partners[id])
	}
	return c.r, nil
}

type checker struct {
	cfg *config.Config
	now time.Time
	r   *Report
}

// metrics warns about an endpoint reachable from the network.
func (c *checker) metrics() {
	l := c.cfg.Metrics.Listen
	if l == "" {
		return
	}
	host, _, _ := net.SplitHostPort(l)
	if !isLoopback(host) {
		c.r.add(Warn, "bind it to 127.0.0.1 (or ::1) unless a firewall guards the port; it has no authentication",
			"metrics endpoint %s is reachable from the network", l)
		return
	}
	c.r.pass("metrics endpoint %s is bound to loopback", l)
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// keyHint is how to replace a key of ours.
const keyHint = "make a new key with 'sealpost keys generate', send its public key and fingerprint to every partner, and point identity.private_key at it once they pinned it"

// ourKey checks that our secret key loads (with its passphrase) and when it expires.
func (c *checker) ourKey() {
	pass, err := c.cfg.Identity.Passphrase()
	if err != nil {
		c.r.add(Fail, "set identity.passphrase_file (a 0600 file) or identity.passphrase_env (the name of a variable set in the service's environment)",
			"our key: %v", err)
		return
	}
	self, err := crypto.LoadSelf(c.cfg.Identity.PrivateKey, pass)
	if err != nil {
		hint := keyHint
		if errors.Is(err, crypto.ErrPassphrase) {
			hint = "the passphrase in identity.passphrase_file or identity.passphrase_env does not open the key; check it"
		}
		c.r.add(Fail, hint, "our key: %v", err)
		return
	}
	c.expiry(fmt.Sprintf("our key %s (%s)", self.Fingerprint(), c.cfg.Identity.ID), self.Expiry(), keyHint)
}

// expiry reports one key's expiry: fail when expired or revoked, warn
// within exchange.KeyWarnBefore.
func (c *checker) expiry(what string, x crypto.KeyExpiry, hint string) {
	switch {
	case x.Revoked:
		c.r.add(Fail, hint, "%s is revoked", what)
	case x.Expires == nil:
		c.r.pass("%s is usable and never expires", what)
	case !x.Expires.After(c.now):
		c.r.add(Fail, hint, "%s expired on %s", what, x.Expires.UTC().Format(time.DateOnly))
	case x.Expires.Sub(c.now) < exchange.KeyWarnBefore:
		c.r.add(Warn, hint, "%s expires in %d days, on %s", what, int(x.Expires.Sub(c.now).Hours()/24), x.Expires.UTC().Format(time.DateOnly))
	default:
		c.r.pass("%s is usable until %s", what, x.Expires.UTC().Format(time.DateOnly))
	}
}

// partnerKeys checks that the partner's key file holds its pinned keys and
// when they expire.
func (c *checker) partnerKeys(p *config.Partner) {
	peer, err := crypto.LoadPeer(p.PublicKey, p.Fingerprints)
	if err != nil {
		c.r.add(Fail, "compare the fingerprints in the file with the one the partner gave you over a second channel; pin theirs in fingerprints, or ask them for the right key file",
			"partner %s: public_key: %v", p.ID, err)
		return
	}
	c.keyFileProblems(p)
	found := map[string]bool{}
	if f, err := os.Open(p.PublicKey); err == nil {
		infos, _ := crypto.Inspect(f)
		f.Close()
		for _, k := range infos {
			found[k.Fingerprint] = true
			for _, s := range k.Subkeys {
				found[s.Fingerprint] = true
			}
		}
	}
	for _, fp := range p.Fingerprints {
		if !found[fp] {
			c.r.add(Warn, "ask the partner for the public key with that fingerprint and add it to the public_key file, or unpin it once their rotation is over",
				"partner %s: pinned fingerprint %s is not in %s; bundles signed by it will be refused", p.ID, fp, p.PublicKey)
		}
	}
	hint := "ask the partner for their new public key, check its fingerprint with them by phone, add it to public_key and pin it beside the old one"
	for _, x := range peer.Expiries() {
		c.expiry(fmt.Sprintf("partner %s: pinned key %s", p.ID, x.Fingerprint), x, hint)
	}
}

// keyFileProblems fails for each thing in the partner's key file that is
// not pinned but would be used (crypto.CheckKeyFile): sealpost ignores it,
// but the file is not what the partner sent, or not only that.
func (c *checker) keyFileProblems(p *config.Partner) {
	probs, err := crypto.CheckKeyFile(p.PublicKey, p.Fingerprints)
	if err != nil {
		c.r.add(Fail, "check the path in the configuration", "partner %s: public_key: %v", p.ID, err)
		return
	}
	for _, pr := range probs {
		c.r.add(Fail, "ask the partner for a file holding only its own key (gpg --export --armor FINGERPRINT) and compare its fingerprint with them by phone; never pin a key they have not confirmed",
			"partner %s: public_key %s: %s", p.ID, p.PublicKey, pr)
	}
	if len(probs) == 0 {
		c.r.pass("partner %s: public_key %s holds nothing usable but its pinned keys", p.ID, p.PublicKey)
	}
}

// permissions checks that nobody but us can change what sealpost trusts
// or keeps: the configuration, the keys, known_hosts and the state folder.
func (c *checker) permissions(ids []string) {
	c.notWritableByOthers("configuration file", c.cfg.File)
	c.private("our secret key file", c.cfg.Identity.PrivateKey)
	if c.cfg.Identity.PassphraseFile != "" {
		c.private("passphrase file", c.cfg.Identity.PassphraseFile)
	}
	for _, id := range ids {
		p := c.cfg.Partners[id]
		c.notWritableByOthers("partner "+id+": public_key", p.PublicKey)
		if p.Local != nil {
			continue // no login: its folders are checked with the drop
		}
		c.private("partner "+id+": sftp.private_key", p.SFTP.PrivateKey)
		c.notWritableByOthers("partner "+id+": sftp.known_hosts", p.SFTP.KnownHosts)
	}
	c.stateDir()
}

// private fails unless path is readable and writable by its owner only.
func (c *checker) private(what, path string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		c.r.add(Fail, "check the path in the configuration", "%s %s: %v", what, path, err)
	case fi.Mode().Perm()&0o077 != 0:
		c.r.add(Fail, "run chmod 600 "+path, "%s %s has mode %04o; others may read it", what, path, fi.Mode().Perm())
	default:
		if c.notOurs(what, path) || c.otherWritableDir(what, path) {
			return
		}
		c.r.pass("%s %s is private (mode %04o)", what, path, fi.Mode().Perm())
	}
}

// notWritableByOthers fails when path, or the folder holding it, can be
// changed by its group or by others.
func (c *checker) notWritableByOthers(what, path string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		c.r.add(Fail, "check the path in the configuration", "%s %s: %v", what, path, err)
	case fi.Mode().Perm()&0o022 != 0:
		c.r.add(Fail, "run chmod go-w "+path, "%s %s has mode %04o; others may change it", what, path, fi.Mode().Perm())
	default:
		if c.notOurs(what, path) || c.otherWritableDir(what, path) {
			return
		}
		c.r.pass("%s %s is writable by its owner only", what, path)
	}
}

// otherWritableDir reports (as a failure) a folder above path, at any
// height up to /, that its group or others may write to without the
// sticky bit: they could replace the file.
func (c *checker) otherWritableDir(what, path string) bool {
	dir, mode := config.OpenFolder(path)
	if dir == "" {
		return false
	}
	c.r.add(Fail, "run chmod go-w "+dir, "%s %s is in folder %s with mode %04o; others may replace it", what, path, dir, mode)
	return true
}

// notOurs reports (as a failure) a file, or a folder above it, owned by a
// user other than root and the user sealpost runs as (config.CheckOwner).
func (c *checker) notOurs(what, path string) bool {
	var oe *config.OwnerError
	if err := config.CheckOwner(path); errors.As(err, &oe) {
		c.r.add(Fail, "run "+oe.Fix(), "%s: %v", what, err)
		return true
	}
	return false
}

// maxListed bounds the paths named in one finding.
const maxListed = 3

// stateDir checks that the state folder is ours to write and that nothing
// in it can be changed by group or others.
func (c *checker) stateDir() {
	dir := c.cfg.StateDir
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.r.add(Warn, "nothing to do if this is a new installation; otherwise check state_dir, or restore it from the backup",
			"state_dir %s does not exist yet; the first run creates it (mode 0700)", dir)
		return
	case err != nil:
		c.r.add(Fail, "check state_dir in the configuration", "state_dir %s: %v", dir, err)
		return
	case !fi.IsDir():
		c.r.add(Fail, "point state_dir at a folder", "state_dir %s is not a folder", dir)
		return
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		c.r.add(Fail, "run sealpost as the user owning "+dir+" (or chown -R that user "+dir+")",
			"state_dir %s is not writable by this user: %v", dir, err)
		return
	}
	if c.notOurs("state_dir", dir) {
		return
	}
	var open []string
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			open = append(open, p+" (unreadable)")
			n++
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err == nil && info.Mode().Perm()&0o022 != 0 {
			n++
			if len(open) < maxListed {
				open = append(open, fmt.Sprintf("%s (%04o)", p, info.Mode().Perm()))
			}
		}
		return nil
	})
	if n > 0 {
		more := ""
		if n > len(open) {
			more = fmt.Sprintf(" and %d more", n-len(open))
		}
		c.r.add(Fail, "run chmod -R go-w "+dir+" (sealpost creates everything 0700/0600)",
			"state_dir %s: %d entries can be changed by group or others: %s%s", dir, n, strings.Join(open, ", "), more)
		return
	}
	c.r.pass("state_dir %s and everything in it are writable by their owner only", dir)
}

// drop checks the partner's drop: over SFTP it logs in with the pinned
// host key and checks the remote folders; a drop we host is checked on
// disk (localDrop).
func (c *checker) drop(ctx context.Context, p *config.Partner) {
	if p.Local != nil {
		c.localDrop(ctx, p)
		return
	}
	s := p.SFTP
	d, err := sftpdrop.Dial(ctx, sftpdrop.Config{Address: s.Address, User: s.User,
		KeyFile: s.PrivateKey, KnownHosts: s.KnownHosts, Timeout: s.Timeout})
	if err != nil {
		c.r.add(Fail, dialHint(err, s), "partner %s: SFTP login to %s@%s: %v", p.ID, s.User, s.Address, err)
		return
	}
	defer d.Close()
	c.r.pass("partner %s: SFTP login to %s@%s, host key %s as pinned in %s", p.ID, s.User, s.Address, d.HostKey(), s.KnownHosts)
	c.pushDir(ctx, d, p.ID, folder{key: "push_dir", dir: s.PushDir, show: s.PushDir, who: "user " + s.User},
		"check push_dir with the partner: the folder must exist and user "+s.User+" must be allowed to create, rename and remove files in it")
	c.pullDir(ctx, d, p.ID, folder{key: "pull_dir", dir: s.PullDir, show: s.PullDir, who: "user " + s.User},
		"check pull_dir with the partner: the folder must exist and user "+s.User+" must be allowed to list, read and remove files in it")
	if s.AfterPull == "move" {
		if fi, err := d.Stat(ctx, s.MoveDir); err != nil || !fi.IsDir() {
			if err == nil {
				err = errors.New("not a folder")
			}
			c.r.add(Fail, "ask the partner to create it, or set after_pull: delete",
				"partner %s: after_pull folder %s: %v", p.ID, s.MoveDir, err)
		} else {
			c.r.pass("partner %s: after_pull folder %s exists", p.ID, s.MoveDir)
		}
	}
}

// dialHint says how to fix a failed login.
func dialHint(err error, s config.SFTP) string {
	switch {
	case errors.Is(err, sftpdrop.ErrHostKey):
		return "check the server's fingerprint with the partner by phone or another trusted channel before adding its line to " + s.KnownHosts
	case errors.Is(err, sftpdrop.ErrAuth):
		return "send the partner the public half of " + s.PrivateKey + " (ssh-keygen -y -f " + s.PrivateKey + ") and ask them to authorize it for user " + s.User
	case errors.Is(err, sftpdrop.ErrConfig):
		return "check sftp.private_key (an unencrypted OpenSSH key) and sftp.known_hosts"
	}
	return "check sftp.address and that a firewall lets this host reach it (nc -vz HOST PORT)"
}

// folder is one drop folder of a partner as a finding names it.
type folder struct {
	key  string // the configuration key: push_dir (SFTP), local.push_dir, ...
	dir  string // the path the transport takes
	show string // the path the operator knows (local: absolute on this machine)
	who  string // the account working in it: "user NAME" over SFTP
}

// probeText is what the push_dir probe holds.
const probeText = "sealpost check probe; safe to delete\n"

// pushDir writes a probe file into the push folder under a hidden .part
// name (a partner never takes it for a bundle) and removes it again. It
// finishes the write with a Commit of one byte more than it wrote: every
// transport then writes and closes the file and fails with drop.ErrSize
// before publishing anything (the conformance suite checks this), so the
// probe is written for real and never appears under its final name.
func (c *checker) pushDir(ctx context.Context, d exchange.Transport, id string, f folder, hint string) {
	var rnd [6]byte
	rand.Read(rnd[:])
	name := "sealpost-check-" + hex.EncodeToString(rnd[:]) + ".pgp"
	probe := path.Join(f.show, "."+name+".part")
	up, err := d.Create(ctx, f.dir, name)
	if err != nil {
		c.r.add(Fail, hint, "partner %s: %s %s is not writable: %v", id, f.key, f.show, err)
		return
	}
	_, err = up.Write([]byte(probeText))
	if err == nil {
		err = writeNotPublish(ctx, d, up)
	}
	if aerr := up.Abort(context.WithoutCancel(ctx)); aerr != nil {
		c.r.add(Warn, "remove "+probe+" on the drop by hand, and check that "+f.who+" may remove files there",
			"partner %s: %s %s: the probe file could not be removed: %v", id, f.key, f.show, aerr)
		return
	}
	if err != nil {
		c.r.add(Fail, hint, "partner %s: %s %s is not writable: %v", id, f.key, f.show, err)
		return
	}
	c.r.pass("partner %s: %s %s is writable (probe file written and removed)", id, f.key, f.show)
}

// writeNotPublish finishes the probe's write with a Commit that must fail
// with drop.ErrSize. A transport that published it anyway gets the file
// removed and an error.
func writeNotPublish(ctx context.Context, d exchange.Transport, up drop.Upload) error {
	err := up.Commit(ctx, int64(len(probeText))+1)
	switch {
	case errors.Is(err, drop.ErrSize):
		return nil
	case err != nil:
		return err
	}
	if rerr := d.Remove(context.WithoutCancel(ctx), up.Name()); rerr != nil {
		return fmt.Errorf("the probe was published as %s despite its wrong size, and not removed: %w", up.Name(), rerr)
	}
	return fmt.Errorf("the probe was published as %s despite its wrong size (removed again)", up.Name())
}

// pullDir lists the pull folder.
func (c *checker) pullDir(ctx context.Context, d exchange.Transport, id string, f folder, hint string) {
	entries, skipped, err := d.List(ctx, f.dir)
	if err != nil {
		c.r.add(Fail, hint, "partner %s: %s %s is not readable: %v", id, f.key, f.show, err)
		return
	}
	c.r.pass("partner %s: %s %s is readable; %d bundle(s) waiting", id, f.key, f.show, len(entries))
	if len(skipped) > 0 {
		var names []string
		for _, s := range skipped {
			names = append(names, strconv.Quote(s.Name))
		}
		slices.Sort(names)
		if len(names) > maxListed {
			names = append(names[:maxListed], "...")
		}
		c.r.add(Warn, "these entries are never fetched (hidden, unsafe names or not regular files); ask the partner about them",
			"partner %s: %s %s holds %d entries that are not bundles: %s", id, f.key, f.show, len(skipped), strings.Join(names, ", "))
	}
}
