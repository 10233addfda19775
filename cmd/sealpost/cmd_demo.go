package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sealpost/sealpost/exchange/demo"
)

func cmdDemo(e *env, args []string) error {
	fs := e.newFlags("demo", "demo [--keep DIR]",
		"  sealpost demo\n  sealpost demo --keep /tmp/sealpost-demo   # keep the world to look around")
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
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demo.Run(ctx, dir, e.stdout)
}
