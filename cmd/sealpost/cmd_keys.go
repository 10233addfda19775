package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/crypto"
	"github.com/sealpost/sealpost/internal/fsx"
)

func cmdKeys(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("keys needs a subcommand: generate or inspect")
	}
	switch args[0] {
	case "generate":
		return cmdKeysGenerate(e, args[1:])
	case "inspect":
		return cmdKeysInspect(e, args[1:])
	}
	return usagef("unknown keys subcommand %q (have: generate, inspect)", args[0])
}

func cmdKeysGenerate(e *env, args []string) error {
	fs := e.newFlags("keys generate", "keys generate --id ID --out DIR [--algo ed25519|rsa4096] [--passphrase-file FILE]",
		"  sealpost keys generate --id us-cbp --out /etc/sealpost/keys")
	id := fs.String("id", "", "our party id (required)")
	out := fs.String("out", "", "folder for the key files (required)")
	algo := fs.String("algo", "ed25519", "ed25519 (default) or rsa4096")
	passFile := fs.String("passphrase-file", "", "protect the secret key with the passphrase in this file")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *id == "" || *out == "" || len(rest) > 0 {
		return usagef("keys generate needs --id ID and --out DIR, and no other arguments")
	}
	if !config.ValidPartyID(*id) {
		return usagef("--id %q is not a party id ([a-z0-9][a-z0-9-]{0,31})", *id)
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
		if _, err := os.Stat(p); err == nil {
			return usagef("%s exists already; refusing to overwrite a key", p)
		}
	}
	secret, public, fp, err := crypto.GenerateKey(*id, crypto.KeyAlgo(*algo), pass)
	if err != nil {
		return usagef("%v", err)
	}
	if err := fsx.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	if err := fsx.WriteFile(secretPath, secret, 0o600); err != nil {
		return err
	}
	if err := fsx.WriteFile(publicPath, public, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "secret key  %s (mode 0600: keep it here, back it up offline)\n", secretPath)
	fmt.Fprintf(e.stdout, "public key  %s (send this file to each partner)\n", publicPath)
	fmt.Fprintf(e.stdout, "fingerprint %s\n\n", fp)
	fmt.Fprintf(e.stdout, "Tell the partner, by a channel other than the one carrying the file, to pin:\n")
	fmt.Fprintf(e.stdout, "    fingerprints: [\"%s\"]\n", fp)
	return nil
}

// readPassphrase reads a passphrase file, refusing one others can read.
func readPassphrase(path string) ([]byte, error) {
	if err := config.CheckPrivateFile(path); err != nil {
		return nil, usagef("%v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("read passphrase file: %v", err)
	}
	return []byte(strings.TrimRight(string(data), "\r\n")), nil
}

func cmdKeysInspect(e *env, args []string) error {
	fs := e.newFlags("keys inspect", "keys inspect FILE", "  sealpost keys inspect keys/uk-hmrc.public.asc")
	rest, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usagef("keys inspect needs exactly one FILE")
	}
	f, err := os.Open(rest[0])
	if err != nil {
		return usagef("%v", err)
	}
	defer f.Close()
	infos, err := crypto.Inspect(f)
	if err != nil {
		return usagef("%s: %v", rest[0], err)
	}
	for _, k := range infos {
		printKey(e, k)
	}
	return nil
}

func printKey(e *env, k crypto.KeyInfo) {
	kind := "public"
	if k.Secret {
		kind = "secret"
	}
	fmt.Fprintf(e.stdout, "%s key %s\n", kind, k.Fingerprint)
	fmt.Fprintf(e.stdout, "  algorithm %s %d bits, created %s, expires %s\n", k.Algorithm, k.Bits,
		k.Created.Format(time.DateOnly), expiry(k.Expires))
	for _, u := range k.UserIDs {
		fmt.Fprintf(e.stdout, "  user id   %s\n", u)
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
