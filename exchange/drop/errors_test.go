package drop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"testing"
)

func TestIsPermanent(t *testing.T) {
	refused := Permanent(errors.New("login refused"))
	closed := Transient(errors.New("connection already closed"))
	for err, want := range map[error]bool{
		nil:                             false,
		ErrSize:                         false,
		io.ErrUnexpectedEOF:             false,
		ErrName:                         true,
		fmt.Errorf("x: %w", ErrChanged): true,
		ErrDeadline:                     true,
		fs.ErrNotExist:                  true,
		fs.ErrPermission:                true,
		context.Canceled:                true,
		context.DeadlineExceeded:        true,
		refused:                         true,
		fmt.Errorf("dial: %w", refused): true,
		Permanent(io.EOF):               true,
		closed:                          false,
		fmt.Errorf("%w: %w", closed, ErrDeadline): false,
		Permanent(Transient(ErrDeadline)):         true,
		Answered(ErrSize):                         false,
		Answered(fs.ErrPermission):                true,
	} {
		if got := IsPermanent(err); got != want {
			t.Errorf("IsPermanent(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestMarksKeepTheText(t *testing.T) {
	err := errors.New("sftp rename a on b: failure")
	for _, marked := range []error{Permanent(err), Transient(err), Answered(err)} {
		if marked.Error() != err.Error() || !errors.Is(marked, err) {
			t.Errorf("marked %q: text %q, errors.Is %v", err, marked, errors.Is(marked, err))
		}
	}
}

func TestIsAnswered(t *testing.T) {
	if IsAnswered(io.EOF) || IsAnswered(nil) || IsAnswered(Permanent(io.EOF)) {
		t.Error("an unmarked error counts as answered")
	}
	if !IsAnswered(fmt.Errorf("rename: %w", Answered(io.EOF))) || !IsAnswered(Permanent(Answered(io.EOF))) {
		t.Error("an error marked with Answered does not count as answered")
	}
}
