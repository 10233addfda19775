package check

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/exchange/localdrop"
)

// Access bits for syscall.Access.
const (
	accessX   = 1
	accessRWX = 7
)

// hostingDocs points hints at the guide to the folders of a drop we host.
const hostingDocs = "docs/operations.md, \"Hosting the drop\""

// localDrop checks a drop we host on this machine (the partner's section
// has local:): its root and folders on disk — real folders, no symbolic
// link from the root down (the local transport refuses them), the modes
// the partner's account needs — then writes the same probe into push_dir
// and lists pull_dir as over SFTP, through the local transport.
func (c *checker) localDrop(ctx context.Context, p *config.Partner) {
	l := p.Local
	if !c.localRoot(p.ID, l.Root) {
		return
	}
	d, err := localdrop.Open(localdrop.Config{Root: l.Root})
	if err != nil {
		c.r.add(Fail, "check local.root in the configuration", "partner %s: local.root %s: %v", p.ID, l.Root, err)
		return
	}
	defer d.Close()
	push := c.localFolder(p.ID, l.Root, "local.push_dir", l.PushDir)
	if push.key != "" {
		c.pushDir(ctx, d, p.ID, push, "check local.push_dir: the folder must exist and sealpost's user must be allowed to create, rename and remove files in it")
	}
	pull := c.localFolder(p.ID, l.Root, "local.pull_dir", l.PullDir)
	if pull.key != "" {
		c.pullDir(ctx, d, p.ID, pull, "check local.pull_dir: the folder must exist and sealpost's user must be allowed to list, read and remove files in it")
	}
	if l.AfterPull == "move" {
		c.localFolder(p.ID, l.Root, "local.after_pull", l.MoveDir)
	}
}

// localRoot checks the drop's root folder: it must exist and be a folder
// that sealpost may enter, and only root may write to it or to a folder
// above it (they could swap the drop's folders). It warns about what
// sshd's ChrootDirectory refuses (a root not owned by root, or writable by
// its group) and about a root that is a symbolic link. It reports whether
// the drop can be opened.
func (c *checker) localRoot(id, root string) bool {
	fi, err := os.Lstat(root)
	if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := filepath.EvalSymlinks(root)
		c.r.add(Warn, "point local.root at the folder itself: whoever may change the link moves the drop",
			"partner %s: local.root %s is a symbolic link (to %s)", id, root, target)
		fi, err = os.Stat(root)
	}
	switch {
	case err != nil:
		c.r.add(Fail, "create it as "+hostingDocs+" shows, or fix local.root", "partner %s: local.root %s: %v", id, root, err)
		return false
	case !fi.IsDir():
		c.r.add(Fail, "point local.root at a folder", "partner %s: local.root %s is not a folder", id, root)
		return false
	case syscall.Access(root, accessX) != nil:
		c.r.add(Fail, "chmod 0755 "+root, "partner %s: local.root %s cannot be entered by this user", id, root)
		return false
	}
	ok := true
	if dir, mode := config.OpenFolder(root); dir != "" {
		c.r.add(Fail, "run chmod go-w "+dir, "partner %s: local.root %s is in folder %s with mode %04o; others may replace it", id, root, dir, mode)
		ok = false
	}
	perm := fi.Mode().Perm()
	switch {
	case perm&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0:
		c.r.add(Fail, "chown root:root "+root+" && chmod 0755 "+root,
			"partner %s: local.root %s has mode %s; anyone on this machine may swap the drop's folders", id, root, modeString(fi))
		return false
	case perm&0o022 != 0:
		c.r.add(Warn, "chown root:root "+root+" && chmod 0755 "+root+" ("+hostingDocs+")",
			"partner %s: local.root %s has mode %s; sshd refuses it as the partner's ChrootDirectory", id, root, modeString(fi))
		ok = false
	}
	if uid, _ := owner(fi); uid != 0 {
		c.r.add(Warn, "chown root:root "+root+" ("+hostingDocs+")",
			"partner %s: local.root %s belongs to %s; sshd refuses it as the partner's ChrootDirectory", id, root, userName(uid))
		ok = false
	}
	if ok {
		c.r.pass("partner %s: local.root %s is a folder owned by root that nobody else may write to (mode %s)", id, root, modeString(fi))
	}
	return true
}

