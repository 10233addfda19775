package config

import (
	"errors"
	"fmt"
	"net"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// The keys of each section, with their decoders.

func (w *walker) rootFields(c *Config) fields {
	return fields{
		"identity":  w.identity(&c.Identity),
		"state_dir": w.path(&c.StateDir, checkStateDir),
		"metrics":   w.section(w.metricsFields(&c.Metrics)),
		"audit":     w.section(w.auditFields(&c.Audit)),
		"partners":  w.partners(c.Partners),
	}
}

func (w *walker) identityFields(id *Identity) fields {
	return fields{
		"id":              w.partyID(&id.ID),
		"private_key":     w.path(&id.PrivateKey, CheckPrivateFile),
		"passphrase_file": w.path(&id.PassphraseFile, CheckPrivateFile),
		"passphrase_env":  w.envName(&id.PassphraseEnv),
	}
}

func (w *walker) metricsFields(m *Metrics) fields {
	return fields{"listen": w.listen(&m.Listen)}
}

func (w *walker) partnerFields(p *Partner) fields {
	return fields{
		"public_key":   w.path(&p.PublicKey, checkTrustedFile),
		"fingerprints": w.fingerprints(&p.Fingerprints),
		"sftp":         w.sftp(&p.SFTP),
		"local":        w.local(p),
		"schedule":     w.section(w.scheduleFields(&p.Schedule)),
		"pgp":          w.section(w.pgpFields(&p.PGP)),
		"limits":       w.section(w.limitsFields(&p.Limits)),
		"settle":       w.duration(&p.Settle, 0),
		"pull_settle":  w.duration(&p.PullSettle, 0),
		"run_deadline": w.duration(&p.RunDeadline, time.Second),
		"receipt_due":  w.duration(&p.ReceiptDue, time.Second),
		"receipts":     w.receipts(&p.NoReceipts),
		"response_due": w.duration(&p.ResponseDue, time.Second),
	}
}

func (w *walker) sftpFields(s *SFTP) fields {
	return fields{
		"address":           w.address(&s.Address),
		"user":              w.str(&s.User),
		"private_key":       w.path(&s.PrivateKey, CheckPrivateFile),
		"known_hosts":       w.path(&s.KnownHosts, checkTrustedFile),
		"push_dir":          w.str(&s.PushDir),
		"pull_dir":          w.str(&s.PullDir),
		"after_pull":        w.afterPull(&s.AfterPull, &s.MoveDir, "/remote/folder"),
		"timeout":           w.duration(&s.Timeout, time.Second),
		"download_deadline": w.duration(&s.DownloadDeadline, time.Second),
	}
}

// localFields decode the local section as written; dirs holds the folders
// as given, resolved against the root by local.
func (w *walker) localFields(l *Local, dirs *localDirs) fields {
	return fields{
		"root":       w.path(&l.Root, nil),
		"push_dir":   w.str(&dirs.push),
		"pull_dir":   w.str(&dirs.pull),
		"after_pull": w.afterPull(&l.AfterPull, &dirs.move, "folder"),
	}
}

func (w *walker) scheduleFields(s *Schedule) fields {
	return fields{"push": w.cronSpec(&s.Push), "pull": w.cronSpec(&s.Pull)}
}

func (w *walker) pgpFields(p *PGP) fields {
	return fields{
		"profile":     w.oneOf(&p.Profile, "auto", "rfc4880", "rfc9580"),
		"compression": w.oneOf(&p.Compression, "none", "zlib"),
		"armor":       w.boolean(&p.Armor),
	}
}

func (w *walker) limitsFields(l *Limits) fields {
	return fields{"max_bytes": w.size(&l.MaxBytes), "max_files": w.count(&l.MaxFiles),
		"max_refused": w.count(&l.MaxRefused), "quarantine_files": w.count(&l.QuarantineFiles),
		"quarantine_size": w.size(&l.QuarantineSize)}
}

// Decoders of single values.

// text returns the string in a scalar node; empty values are refused.
func text(v *yaml.Node) (string, error) {
	v = deref(v)
	switch {
	case v.Kind != yaml.ScalarNode:
		return "", fmt.Errorf("expected a string, got %s", describe(v))
	case isNull(v) || v.Value == "":
		return "", errors.New("is empty")
	}
	return v.Value, nil
}

// optionalText is text where null or "" is allowed and means "not set".
func optionalText(v *yaml.Node) (string, error) {
	if n := deref(v); n.Kind == yaml.ScalarNode && (isNull(n) || n.Value == "") {
		return "", nil
	}
	return text(v)
}

// value returns a field that reads a string with read and stores what
// parse makes of it.
func value[T any](w *walker, dst *T, read func(*yaml.Node) (string, error), parse func(string) (T, error)) field {
	return func(key string, _ int, v *yaml.Node) error {
		s, err := read(v)
		if err == nil {
			*dst, err = parse(s)
		}
		if err != nil {
			return w.wrap(deref(v).Line, key, err)
		}
		return nil
	}
}

func (w *walker) str(dst *string) field {
	return value(w, dst, text, func(s string) (string, error) { return s, nil })
}

// path reads a local path, resolves it against the config's folder and, if
// check is not nil, checks the file.
func (w *walker) path(dst *string, check func(string) error) field {
	return value(w, dst, text, func(s string) (string, error) {
		p := filepath.Clean(s)
		if !filepath.IsAbs(p) {
			p = filepath.Join(w.dir, p)
		}
		if check != nil {
			return p, check(p)
		}
		return p, nil
	})
}

func (w *walker) partyID(dst *string) field {
	return value(w, dst, text, func(s string) (string, error) {
		if !ValidPartyID(s) {
			return "", fmt.Errorf("%q is not a valid party id %s", s, partyIDRule)
		}
		return s, nil
	})
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envName reads the name of an environment variable. A bad name is not
// echoed: it may be the passphrase itself, written in the wrong place.
func (w *walker) envName(dst *string) field {
	return value(w, dst, text, func(s string) (string, error) {
		if !envNameRE.MatchString(s) {
			return "", fmt.Errorf("must be the name of an environment variable (letters, digits and _), not the passphrase")
		}
		return s, nil
	})
}

func (w *walker) duration(dst *time.Duration, least time.Duration) field {
	return value(w, dst, text, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m or 24h)", s)
		case d < least:
			return 0, fmt.Errorf("%s is too short; the least allowed is %s", s, least)
		}
		return d, nil
	})
}

