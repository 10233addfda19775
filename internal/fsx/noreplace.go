package fsx

import (
	"fmt"
	"os"
	"path/filepath"
)

// RenameNoReplace moves oldpath to newpath only if newpath does not exist
// (the error then wraps fs.ErrExist), and fsyncs the folders of both. It
// links, then removes oldpath, so the check and the move are one step: an
// existing file is never replaced.
func RenameNoReplace(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	if err := os.Remove(oldpath); err != nil {
		return fmt.Errorf("remove %s after linking it as %s: %w", oldpath, newpath, err)
	}
	if err := SyncDir(filepath.Dir(newpath)); err != nil {
		return err
	}
	if od := filepath.Dir(oldpath); od != filepath.Dir(newpath) {
		return SyncDir(od)
	}
	return nil
}