// localFolder checks one folder of the drop (rel is relative to root, as
// the configuration keeps it): every step from the root down must be a
// folder, not a symbolic link; sealpost must be able to list, create and
// remove files in it; the partner's account shares it through its group.
// It returns the folder as the probes name it, or a folder with no key
// when it cannot be used at all.
func (c *checker) localFolder(id, root, key, rel string) folder {
	abs := filepath.Join(root, filepath.FromSlash(rel))
	fi, err := lstatDown(root, rel)
	if err != nil {
		c.r.add(Fail, "make it a real folder as "+hostingDocs+" shows (sealpost never follows a symbolic link), or fix "+key,
			"partner %s: %s %s: %v", id, key, abs, err)
		return folder{}
	}
	if err := syscall.Access(abs, accessRWX); err != nil {
		c.r.add(Fail, "add "+userName(os.Geteuid())+" to the folder's group (usermod -aG "+groupName(fi)+" "+userName(os.Geteuid())+", then restart sealpost) and chmod 2770 "+abs,
			"partner %s: %s %s is not readable and writable by this user (%s, mode %s): %v", id, key, abs, userName(os.Geteuid()), modeString(fi), err)
		return folder{}
	}
	c.folderModes(id, key, abs, fi)
	return folder{key: key, dir: rel, show: abs, who: "user " + userName(os.Geteuid())}
}

// folderModes checks a drop folder's mode against what both accounts
// need: the partner's reaches it through the folder's group (rwx, setgid
// so that new files get that group), and nobody else may write to it.
func (c *checker) folderModes(id, key, abs string, fi fs.FileInfo) {
	perm, mode := fi.Mode().Perm(), modeString(fi)
	fix := "chmod 2770 " + abs + " (" + hostingDocs + ")"
	found := false
	if perm&0o002 != 0 {
		c.r.add(Fail, fix, "partner %s: %s %s has mode %s; anyone on this machine may add, replace or delete bundles in it", id, key, abs, mode)
		return
	}
	if perm&0o070 != 0o070 {
		m := Warn
		if uid, _ := owner(fi); uid == os.Geteuid() {
			m = Fail // we own it: the partner's account has only the group
		}
		c.r.add(m, fix+"; its group "+groupName(fi)+" must hold sealpost's user and the partner's account",
			"partner %s: %s %s has mode %s; an account reaching it through its group cannot list, add and remove files", id, key, abs, mode)
		found = true
	}
	if perm&0o007 != 0 {
		c.r.add(Warn, fix, "partner %s: %s %s has mode %s; others on this machine may look into it", id, key, abs, mode)
		found = true
	}
	if fi.Mode()&fs.ModeSetgid == 0 {
		c.r.add(Warn, fix+": the setgid bit gives every new file the folder's group, so that the other account can read it",
			"partner %s: %s %s has mode %s, without the setgid bit", id, key, abs, mode)
		found = true
	}
	if !found {
		c.r.pass("partner %s: %s %s is a folder shared through group %s (mode %s)", id, key, abs, groupName(fi), mode)
	}
}

// lstatDown looks at every step of rel below root without following it,
// as the local transport does, and returns the last one's attributes: each
// must be a folder, not a symbolic link.
func lstatDown(root, rel string) (fs.FileInfo, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	p := root
	for _, part := range strings.Split(rel, "/") {
		if part == "" || part == "." {
			continue
		}
		p = filepath.Join(p, part)
		if fi, err = os.Lstat(p); err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			return nil, fmt.Errorf("%s is a symbolic link (to %s), which sealpost never follows", p, target)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s is not a folder", p)
		}
	}
	return fi, nil
}

// modeString gives a folder's mode in octal with its setgid and sticky
// bits, as chmod takes it (2770).
func modeString(fi fs.FileInfo) string {
	m := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return fmt.Sprintf("%04o", m)
}

// owner returns the user and group owning fi.
func owner(fi fs.FileInfo) (uid, gid int) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1
	}
	return int(st.Uid), int(st.Gid)
}

// userName names a user by login, else by number.
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}

// groupName names fi's group by name, else by number.
func groupName(fi fs.FileInfo) string {
	_, gid := owner(fi)
	id := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}
