package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sealpost/sealpost/demo"
)

var demoCommand = &command{
	name:     "demo",
	summary:  "a full exchange with a built-in loopback partner",
	synopsis: "demo [--keep DIR]",
	examples: "  sealpost demo\n  sealpost demo --keep /tmp/sealpost-demo   # keep the world to look around",
	run:      cmdDemo,
}

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := e.newFlags()
	keep := fs.String("keep", "", "build the world in DIR and keep it (default: a temporary folder, removed)")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	dir := *keep
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "sealpost-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := keepDir(dir); err != nil {
		return err
	}
	return demo.Run(ctx, dir, e.stdout)
}

// keepDir makes the folder --keep names: a new folder 0700, or an existing
// empty one that we own and nobody else may write to. The demo writes keys
// and configurations there under fixed names: in a folder others could
// write to, they could plant links at those names first.
func keepDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	err := os.Mkdir(dir, 0o700)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return usagef("--keep %s must be a new folder, or an empty folder of yours that others cannot write to", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return usagef("--keep %s: %v", dir, err)
	}
	if len(ents) > 0 {
		return usagef("--keep %s is not empty; give a new or empty folder", dir)
	}
	return nil
}
