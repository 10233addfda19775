package config

import (
	"errors"
	"strings"
	"testing"
)

// localYAML has one partner whose drop we host; {{local}} is replaced by
// each test's local section (indented six spaces).
const localYAML = `identity:
  id: us-cbp
  private_key: keys/us-cbp.secret.asc
state_dir: state
partners:
  de-zoll:
    public_key: keys/de-zoll.public.asc
    fingerprints: [AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA]
    local:
{{local}}
`

// loadLocal loads localYAML with the given local section.
func loadLocal(t *testing.T, local string) (*Config, string, error) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir)
	c, err := Load(writeConfig(t, dir, strings.Replace(localYAML, "{{local}}", local, 1)))
	return c, dir, err
}

func TestLocal(t *testing.T) {
	for _, tt := range []struct {
		name, local string
		want        Local // {{dir}} in Root is the config's folder
	}{
		{"root and relative folders", "      root: /srv/drop\n      push_dir: to-de\n      pull_dir: from-de\n      after_pull: move:from-de/done",
			Local{Root: "/srv/drop", PushDir: "to-de", PullDir: "from-de", AfterPull: "move", MoveDir: "from-de/done"}},
		{"absolute folders inside root", "      root: /srv/drop/\n      push_dir: /srv/drop/out/\n      pull_dir: /srv/drop",
			Local{Root: "/srv/drop", PushDir: "out", PullDir: ".", AfterPull: "delete"}},
		{"root found from absolute folders", "      push_dir: /srv/drop/de/in\n      pull_dir: /srv/drop/de/out\n      after_pull: move:/srv/drop/done",
			Local{Root: "/srv/drop", PushDir: "de/in", PullDir: "de/out", AfterPull: "move", MoveDir: "done"}},
		{"root relative to the configuration", "      root: drop\n      push_dir: in\n      pull_dir: out",
			Local{Root: "{{dir}}/drop", PushDir: "in", PullDir: "out", AfterPull: "delete"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := loadLocal(t, tt.local)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Root = strings.Replace(tt.want.Root, "{{dir}}", dir, 1)
			p := c.Partners["de-zoll"]
			if p.Local == nil || *p.Local != tt.want {
				t.Fatalf("local = %+v, want %+v", p.Local, tt.want)
			}
			f := p.Folders()
			if f.PushDir != tt.want.PushDir || f.PullDir != tt.want.PullDir || f.AfterPull != tt.want.AfterPull || f.MoveDir != tt.want.MoveDir {
				t.Errorf("Folders() = %+v, want the local ones", f)
			}
		})
	}
}

func TestLocalErrors(t *testing.T) {
	for _, tt := range []struct {
		name, local string
		at          string // the line the error names holds this
		key, want   string
	}{
		{"relative folder without root", "      push_dir: in\n      pull_dir: /srv/out", "push_dir: in",
			"partners.de-zoll.local.push_dir", `"in" is a relative folder but no root is set`},
		{"folder outside root", "      root: /srv/drop\n      push_dir: in\n      pull_dir: /srv/elsewhere", "pull_dir: /srv/elsewhere",
			"partners.de-zoll.local.pull_dir", "/srv/elsewhere is not inside root /srv/drop"},
		{"folder climbing out of root", "      root: /srv/drop\n      push_dir: ../in\n      pull_dir: out", "push_dir: ../in",
			"partners.de-zoll.local.push_dir", "/srv/in is not inside root /srv/drop"},
		{"no common folder", "      push_dir: /srv/in\n      pull_dir: /var/out", "    local:",
			"partners.de-zoll.local.root", "share no folder but /; set root"},
		{"same folders", "      root: /srv/drop\n      push_dir: in\n      pull_dir: /srv/drop/in/", "pull_dir: /srv",
			"partners.de-zoll.local.pull_dir", "same folder as push_dir"},
		{"move into pull_dir", "      root: /srv/drop\n      push_dir: in\n      pull_dir: out\n      after_pull: move:out", "after_pull",
			"partners.de-zoll.local.after_pull", "into pull_dir itself"},
		{"bad after_pull", "      root: /srv/drop\n      push_dir: in\n      pull_dir: out\n      after_pull: keep", "after_pull",
			"partners.de-zoll.local.after_pull", `"keep" is not "delete" or "move:folder"`},
		{"pull_dir missing", "      root: /srv/drop\n      push_dir: in", "    local:",
			"partners.de-zoll.local.pull_dir", "required key is missing"},
		{"sftp key in local", "      root: /srv/drop\n      push_dir: in\n      pull_dir: out\n      user: us", "user: us",
			"partners.de-zoll.local.user", "unknown key (known keys: after_pull, pull_dir, push_dir, root)"},
		{"both sftp and local", "      push_dir: /srv/in\n      pull_dir: /srv/out\n    sftp:\n      address: drop.example\n      user: us\n      private_key: keys/id_ed25519\n      known_hosts: keys/known_hosts\n      push_dir: in\n      pull_dir: out", "    sftp:",
			"partners.de-zoll", "sftp and local are both set; keep one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := loadLocal(t, tt.local)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load = %v, want a *config.Error", err)
			}
			text := strings.Replace(localYAML, "{{local}}", tt.local, 1)
			if line := lineOf(t, text, tt.at); e.Line != line || e.Key != tt.key {
				t.Errorf("Load: %v; want line %d, key %s", err, line, tt.key)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: %v; want it to say %q", err, tt.want)
			}
		})
	}
}

// A partner needs a way to its drop: sftp or local.
func TestNoTransport(t *testing.T) {
	text := strings.Replace(localYAML, "    local:\n{{local}}\n", "", 1)
	dir := t.TempDir()
	writeFiles(t, dir)
	_, err := Load(writeConfig(t, dir, text))
	var e *Error
	if !errors.As(err, &e) || e.Key != "partners.de-zoll.sftp" || e.Line != lineOf(t, text, "  de-zoll:") ||
		!strings.Contains(err.Error(), "required key is missing (or local, when we host the drop on this machine)") {
		t.Errorf("Load of a partner without sftp or local = %v", err)
	}
}
