package check_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sealpost/sealpost/check"
	"github.com/sealpost/sealpost/internal/testworld"
)

// localSetup is newSetup with uk-hmrc's drop hosted on this machine, as
// "Hosting the drop" in docs/operations.md lays it out: a root folder
// 0755 holding to-uk-hmrc and from-uk-hmrc, 2770 each.
type localSetup struct {
	*setup
	root string
}

func newLocalSetup(t *testing.T) *localSetup {
	t.Helper()
	s := &localSetup{setup: newSetup(t), root: filepath.Join(t.TempDir(), "drop")}
	must(t, os.MkdirAll(filepath.Join(s.dir, "state", "inbox"), 0o700))
	must(t, os.Mkdir(s.root, 0o755))
	must(t, os.Chmod(s.root, 0o755))
	for _, d := range []string{"to-uk-hmrc", "from-uk-hmrc"} {
		s.folder(d)
	}
	s.editPartner(func(p *testworld.Partner) {
		p.LocalRoot, p.PushDir, p.PullDir = s.root, "to-uk-hmrc", "from-uk-hmrc"
	})
	return s
}

// folder makes the folder rel below the drop's root, mode 2770.
func (s *localSetup) folder(rel string) string {
	p := filepath.Join(s.root, rel)
	must(s.t, os.MkdirAll(p, 0o700))
	must(s.t, os.Chmod(p, 0o770|os.ModeSetgid))
	return p
}

// TestLocalAllPass: a partner whose drop we host passes on a well-formed
// folder: no SFTP key or login is looked at, the folders are checked on
// disk and through the local transport, and the probe leaves nothing.
func TestLocalAllPass(t *testing.T) {
	s := newLocalSetup(t)
	r := s.check()
	if r.Count(check.Fail) != 0 {
		t.Fatalf("a good local setup fails:\n%s", dump(r))
	}
	if os.Geteuid() == 0 && r.Count(check.Warn) != 0 { // else the root folder is not root's
		t.Fatalf("a good local setup warns:\n%s", dump(r))
	}
	push, pull := filepath.Join(s.root, "to-uk-hmrc"), filepath.Join(s.root, "from-uk-hmrc")
	for _, parts := range [][]string{
		{"partner uk-hmrc: local.push_dir " + push + " is a folder shared through group", "(mode 2770)"},
		{"partner uk-hmrc: local.pull_dir " + pull + " is a folder shared through group", "(mode 2770)"},
		{"partner uk-hmrc: local.push_dir " + push + " is writable (probe file written and removed)"},
		{"partner uk-hmrc: local.pull_dir " + pull + " is readable; 0 bundle(s) waiting"},
		{"state_dir", "owner only"},
	} {
		want(t, r, check.Pass, parts...)
	}
	for _, it := range r.Items {
		if strings.Contains(it.Text, "sftp") || strings.Contains(it.Text, "SFTP") {
			t.Fatalf("SFTP checked for a local partner: %s", it.Text)
		}
	}
	if ents, _ := os.ReadDir(push); len(ents) != 0 {
		t.Fatalf("push_dir holds %v after the check", ents)
	}
}

