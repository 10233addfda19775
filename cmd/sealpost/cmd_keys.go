package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/exchange"
	"github.com/sealpost/sealpost/exchange/audit"
	"github.com/sealpost/sealpost/internal/fsx"
)

var keysCommand = &command{
	name:     "keys",
	summary:  "generate or inspect OpenPGP keys",
	synopsis: "keys generate|inspect [FLAGS] ARGS",
	examples: "  sealpost keys generate --id us-cbp -o /etc/sealpost/keys --expires-in 2y\n" +
		"  sealpost keys inspect /etc/sealpost/keys/uk-hmrc.public.asc",
	subs: []*command{keysGenerateCommand, keysInspectCommand},
}

var keysGenerateCommand = &command{
	name:     "keys generate",
	summary:  "make our OpenPGP key pair",
	synopsis: "keys generate --id ID -o DIR [--algo ed25519|rsa4096] [--expires-in D] [--passphrase-file FILE]",
	examples: "  sealpost keys generate --id us-cbp -o /etc/sealpost/keys\n" +
		"  sealpost keys generate --id us-cbp -o keys --expires-in 2y --passphrase-file secrets/pgp-passphrase\n" +
		"It writes ID.secret.asc (0600) and ID.public.asc, and prints the fingerprint the\n" +
		"partner must pin. Keep the secret key and a backup of it offline; never send it.\n" +
		"--out DIR, a deprecated spelling of -o/--output, still works.",
	run: cmdKeysGenerate,
}

func cmdKeysGenerate(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	id := fs.String("id", "", "our party id (required)")
	out := fs.output("`DIR` for the key files (required)")
	fs.deprecated("out", "output")
	algo := fs.String("algo", "ed25519", "ed25519 (default) or rsa4096")
	passFile := fs.String("passphrase-file", "", "protect the secret key with the passphrase in this file (then set identity.passphrase_file)")
	expiresIn := fs.String("expires-in", "", "the key expires after this long: e.g. 2y, 365d, 8760h (default: never)")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *id == "" || *out == "" || len(rest) > 0 {
		return usagef("keys generate needs --id ID and -o DIR, and no other arguments")
	}
	if !config.ValidPartyID(*id) {
		return usagef("--id %q is not a party id ([a-z0-9][a-z0-9-]{0,31})", *id)
	}
	lifetime, err := parseLifetime(*expiresIn)
	if err != nil {
		return err
	}
	var pass []byte
	if *passFile != "" {
		if pass, err = readPassphrase(*passFile); err != nil {
			return err
		}
	}
	secretPath := filepath.Join(*out, *id+".secret.asc")
	publicPath := filepath.Join(*out, *id+".public.asc")
	for _, p := range []string{secretPath, publicPath} {
		if _, err := os.Lstat(p); err == nil {
			return usagef("%s exists already; refusing to overwrite a key", p)
		}
	}
	secret, public, fp, err := crypto.GenerateKeyWith(*id, crypto.KeyOptions{Algo: crypto.KeyAlgo(*algo), Passphrase: pass, Lifetime: lifetime})
	if err != nil {
		return usagef("%v", err)
	}
	if err := checkKeysFolder(*out); err != nil {
		return err
	}
	if err := fsx.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if err := checkKeysFolder(*out); err != nil {
		return err
	}
	if err := fsx.WriteFileNew(secretPath, secret, 0o600); err != nil {
		return err
	}
	if err := fsx.WriteFileNew(publicPath, public, 0o644); err != nil {
		return err
	}
	expires := "never"
	if lifetime > 0 {
		expires = time.Now().Add(lifetime).UTC().Format(time.DateOnly) + " (rotate it before then: see docs/operations.md)"
	}
	fmt.Fprintf(e.stdout, "secret key  %s (mode 0600: keep it here, back it up offline)\n", secretPath)
	fmt.Fprintf(e.stdout, "public key  %s (send this file to each partner)\n", publicPath)
	fmt.Fprintf(e.stdout, "fingerprint %s\n", fp)
	fmt.Fprintf(e.stdout, "read aloud  %s\n", groups(fp))
	fmt.Fprintf(e.stdout, "expires     %s\n\n", expires)
	fmt.Fprintf(e.stdout, "1. Send %s to the partner. Then tell them, by a channel other than\n", filepath.Base(publicPath))
	fmt.Fprintf(e.stdout, "   the one carrying the file (read it out on the phone), to pin under partners.%s:\n", *id)
	fmt.Fprintf(e.stdout, "       fingerprints: [\"%s\"]\n", fp)
	fmt.Fprintf(e.stdout, "2. In our own configuration:\n")
	fmt.Fprintf(e.stdout, "       identity:\n         id: %s\n         private_key: %s\n", *id, secretPath)
	if *passFile != "" {
		fmt.Fprintf(e.stdout, "         passphrase_file: %s\n", *passFile)
	}
	return nil
}