func (w *walker) size(dst *int64) field {
	return value(w, dst, text, func(s string) (int64, error) {
		n, err := ParseSize(s)
		if err == nil && n == 0 {
			err = fmt.Errorf("must be more than 0")
		}
		return n, err
	})
}

func (w *walker) count(dst *int) field {
	return value(w, dst, text, func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil:
			return 0, fmt.Errorf("%q is not a whole number", s)
		case n < 1:
			return 0, fmt.Errorf("must be at least 1")
		}
		return n, nil
	})
}

func (w *walker) boolean(dst *bool) field {
	return value(w, dst, text, func(s string) (bool, error) {
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("%q is not true or false", s)
	})
}

func (w *walker) oneOf(dst *string, allowed ...string) field {
	return value(w, dst, text, func(s string) (string, error) {
		if !slices.Contains(allowed, s) {
			return "", fmt.Errorf("%q is not one of: %s", s, strings.Join(allowed, ", "))
		}
		return s, nil
	})
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// cronSpec reads a cron spec ("" = not scheduled), keeping it as written.
func (w *walker) cronSpec(dst *string) field {
	return value(w, dst, optionalText, func(s string) (string, error) {
		if s == "" {
			return "", nil
		}
		// cron v3.0.1 panics on a time zone prefix with nothing after it.
		if (strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=")) && !strings.Contains(s, " ") {
			return "", fmt.Errorf("%q is not a cron spec: a schedule must follow the time zone", s)
		}
		if _, err := cronParser.Parse(s); err != nil {
			return "", fmt.Errorf("%q is not a cron spec: %w", s, err)
		}
		return s, nil
	})
}

// listen reads an optional host:port to listen on ("" = off). The host
// must be given: an endpoint open to the network is never a default.
func (w *walker) listen(dst *string) field {
	return value(w, dst, optionalText, func(s string) (string, error) {
		if s == "" {
			return "", nil
		}
		host, port, err := net.SplitHostPort(s)
		if err != nil || !validPort(port) && port != "0" {
			return "", fmt.Errorf("%q is not host:port (e.g. 127.0.0.1:9464)", s)
		}
		if host == "" {
			return "", fmt.Errorf("%q gives no address and would listen on every interface; use 127.0.0.1:%s (or 0.0.0.0:%s to expose the endpoint on purpose)", s, port, port)
		}
		return s, nil
	})
}

// address reads host or host:port, adding port 22 when none is given.
func (w *walker) address(dst *string) field {
	return value(w, dst, text, func(s string) (string, error) {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "22"
		}
		if host == "" || !validPort(port) || strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return "", fmt.Errorf("%q is not a host:port address (e.g. sftp.partner.example:22)", s)
		}
		return net.JoinHostPort(host, port), nil
	})
}

// afterPull reads "delete" or "move:<folder>" into how and dir; example
// shows a folder in the error.
func (w *walker) afterPull(how, dir *string, example string) field {
	return func(key string, _ int, v *yaml.Node) error {
		val, err := text(v)
		if err == nil {
			d, isMove := strings.CutPrefix(val, "move:")
			switch {
			case val == "delete":
				*how, *dir = "delete", ""
			case isMove && d != "":
				*how, *dir = "move", d
			default:
				err = fmt.Errorf("%q is not \"delete\" or \"move:%s\"", val, example)
			}
		}
		if err != nil {
			return w.wrap(deref(v).Line, key, err)
		}
		return nil
	}
}

// receipts reads "expected" or "none" (the partner sends no receipts).
func (w *walker) receipts(none *bool) field {
	return func(key string, _ int, v *yaml.Node) error {
		val, err := text(v)
		if err == nil {
			switch val {
			case "expected", "none":
				*none = val == "none"
			default:
				err = fmt.Errorf("%q is not \"expected\" or \"none\"", val)
			}
		}
		if err != nil {
			return w.wrap(deref(v).Line, key, err)
		}
		return nil
	}
}

// fingerprints reads a non-empty list of fingerprints and normalises them.
func (w *walker) fingerprints(dst *[]string) field {
	return func(key string, _ int, v *yaml.Node) error {
		v = deref(v)
		if v.Kind != yaml.SequenceNode || len(v.Content) == 0 {
			return w.errf(v.Line, key, "expected a list of one or more fingerprints, got %s", describe(v))
		}
		*dst = nil
		for i, e := range v.Content {
			s, err := text(e)
			fp, ok := NormalizeFingerprint(s)
			if err == nil && !ok {
				err = fmt.Errorf("%q is not a fingerprint (40 or 64 hex digits)", s)
			}
			if err != nil {
				return w.wrap(deref(e).Line, fmt.Sprintf("%s[%d]", key, i), err)
			}
			*dst = append(*dst, fp)
		}
		return nil
	}
}

// Helpers.

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

func sameRemoteDir(a, b string) bool { return path.Clean(a) == path.Clean(b) }

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// describe names a node for an error: its value if scalar, else its kind.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "nothing"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func knownKeys(fs fields) string {
	keys := make([]string, 0, len(fs))
	for k := range fs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ", ")
}
