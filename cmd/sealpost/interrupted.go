package main

import (
	"context"
	"fmt"
)

// interrupted turns the error of a call that ctx stopped into one saying
// so and what was left undone (the call's own error would blame the
// files); other errors pass unchanged.
func interrupted(ctx context.Context, err error, left string) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("interrupted (%w); %s", context.Cause(ctx), left)
}
