package fsx

import "syscall"

// startWriteback asks the kernel to start writing [off, off+n) of fd to
// disk without waiting (sync_file_range SYNC_FILE_RANGE_WRITE), so that
// the fsync at Commit finds little left to write. Errors are ignored: the
// fsync still decides.
func startWriteback(fd uintptr, off, n int64) {
	const syncFileRangeWrite = 2
	syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, uintptr(off), uintptr(n), syncFileRangeWrite, 0, 0)
}