// groups splits a fingerprint into blocks of four, as people read it aloud.
func groups(fp string) string {
	var parts []string
	for i := 0; i < len(fp); i += 4 {
		parts = append(parts, strings.ToUpper(fp[i:min(i+4, len(fp))]))
	}
	return strings.Join(parts, " ")
}

// parseLifetime reads --expires-in: a Go duration, or a whole number of
// days (d) or years (y, 365 days). "" means never.
func parseLifetime(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	day := 24 * time.Hour
	for suffix, unit := range map[string]time.Duration{"d": day, "y": 365 * day} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 1 {
				return 0, usagef("--expires-in %q: want e.g. 2y, 365d or 8760h", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < day {
		return 0, usagef("--expires-in %q: want e.g. 2y, 365d or 8760h (at least a day)", s)
	}
	return d, nil
}

// checkKeysFolder refuses, before and after it is made, an --output folder that
// another user controls: one that belongs, or sits below a folder that
// belongs, to a user other than root and us, or that group or others may
// write to, or sits below a folder they may write to, without the sticky
// bit. They could take our new secret key file away and put theirs, or swap
// the public key we are about to send.
func checkKeysFolder(dir string) error {
	if err := config.CheckOwner(dir); err != nil {
		return usagef("--output: %v", err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return usagef("--output: folder %s has mode %04o: others may replace the key files in it; run chmod go-w %s", dir, fi.Mode().Perm(), dir)
	}
	if open, mode := config.OpenFolder(dir); open != "" {
		return usagef("--output: folder %s is below folder %s, which others may write to (mode %04o, no sticky bit) and rename it in; run chmod go-w %s",
			dir, open, mode, open)
	}
	return nil
}

// readPassphrase reads a passphrase file as the configuration's
// passphrase_file is read: judged on the open file (regular, 0600, owned by
// root or us), in folders owned by root or us.
func readPassphrase(path string) ([]byte, error) {
	if err := config.CheckOwner(path); err != nil {
		return nil, usagef("--passphrase-file: %v", err)
	}
	pass, err := config.Identity{PassphraseFile: path}.Passphrase()
	if err != nil {
		return nil, usagef("--passphrase-file: %v", strings.TrimPrefix(err.Error(), "identity.passphrase_file: "))
	}
	return pass, nil
}

var keysInspectCommand = &command{
	name:     "keys inspect",
	summary:  "fingerprints, algorithms, expiry of the keys in FILE",
	synopsis: "keys inspect [--pin FINGERPRINT]... FILE",
	examples: "  sealpost keys inspect keys/uk-hmrc.public.asc   # check the fingerprint with the partner before pinning it\n" +
		"  sealpost keys inspect --pin 0123...cdef keys/uk-hmrc.public.asc\n" +
		"  sealpost keys inspect /etc/sealpost/keys/us-cbp.secret.asc\n" +
		"It fails when FILE holds a key twice (a key bound as a subkey by someone\n" +
		"else's key), or, against the pins (--pin, else those of the partner whose\n" +
		"public_key FILE is in the configuration), a key not pinned that could\n" +
		"encrypt or sign, or a pinned subkey that is not a back-signed signing subkey.",
	run: cmdKeysInspect,
}

func cmdKeysInspect(_ context.Context, e *env, args []string) error {
	fs := e.newFlags()
	var pins []string
	fs.Func("pin", "a pinned fingerprint to check FILE against (repeat for several)", func(s string) error {
		fp, ok := config.NormalizeFingerprint(s)
		if !ok {
			return fmt.Errorf("%q is not a fingerprint (40 or 64 hex digits)", s)
		}
		pins = append(pins, fp)
		return nil
	})
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("keys inspect needs exactly one FILE")
	}
	path := rest[0]
	f, err := os.Open(path)
	if err != nil {
		return usagef("%v", err)
	}
	defer f.Close()
	infos, err := crypto.Inspect(f)
	if err != nil {
		return usagef("%s: %v", path, err)
	}
	for _, k := range infos {
		printKey(e, k)
	}
	if len(pins) == 0 {
		pins = e.configuredPins(path)
	}
	if problems := keyFileProblems(path, pins); len(problems) > 0 {
		return reportKeyFileProblems(e, path, problems)
	}
	if len(infos) > 0 && !infos[0].Secret {
		var fps []string
		for _, k := range infos {
			fps = append(fps, `"`+k.Fingerprint+`"`)
		}
		fmt.Fprintf(e.stdout, "\nTo trust it for a partner, once its owner has confirmed the fingerprint:\n    fingerprints: [%s]\n", strings.Join(fps, ", "))
	}
	return nil
}

// configuredPins returns the fingerprints pinned for the partner whose
// public_key is path, when a configuration loads and names it.
func (e *env) configuredPins(path string) []string {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	for _, id := range cfg.PartnerIDs() {
		p := cfg.Partners[id]
		if pi, err := os.Stat(p.PublicKey); err == nil && os.SameFile(fi, pi) {
			fmt.Fprintf(e.stdout, "\nChecked against the fingerprints pinned for partner %s in %s.\n", id, cfg.File)
			return p.Fingerprints
		}
	}
	return nil
}

// keyFileProblems lists what is wrong with the key file at path against
// pins (crypto.CheckKeyFile), and LoadPeer's refusal when pins are given.
func keyFileProblems(path string, pins []string) []string {
	var out []string
	probs, err := crypto.CheckKeyFile(path, pins)
	if err != nil {
		return []string{err.Error()}
	}
	for _, p := range probs {
		out = append(out, p.String())
	}
	if len(pins) > 0 {
		if _, err := crypto.LoadPeer(path, pins); err != nil {
			out = append(out, err.Error())
		}
	}
	return out
}

// maxProblemsInError bounds the problems the error of keys inspect quotes
// (stdout lists them all).
const maxProblemsInError = 3

// reportKeyFileProblems prints every problem and returns the error.
func reportKeyFileProblems(e *env, path string, problems []string) error {
	fmt.Fprintln(e.stdout)
	for _, p := range problems {
		fmt.Fprintf(e.stdout, "PROBLEM   %s\n", p)
	}
	fmt.Fprintln(e.stdout, "Do not pin keys from this file: ask the partner for a file holding only its own key (gpg --export --armor FINGERPRINT).")
	quoted := problems[:min(len(problems), maxProblemsInError)]
	more := ""
	if len(problems) > len(quoted) {
		more = fmt.Sprintf("; and %d more", len(problems)-len(quoted))
	}
	return &failedError{fmt.Sprintf("key file %s is not safe to trust: %s%s", path, strings.Join(quoted, "; "), more)}
}

func printKey(e *env, k crypto.KeyInfo) {
	kind := "public"
	if k.Secret {
		kind = "secret"
	}
	fmt.Fprintf(e.stdout, "%s key %s\n", kind, k.Fingerprint)
	fmt.Fprintf(e.stdout, "  read aloud %s\n", groups(k.Fingerprint))
	fmt.Fprintf(e.stdout, "  algorithm %s %d bits, created %s, expires %s\n", k.Algorithm, k.Bits,
		k.Created.Format(time.DateOnly), expiry(k.Expires))
	if until := k.UsableUntil(); until != nil {
		left := time.Until(*until)
		switch {
		case left <= 0:
			fmt.Fprintf(e.stdout, "  EXPIRED: usable until %s\n", until.Format(time.DateOnly))
		case left < exchange.KeyWarnBefore:
			fmt.Fprintf(e.stdout, "  EXPIRES SOON: usable until %s (%d days)\n", until.Format(time.DateOnly), int(left.Hours()/24))
		default:
			fmt.Fprintf(e.stdout, "  usable until %s\n", until.Format(time.DateOnly))
		}
	}
	for _, u := range k.UserIDs {
		fmt.Fprintf(e.stdout, "  user id   %s\n", audit.Escape(u))
	}
	if k.Revoked {
		fmt.Fprintln(e.stdout, "  REVOKED")
	}
	fmt.Fprintf(e.stdout, "  SEIPDv2 (RFC 9580 AEAD): %v\n", k.SEIPDv2)
	for _, s := range k.Subkeys {
		use := []string{}
		if s.Sign {
			use = append(use, "sign")
		}
		if s.Encrypt {
			use = append(use, "encrypt")
		}
		fmt.Fprintf(e.stdout, "  subkey    %s %s %d bits [%s], expires %s\n", s.Fingerprint, s.Algorithm, s.Bits,
			strings.Join(use, ","), expiry(s.Expires))
	}
}

func expiry(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Format(time.DateOnly)
}
