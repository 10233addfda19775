package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// ErrTooOpen is wrapped by CheckPrivateFile and Identity.Passphrase when a
// secret file can be read by its group or by others.
var ErrTooOpen = errors.New("too open")

var partyID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// partyIDRule explains a party id in errors.
const partyIDRule = "(a-z, 0-9 and '-', not starting with '-', at most 32 characters)"

// ValidPartyID reports whether s matches [a-z0-9][a-z0-9-]{0,31}.
func ValidPartyID(s string) bool { return partyID.MatchString(s) }

var (
	sizeRE    = regexp.MustCompile(`^([0-9]+) *([KMGT]i?B|B)?$`)
	sizeUnits = map[string]int64{
		"": 1, "B": 1,
		"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
	}
)

// ParseSize parses a byte count: a whole number with an optional unit, B,
// KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB (powers of 1024), e.g.
// "1024", "500MB", "10GiB".
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (use e.g. 500MiB or 10GiB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := sizeUnits[m[2]]
	if err != nil || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * unit, nil
}

// CheckPrivateFile returns an error if path is not a regular file, can be
// read or written by its group or others (mode & 0o077 != 0), or it or a
// folder above it belongs to a user other than root and us (an
// *OwnerError), refusing it as OpenSSH does: "permissions 0644 for
// keys/id_ed25519 are too open".
func CheckPrivateFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fileError(path, err)
	}
	if err := checkPrivateMode(path, fi); err != nil {
		return err
	}
	return CheckOwner(path)
}

// checkPrivateMode refuses a non-regular file, one open to group or
// others, or one owned by another user.
func checkPrivateMode(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("permissions %04o for %s are %w; run chmod 600 %s", perm, path, ErrTooOpen, path)
	}
	return checkFileOwner(path, fi)
}

// checkTrustedFile returns an error if path does not name a regular file,
// if its group or others may write it (ErrWritableByOthers), or if it or a
// folder above it belongs to a user other than root and us (an
// *OwnerError): a public key or known_hosts decides whom we trust.
func checkTrustedFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fileError(path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("permissions %04o for %s are too open: the file is %w and decides whom we trust; run chmod go-w %s",
			perm, path, ErrWritableByOthers, path)
	}
	return CheckOwner(path)
}

// fileError turns a stat or open error into one sentence naming path.
func fileError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file %s does not exist: %w", path, fs.ErrNotExist)
	}
	return err
}

// maxPassphrase bounds what is read from a passphrase file.
const maxPassphrase = 4096

// Passphrase returns the passphrase for the secret key: the passphrase file's
// contents without trailing line breaks, or the environment variable's value;
// nil when neither is set. The file must not be group/world readable. Errors
// name the file or the variable, never the passphrase.
func (i Identity) Passphrase() ([]byte, error) {
	switch {
	case i.PassphraseFile != "" && i.PassphraseEnv != "":
		return nil, errors.New("identity: passphrase_file and passphrase_env are both set; keep one")
	case i.PassphraseFile != "":
		return readPassphrase(i.PassphraseFile)
	case i.PassphraseEnv != "":
		v := os.Getenv(i.PassphraseEnv)
		if v == "" {
			return nil, fmt.Errorf("identity.passphrase_env: environment variable %s is not set or empty", i.PassphraseEnv)
		}
		return []byte(v), nil
	}
	return nil, nil
}

// readPassphrase reads a passphrase file after checking its permissions on
// the open file, so the file checked is the file read.
func readPassphrase(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a FIFO must not block
	if err != nil {
		return nil, fmt.Errorf("identity.passphrase_file: %w", fileError(path, err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("identity.passphrase_file: %w", err)
	}
	if err := checkPrivateMode(path, fi); err != nil {
		return nil, fmt.Errorf("identity.passphrase_file: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPassphrase+1))
	if err != nil {
		return nil, fmt.Errorf("identity.passphrase_file: reading %s: %w", path, err)
	}
	b = bytes.TrimRight(b, "\r\n")
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("identity.passphrase_file: %s is empty", path)
	case len(b) > maxPassphrase:
		return nil, fmt.Errorf("identity.passphrase_file: %s is longer than %d bytes", path, maxPassphrase)
	}
	return b, nil
}

// NormalizeFingerprint removes spaces, lowercases, and checks for 40 or 64
// hex digits (a v4 or a v6 key's fingerprint).
func NormalizeFingerprint(s string) (string, bool) {
	fp := strings.ToLower(strings.ReplaceAll(s, " ", ""))
	if len(fp) != 40 && len(fp) != 64 {
		return "", false
	}
	for _, c := range fp {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return "", false
		}
	}
	return fp, true
}