// TestLocalFolders: each broken drop folder fails, naming the partner,
// the configuration key and the path.
func TestLocalFolders(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		s := newLocalSetup(t)
		push := filepath.Join(s.root, "to-uk-hmrc")
		must(t, os.Remove(push))
		want(t, s.check(), check.Fail, "partner uk-hmrc: local.push_dir "+push, "no such file")
	})
	t.Run("symbolic link", func(t *testing.T) {
		s := newLocalSetup(t)
		pull := filepath.Join(s.root, "from-uk-hmrc")
		must(t, os.Remove(pull))
		must(t, os.Symlink(s.folder("elsewhere"), pull))
		r := s.check()
		want(t, r, check.Fail, "partner uk-hmrc: local.pull_dir "+pull, "is a symbolic link")
		wantNone(t, r, "local.pull_dir "+pull+" is readable")
	})
	t.Run("symbolic link on the way", func(t *testing.T) {
		s := newLocalSetup(t)
		s.folder("real/to")
		must(t, os.Symlink(filepath.Join(s.root, "real"), filepath.Join(s.root, "via")))
		s.editPartner(func(p *testworld.Partner) { p.PushDir = "via/to" })
		want(t, s.check(), check.Fail, "partner uk-hmrc: local.push_dir "+filepath.Join(s.root, "via", "to"),
			filepath.Join(s.root, "via")+" is a symbolic link")
	})
	t.Run("world-writable", func(t *testing.T) {
		s := newLocalSetup(t)
		push := filepath.Join(s.root, "to-uk-hmrc")
		must(t, os.Chmod(push, 0o777|os.ModeSetgid))
		want(t, s.check(), check.Fail, "partner uk-hmrc: local.push_dir "+push, "mode 2777", "anyone on this machine")
	})
	t.Run("not shared with the group", func(t *testing.T) {
		s := newLocalSetup(t)
		pull := filepath.Join(s.root, "from-uk-hmrc")
		must(t, os.Chmod(pull, 0o750|os.ModeSetgid))
		want(t, s.check(), check.Fail, "partner uk-hmrc: local.pull_dir "+pull, "mode 2750", "through its group")
	})
	t.Run("no setgid, others may look", func(t *testing.T) {
		s := newLocalSetup(t)
		push := filepath.Join(s.root, "to-uk-hmrc")
		must(t, os.Chmod(push, 0o775))
		r := s.check()
		want(t, r, check.Warn, "partner uk-hmrc: local.push_dir "+push, "mode 0775", "without the setgid bit")
		want(t, r, check.Warn, "partner uk-hmrc: local.push_dir "+push, "mode 0775", "others on this machine")
		if r.Count(check.Fail) != 0 {
			t.Fatalf("a folder that works fails:\n%s", dump(r))
		}
	})
	t.Run("after_pull folder missing", func(t *testing.T) {
		s := newLocalSetup(t)
		s.editPartner(func(p *testworld.Partner) { p.LocalExtra = "after_pull: move:done" })
		want(t, s.check(), check.Fail, "partner uk-hmrc: local.after_pull "+filepath.Join(s.root, "done"), "no such file")
	})
	t.Run("root missing", func(t *testing.T) {
		s := newLocalSetup(t)
		must(t, os.RemoveAll(s.root))
		r := s.check()
		want(t, r, check.Fail, "partner uk-hmrc: local.root "+s.root, "no such file")
		if r.Count(check.Fail) != 1 {
			t.Fatalf("folders checked without a root:\n%s", dump(r))
		}
	})
	t.Run("root writable by all", func(t *testing.T) {
		s := newLocalSetup(t)
		must(t, os.Chmod(s.root, 0o777))
		want(t, s.check(), check.Fail, "partner uk-hmrc: local.root "+s.root, "mode 0777")
	})
	t.Run("not writable by us", func(t *testing.T) {
		s := newLocalSetup(t)
		push := filepath.Join(s.root, "to-uk-hmrc")
		if os.Geteuid() != 0 {
			must(t, os.Chmod(push, 0o550|os.ModeSetgid))
			want(t, s.check(), check.Fail, "partner uk-hmrc: local.push_dir "+push, "is not readable and writable by this user")
			return
		}
		// root may write anywhere: check as nobody, who is not in the folder's group.
		out := s.checkAsNobody()
		line := "✗ partner uk-hmrc: local.push_dir " + push + " is not readable and writable by this user (nobody, mode 2770)"
		if !strings.Contains(out, line) {
			t.Fatalf("no line %q in:\n%s", line, out)
		}
	})
}

// wantNone fails if an item's text holds text.
func wantNone(t *testing.T, r *check.Report, text string) {
	t.Helper()
	for _, it := range r.Items {
		if strings.Contains(it.Text, text) {
			t.Fatalf("unexpected item %q in:\n%s", it.Text, dump(r))
		}
	}
}

// asNobodyEnv names the configuration the test binary checks, as nobody,
// when it is started by checkAsNobody.
const asNobodyEnv = "SEALPOST_CHECK_TEST_AS_NOBODY"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(asNobodyEnv); cfg != "" {
		os.Exit(runCheck(cfg))
	}
	os.Exit(m.Run())
}

// runCheck loads and checks cfg and prints the report.
func runCheck(cfg string) int {
	c, item := check.Load(cfg)
	if c == nil {
		fmt.Println(item.Mark, item.Text)
		return 2
	}
	r, err := check.Run(context.Background(), c, check.Options{})
	if err != nil {
		fmt.Println(err)
		return 2
	}
	fmt.Print(dump(r))
	return 0
}

// checkAsNobody runs the check in a copy of the test binary as the user
// nobody (the caller is root), who then owns our side of the setup, and
// returns its report.
func (s *localSetup) checkAsNobody() string {
	t := s.t
	t.Helper()
	bin := filepath.Join(t.TempDir(), "check.test")
	self, err := os.Executable()
	must(t, err)
	copyFile(t, self, bin)
	for _, p := range []string{filepath.Dir(bin), s.dir, s.root} {
		for q := filepath.Dir(p); q != "/" && q != os.TempDir(); q = filepath.Dir(q) {
			must(t, os.Chmod(q, 0o711)) // t.TempDir's folders: nobody may pass
		}
	}
	must(t, os.Chmod(filepath.Dir(bin), 0o711))
	must(t, filepath.Walk(s.dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, stranger, stranger)
	}))
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), asNobodyEnv+"="+s.cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: stranger, Gid: stranger}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("check as nobody: %v\n%s", err, out)
	}
	return string(out)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}
